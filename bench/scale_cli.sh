#!/usr/bin/env bash
# A big run through slussd (issue 26): a push of N actions with the queue
# paused (so that all N stay pending), then sluss status (the summary) and
# sluss status --all (every job) timed, and sluss run show; slussd's
# resident set before the push and with the N jobs pending; with LIMIT, a
# push over git.max_actions_per_run is refused. Needs root and a build.
#   bench/scale_cli.sh [N] [LIMIT]   (5000, 0: no limit)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$ROOT/build}
SLUSS=$B/cli/sluss SLUSSD=$B/daemon/slussd
source "$ROOT/tests/support/assert.sh"
tmp=$(mktemp -d /tmp/sluss-scale-cli-XXXXXX)
source "$ROOT/tests/support/slussd.sh"
N=${1:-5000}
LIMIT=${2:-0}
export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org GIT_COMMITTER_NAME=A GIT_COMMITTER_EMAIL=a@example.org
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
git: {local_pusher: a@example.org, max_actions_per_run: $LIMIT}
images: {py: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-scale-e2e, output_fs: none}
YAML
[[ $LIMIT == 0 ]] && sed -i 's/, max_actions_per_run: 0//' "$tmp/slussd.yaml"
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start
"$SLUSS" queue pause --reason "scale test" >/dev/null
"$SLUSS" project create big --hosted --json >"$tmp/p.json"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/p.json")
mkdir -p "$tmp/w" && git -C "$tmp/w" init -q -b main
{ echo "version: 1"; echo "actions:"; for i in $(seq 1 "$N"); do echo "  a$i: {image: py, run: \"true\"}"; done; } >"$tmp/w/sluss.yaml"
git -C "$tmp/w" add . && git -C "$tmp/w" commit -qm big
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }  # KiB
rss0=$(rss)
t0=$(date +%s.%N); git -C "$tmp/w" push -q "$url" main 2>"$tmp/push"; t1=$(date +%s.%N)
echo "push of $N actions: $(echo "$t1 - $t0" | bc) s"; cat "$tmp/push"
sleep 2
rss1=$(rss)
echo "slussd resident: $((rss0 / 1024)) MiB before the push, $((rss1 / 1024)) MiB with $N jobs pending: $(((rss1 - rss0) * 1024 / N)) bytes per pending job"
t0=$(date +%s.%N); "$SLUSS" status >"$tmp/status"; t1=$(date +%s.%N)
echo "sluss status: $(echo "$t1 - $t0" | bc) s, $(wc -c <"$tmp/status") bytes"; head -12 "$tmp/status"
t0=$(date +%s.%N); "$SLUSS" status --all >"$tmp/status-all"; t1=$(date +%s.%N)
echo "sluss status --all: $(echo "$t1 - $t0" | bc) s, $(wc -c <"$tmp/status-all") bytes"
"$SLUSS" run show 1 | head -8
n=$("$SLUSS" run show 1 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'); echo "run show --json jobs: $n"
kill -TERM "$pid"; wait "$pid"
rm -rf "$tmp"
