#!/usr/bin/env bash
# One workspace per commit, through the real slussd and runc: three jobs of
# one push see the same /workspace (one directory: the same inode), none
# can write to it or to what it holds, and the code each ran is the
# commit's. After they end, slussd killed with SIGKILL and started again
# removes it (the sweep at start), and a new run of the commit exports it
# anew and runs. Needs root (the sandbox); exit 77 otherwise.
#   workspace_share_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin workspace
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-workspace, output_fs: none}
git: {local_pusher: alice@example.org}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null

work=$tmp/work
mkdir -p "$work/src"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  a: {image: python-3.11, run: python3 src/probe.py a, outputs: {sensitive: [output/a.txt]}}
  b: {image: python-3.11, run: python3 src/probe.py b, outputs: {sensitive: [output/b.txt]}}
  c: {image: python-3.11, run: python3 src/probe.py c, outputs: {sensitive: [output/c.txt]}}
YAML
cat >"$work/src/probe.py" <<'PY'
import os, sys
st = os.stat("/workspace")
tries = []
for path in ("/workspace/mine.txt", "/workspace/src/probe.py"):
    try:
        open(path, "a").write("x")
        tries.append("wrote " + path)
    except OSError as e:
        tries.append("refused " + path)
try:
    os.chmod("/workspace/src/probe.py", 0o777)
    tries.append("chmod")
except OSError:
    tries.append("no chmod")
open("output/%s.txt" % sys.argv[1], "w").write(
    "%d:%d %s %s\n" % (st.st_dev, st.st_ino, open("/workspace/sluss.yaml").read().count("probe"), ";".join(tries)))
PY
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm probe && git -C "$work" push -q "$push_url" main 2>"$tmp/push.log"
expect_rc "push" 0 $?
wait_run() {
  for _ in $(seq 600); do
    s=$("$SLUSS" run show 1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
    [[ $s != pending && $s != running && -n $s ]] && break
    sleep 0.2
  done
}
wait_run
[[ $s == succeeded ]] && ok || fail "run 1: $s: $("$SLUSS" run show 1)"

lines=$(cat "$tmp"/state/jobs/*/outputs/output/*.txt 2>/dev/null)
[[ $(wc -l <<<"$lines") == 3 ]] && ok || fail "outputs: $lines"
[[ $(cut -d' ' -f1 <<<"$lines" | sort -u | wc -l) == 1 ]] && ok || fail "the jobs saw different workspaces: $lines"
[[ $(cut -d' ' -f2- <<<"$lines" | sort -u) == "3 refused /workspace/mine.txt;refused /workspace/src/probe.py;no chmod" ]] \
  && ok || fail "a job could change the shared workspace: $lines"
# The jobs ran the commit's code: each job's provenance names the commit.
commit=$(git -C "$work" rev-parse HEAD)
[[ $("$SLUSS" run show 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["commit"])') == "$commit" ]] \
  && ok || fail "run commit"

# SIGKILL, then a start: the sweep at start removes what no job needs.
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
slussd_start 2
gone=
for _ in $(seq 300); do
  ls -d "$tmp"/state/workspaces/c-* >/dev/null 2>&1 || { gone=1; break; }
  sleep 0.1
done
[[ -n $gone ]] && ok || fail "workspaces left after the start: $(ls "$tmp/state/workspaces")"

# A new run of the same commit exports it again and runs.
"$SLUSS" run start study --commit "$commit" --actions a --force --wait >"$tmp/run2.txt" 2>&1
expect_rc "second run of the commit" 0 $?
[[ $(job_field 2 a status_code) == succeeded ]] && ok || fail "second run: $(cat "$tmp/run2.txt")"
finish workspace_share
