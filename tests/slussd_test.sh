#!/usr/bin/env bash
# slussd as an operator runs it: config checks, start, lock, signals, state.
# Usage: slussd_test.sh SLUSSD_BINARY
set -uo pipefail
SLUSSD=$1
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"  # slussd_port
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

wait_for() {  # file, pattern
  for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# --check-config names the bad key and its position, exits non-zero.
cat >"$tmp/bad.yaml" <<'YAML'
state_dir: /tmp/x
runtime: {name: dockerd}
node: {memroy: 4G}
YAML
"$SLUSSD" --check-config "$tmp/bad.yaml" 2>"$tmp/err"
expect_rc "bad config" 1 $?
grep -qx "$tmp/bad.yaml:2:17: runtime.name: 'dockerd' is not one of runc, crun" "$tmp/err" || fail "runtime.name message: $(cat "$tmp/err")"
grep -qx "$tmp/bad.yaml:3:8: node: unknown key 'memroy' (did you mean 'memory'?)" "$tmp/err" && ok || fail "node.memroy message"
printf 'listen: 127.0.0.1:70000\n' >"$tmp/bad2.yaml"
"$SLUSSD" --check-config "$tmp/bad2.yaml" 2>"$tmp/err"
expect_rc "bad listen" 1 $?
grep -qx "$tmp/bad2.yaml:1:9: listen: '127.0.0.1:70000' is not HOST:PORT (e.g. 127.0.0.1:8470)" "$tmp/err" && ok || fail "listen message: $(cat "$tmp/err")"
"$SLUSSD" --check-config "$tmp/missing.yaml" 2>/dev/null
expect_rc "missing config" 1 $?
"$SLUSSD" --bogus 2>/dev/null
expect_rc "unknown flag" 2 $?

# A good config: starts, holds the state dir, stops cleanly on SIGTERM.
cat >"$tmp/good.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port, named in the ready line
YAML
"$SLUSSD" --check-config "$tmp/good.yaml" >/dev/null
expect_rc "good config" 0 $?
"$SLUSSD" --config "$tmp/good.yaml" 2>"$tmp/log1" &
pid=$!; pids+=("$pid")
wait_for "$tmp/log1" "ready" && ok || fail "no ready line: $(cat "$tmp/log1")"
# Port 0: the kernel's choice, named in the ready line and in repos/hook.env,
# where the hosted repositories' hooks read it.
grep -q " ready listen=http://127.0.0.1:[1-9][0-9]* " "$tmp/log1" && ok || fail "ready line: $(cat "$tmp/log1")"
port=$(slussd_port "$tmp/log1")
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && ok || fail "not serving on port $port"
grep -qx "SLUSS_API='http://127.0.0.1:$port'" "$tmp/state/repos/hook.env" && ok || fail "hook.env: $(cat "$tmp/state/repos/hook.env")"
"$SLUSSD" --config "$tmp/good.yaml" 2>"$tmp/log2"
expect_rc "second daemon on the same state_dir" 1 $?
grep -q "another slussd (pid $pid) is using" "$tmp/log2" && ok || fail "lock message: $(cat "$tmp/log2")"
[[ $(stat -c %a "$tmp/state") == 700 ]] && ok || fail "state_dir mode $(stat -c %a "$tmp/state")"
[[ $(stat -c %a "$tmp/state/sluss.db") == 600 ]] && ok || fail "database mode"
kill -TERM "$pid"; wait "$pid"
expect_rc "SIGTERM exit" 0 $?
grep -q "stopped cleanly" "$tmp/log1" && ok || fail "no clean stop line"
# A state_dir on the file system of its parent: its path would show in
# jobs' /proc/self/mountinfo, and slussd says so at start; on a file
# system of its own, it does not.
grep -q "WARN.*state_dir $tmp/state is not a file system of its own: jobs can read its path in /proc/self/mountinfo" "$tmp/log1" &&
  ok || fail "no warning for a shared state_dir: $(cat "$tmp/log1")"
if [[ $(id -u) == 0 ]]; then
  mkdir -p "$tmp/ownfs" && mount -t tmpfs -o size=64m tmpfs "$tmp/ownfs" || fail "mount tmpfs"
  sed "s|$tmp/state|$tmp/ownfs|" "$tmp/good.yaml" >"$tmp/own.yaml"
  "$SLUSSD" --config "$tmp/own.yaml" 2>"$tmp/log-own" &
  pid=$!; pids+=("$pid")
  wait_for "$tmp/log-own" "ready" && ok || fail "no ready on its own file system: $(cat "$tmp/log-own")"
  grep -q "not a file system of its own" "$tmp/log-own" && fail "warned for a state_dir of its own" || ok
  kill -TERM "$pid"; wait "$pid"
  umount "$tmp/ownfs"
fi

# SIGKILL: the kernel drops the lock; a restart opens the same database.
"$SLUSSD" --config "$tmp/good.yaml" 2>"$tmp/log3" &
pid=$!; pids+=("$pid")
wait_for "$tmp/log3" "ready" || fail "no ready after restart"
kill -KILL "$pid"; wait "$pid" 2>/dev/null
"$SLUSSD" --config "$tmp/good.yaml" 2>"$tmp/log4" &
pid=$!; pids+=("$pid")
wait_for "$tmp/log4" "ready" && ok || fail "no ready after SIGKILL: $(cat "$tmp/log4")"
kill -INT "$pid"; wait "$pid"
expect_rc "SIGINT exit" 0 $?

# A database from a newer sluss is refused with a clear message.
sqlite3 "$tmp/state/sluss.db" "PRAGMA user_version = 999" || fail "sqlite3"
"$SLUSSD" --config "$tmp/good.yaml" 2>"$tmp/log5"
expect_rc "newer schema" 1 $?
grep -q "schema version 999, newer than this slussd knows" "$tmp/log5" && ok || fail "schema message: $(cat "$tmp/log5")"

# No config at all: state under ./.sluss of the working directory.
mkdir "$tmp/fresh"
(cd "$tmp/fresh" && exec "$SLUSSD") 2>"$tmp/log6" &
pid=$!; pids+=("$pid")
wait_for "$tmp/log6" "ready" && ok || fail "default config did not start: $(cat "$tmp/log6")"
[[ -f $tmp/fresh/.sluss/sluss.db ]] && ok || fail "no ./.sluss/sluss.db"
kill -TERM "$pid"; wait "$pid"
expect_rc "default config exit" 0 $?

finish slussd
