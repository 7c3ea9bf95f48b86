#!/usr/bin/env bash
# slussd killed with SIGKILL at random moments while a 200-job run goes
# through the scheduler and real runc containers, restarted each time: in
# the end every job has succeeded exactly once (one attempt, one container,
# one result), none is lost and none ran twice. Needs root; exit 77
# otherwise.
#   crash_test.sh SLUSS SLUSSD [KILLS]
set -uo pipefail
SLUSS=$1
SLUSSD=$2
KILLS=${3:-8}
source "$(dirname "$0")/support/assert.sh"
if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null; then
  echo "SKIP: running jobs needs root and runc"
  exit 77
fi
tmp=$(mktemp -d /tmp/sluss-crash-XXXXXX)
pid=
source "$(dirname "$0")/support/jobs.sh"
trap stop_everything EXIT
export GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@example.org GIT_COMMITTER_NAME=A GIT_COMMITTER_EMAIL=a@example.org
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
git: {local_pusher: a@example.org}   # pushes over the file path are credited to this person
images: {py: {host: true}}
node: {cpus: 16, memory: 64G}
sandbox: {cgroup_parent: /sluss-test-crash, output_fs: none}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
starts=0
start() {
  starts=$((starts + 1))
  slussd_start "$starts"
}
start
"$SLUSS" project create crash --hosted --json >"$tmp/p.json" || fail "project"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/p.json")
mkdir -p "$tmp/w" && git -C "$tmp/w" init -q -b main
{
  echo "version: 1"
  echo "actions:"
  for i in $(seq 1 200); do
    # Chains of four, so that a kill also lands between a job and its needs.
    if ((i % 4 == 1)); then
      printf '  a%03d: {image: py, run: "python3 -c \\"open(\x27output/a%03d\x27,\x27w\x27).write(\x27%d\x27)\\"", resources: {cpus: 0.25, memory: 64M}, outputs: {sensitive: [output/a%03d]}}\n' "$i" "$i" "$i" "$i"
    else
      printf '  a%03d: {image: py, run: "true", needs: [a%03d], resources: {cpus: 0.25, memory: 64M}}\n' "$i" $((i - 1))
    fi
  done
} >"$tmp/w/sluss.yaml"
git -C "$tmp/w" add . && git -C "$tmp/w" commit -qm "200 jobs" && git -C "$tmp/w" push -q "$url" main 2>/dev/null
run_state() { "$SLUSS" run show 1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null; }

# Kill it at random moments while the run goes on.
for k in $(seq "$KILLS"); do
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 2.5), 2))')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
  start
done
for _ in $(seq 900); do
  s=$(run_state)
  [[ $s == succeeded || $s == failed || $s == cancelled ]] && break
  sleep 0.2
done
[[ $s == succeeded ]] && ok || fail "the run ended '$s' after $KILLS kills: $("$SLUSS" run show 1 | head -20)"

# Every job exactly once.
"$SLUSS" run show 1 --json >"$tmp/run.json"
python3 - "$tmp/run.json" "$tmp/state/jobs" <<'EOF' && ok || fail "exactly once"
import json, os, sys
run = json.load(open(sys.argv[1]))
jobs = run["jobs"]
assert len(jobs) == 200, len(jobs)
bad = [j["action"] for j in jobs if j["status_code"] != "succeeded" or j["attempt"] != 1]
assert not bad, ("not succeeded once", bad[:10])
dirs = os.listdir(sys.argv[2])
assert len(dirs) == 200, ("job directories", len(dirs))
for d in dirs:
    job, attempt, key = d.split("-")  # <job>-<attempt>-<attempt key>
    assert attempt == "1" and len(key) == 16, d
    r = json.load(open(os.path.join(sys.argv[2], d, "result.json")))
    assert r["status"] == "succeeded", (d, r["status"], r["message"])
EOF
# One launch per job: exactly one `preparing` and one `succeeded` event each.
python3 - "$tmp/run.json" <<'EOF' >"$tmp/ids"
import json, sys
print(" ".join(str(j["id"]) for j in json.load(open(sys.argv[1]))["jobs"]))
EOF
twice=0
for id in $(cat "$tmp/ids"); do
  "$SLUSS" job show "$id" --json >"$tmp/ev.json"
  python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
to = [e["to"] for e in ev]
sys.exit(0 if to.count("preparing") == 1 and to.count("succeeded") == 1 else 1)' "$tmp/ev.json" || twice=$((twice + 1))
done
[[ $twice == 0 ]] && ok || fail "$twice jobs were launched or finished more than once"
echo "slussd started $starts times"
finish "crash"
