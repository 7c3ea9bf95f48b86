#!/usr/bin/env bash
# The post-receive hook waits for the push's admission and says only what is
# true of it: a push of 20,000 actions (admitted in seconds) with the hook's
# wait cut to 1 s says that slussd is still admitting it and where the run
# will show, never that it "will be picked up when it next starts"; the run
# then appears. With the wait left alone, the same kind of push answers with
# its run. With slussd down, the hook says so, and the push is picked up at
# the next start.
# Usage: hook_wait_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {py: {host: true}}
git: {local_pusher: alice@example.org}
sandbox: {output_fs: none}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
"$SLUSS" queue pause --reason "hook test" >/dev/null
"$SLUSS" project create big --hosted --json >"$tmp/p.json"; expect_rc "hosted project" 0 $?
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/p.json")
count_runs() { "$SLUSS" runs --json --project big --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))'; }

# A pipeline of N trivial actions, committed.
commit_actions() {
  { echo "version: 1"; echo "actions:"
    for i in $(seq 1 "$1"); do echo "  a$i: {image: py, run: \"true $2\"}"; done; } >"$tmp/w/sluss.yaml"
  git -C "$tmp/w" add . && git -C "$tmp/w" commit -qm "$1 actions, $2"
}
mkdir -p "$tmp/w" && git -C "$tmp/w" init -q -b main

# 1. An admission longer than the hook's wait: a true message, and the run.
commit_actions 20000 slow
SLUSS_HOOK_WAIT=1 git -C "$tmp/w" push -q "$url" main 2>"$tmp/push1"; expect_rc "slow push" 0 $?
grep -q "remote: sluss: slussd is still admitting the push after 1 s; it goes on there, and 'sluss runs' will show the run" "$tmp/push1" \
  && ok || fail "slow push output: $(cat "$tmp/push1")"
grep -q "next starts" "$tmp/push1" && fail "the slow push was said to wait for the next start" || ok
sha=$(git -C "$tmp/w" rev-parse HEAD)
found=
for _ in $(seq 1200); do
  if "$SLUSS" runs --json --project big --limit 1 | grep -q "$sha"; then found=1; break; fi
  sleep 0.1
done
[[ -n $found ]] && ok || fail "the slowly admitted push made no run"

# 2. The wait left alone: the answer is the run.
commit_actions 3 quick
git -C "$tmp/w" push -q "$url" main 2>"$tmp/push2"; expect_rc "quick push" 0 $?
grep -q "remote: sluss: run 2 for .*: 3 jobs" "$tmp/push2" && ok || fail "quick push output: $(cat "$tmp/push2")"

# 3. slussd down: the hook says so; the next start makes the run.
slussd_stop
commit_actions 2 down
git -C "$tmp/w" push -q "$url" main 2>"$tmp/push3"; expect_rc "push while down" 0 $?
grep -q "remote: sluss: slussd did not answer (.*); the push will be picked up when it next starts" "$tmp/push3" \
  && ok || fail "push while down output: $(cat "$tmp/push3")"
slussd_start 2
[[ $(count_runs) == 3 ]] && ok || fail "the push made while down has no run ($(count_runs) runs)"
finish hook_wait
