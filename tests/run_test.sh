#!/usr/bin/env bash
# git push runs jobs: the example study pushed with the git CLI to a project
# that slussd hosts, scheduled and run in real runc containers, with
# outputs, logs, cached reruns, cancel, a hostile output, and slussd killed
# with SIGKILL while three jobs run. Needs root (the sandbox); exit 77
# otherwise.
#   run_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/permit.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin run

# A small synthetic dataset, readable by job uids.
python3 "$ROOT/examples/cohort-study/generate_data.py" "$tmp/data/prescriptions" --rows 3000 --seed 2 >/dev/null
chmod -R a+rX "$tmp/data"
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
node: {cpus: 8, memory: 16G}
sandbox: {cgroup_parent: /sluss-test-run, output_limit: 64M}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
run_state() { "$SLUSS" run show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
# wait_run RUN: until the run ends (90 s at most); prints its state.
wait_run() {
  local s
  for _ in $(seq 450); do
    s=$(run_state "$1")
    [[ $s != pending && $s != running ]] && { echo "$s"; return; }
    sleep 0.2
  done
  echo "timeout($s)"
}
push() {  # push WORKDIR MESSAGE
  git -C "$1" add -A && git -C "$1" commit -qm "$2" && git -C "$1" push -q "$push_url" main 2>>"$tmp/push.log"
}

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name test 2>/dev/null)
permit_setup study alice@example.org "$tmp/data/prescriptions"

# 1. The study runs: extract (Python), then model (scikit-learn) and table1 (R).
work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work"
rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main
push "$work" "the study"; expect_rc "push" 0 $?
[[ $(wait_run 1) == succeeded ]] && ok || fail "run 1: $("$SLUSS" run show 1)"
for a in extract model table1; do
  [[ $(job_field 1 $a status_code) == succeeded ]] && ok || fail "$a: $(job_field 1 $a reason)"
done
"$SLUSS" run show 1 --json >"$tmp/run1.json"
python3 - "$tmp/run1.json" <<'EOF' && ok || fail "run 1 records"
import json, sys
jobs = {j["action"]: j for j in json.load(open(sys.argv[1]))["jobs"]}
t = jobs["table1"]["result"]
assert [o["path"] for o in t["outputs"]] == ["output/survival.csv", "output/table1.csv"], t
assert all(len(o["sha256"]) == 64 for o in t["outputs"])
assert t["runtime"] == "runc" and t["image_digest"].startswith("sha256:"), t
assert t["memory_peak_bytes"] > 0 and t["cpu_seconds"] > 0, t
assert jobs["extract"]["node"] and jobs["extract"]["exit_code"] == 0
EOF
# The workspace (the exported code, one for the commit's jobs) goes once
# they have ended (slussd sweeps every 2 s); the outputs stay.
workspaces_gone() {
  for _ in $(seq 300); do [[ -z $(ls -A "$tmp/state/workspaces" 2>/dev/null) ]] && return 0; sleep 0.1; done
  return 1
}
workspaces_gone && ok || fail "workspaces left: $(ls "$tmp/state/workspaces")"
[[ -s $(echo "$tmp/state/jobs/$(job_field 1 table1 id)-1-"*)/outputs/output/table1.csv ]] && ok || fail "table1's output went too"
SLUSS_TOKEN=$alice "$SLUSS" logs "$(job_field 1 model id)" | grep -q "^AUC" && ok || fail "model's log"
SLUSS_TOKEN=$alice "$SLUSS" logs "$(job_field 1 extract id)" --stderr >/dev/null; expect_rc "stderr log" 0 $?

curl -sf -H "Authorization: Bearer $admin" "http://$SLUSS_SERVER/metrics" >"$tmp/metrics"
for m in 'sluss_job_outcomes_total{status_code="succeeded"} 3' sluss_scheduler_cycle_seconds_count sluss_gpus_allocated; do
  grep -qF "$m" "$tmp/metrics" && ok || fail "/metrics lacks $m"
done

# 2. A push that only edits the R script reruns only table1; the others are
# cached and table1 reads extract's outputs from run 1.
echo "# a comment" >>"$work/analysis/table1.R"
push "$work" "edit table1"
[[ $(wait_run 2) == succeeded ]] && ok || fail "run 2: $("$SLUSS" run show 2)"
[[ $(job_field 2 extract status_code) == cached && $(job_field 2 model status_code) == cached ]] && ok \
  || fail "extract/model not cached: $("$SLUSS" run show 2)"
[[ $(job_field 2 table1 status_code) == succeeded ]] && ok || fail "table1 did not rerun"
[[ $(job_field 2 table1 result.outputs) == "$(job_field 1 table1 result.outputs)" ]] && ok \
  || fail "the rerun's outputs differ from the first run's"

# A forced rerun of one action, waited for: the exit code says how it ended.
SLUSS_TOKEN=$alice "$SLUSS" run start study --actions table1 --force --wait >"$tmp/wait.out"; expect_rc "run start --wait" 0 $?
grep -q "^run [0-9]* succeeded" "$tmp/wait.out" && ok || fail "run start --wait: $(cat "$tmp/wait.out")"

# 3. Hostile and long jobs through the whole system.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  leak:
    image: python-3.11
    run: python3 analysis/leak.py
    outputs: {releasable: [output/leak.csv]}
  long:
    image: python-3.11
    run: python3 -c "import time; time.sleep(600)"
  quick-a:
    image: python-3.11
    run: python3 -c "import time,os; time.sleep(2); open('output/a','w').write('a')"
    outputs: {sensitive: [output/a]}
  quick-b:
    image: python-3.11
    run: python3 -c "import time,os; time.sleep(4); open('output/b','w').write('b')"
    outputs: {sensitive: [output/b]}
  slow-c:
    image: python-3.11
    run: python3 -c "import time,os; time.sleep(9); open('output/c','w').write('c')"
    outputs: {sensitive: [output/c]}
YAML
cat >"$work/analysis/leak.py" <<'EOF'
import os
os.symlink("/etc/shadow", "output/leak.csv")
EOF
push "$work" "hostile and long"
wait_status 4 long executing && ok || fail "long did not start: $(job_field 4 long reason)"
for a in quick-a quick-b slow-c; do wait_status 4 $a executing || fail "$a did not start"; done

# slussd dies with SIGKILL while quick-a, quick-b, slow-c and long run.
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
sleep 5   # quick-a and quick-b end while slussd is down
slussd_start 2
for a in quick-a quick-b slow-c; do
  wait_status 4 $a succeeded && ok || fail "$a after the restart: $(job_field 4 $a status_code) $(job_field 4 $a reason)"
done
[[ $(job_field 4 quick-b result.outputs) == *output/b* ]] && ok || fail "quick-b's result lost"
[[ $(job_field 4 long status_code) == executing ]] && ok || fail "long was not re-attached: $(job_field 4 long status_code)"
wait_status 4 leak missing_outputs && ok || fail "leak: $(job_field 4 leak status_code)"
[[ $(job_field 4 leak reason) == *"leak.csv is a symbolic link"* ]] && ok || fail "leak reason: $(job_field 4 leak reason)"

# Cancel the long job: its container goes.
long_id=$(job_field 4 long id)
container=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/state/jobs/$long_id-1-"*/spec.json)
container_runs "$container" && ok || fail "no container $container for the long job: $(runc state "$container" 2>&1)"
SLUSS_TOKEN=$alice "$SLUSS" cancel "$long_id" >/dev/null; expect_rc "cancel" 0 $?
# PID 1 of a container ignores SIGTERM unless it handles it (python's does
# not): the KILL comes after the grace time (10 s).
for _ in $(seq 400); do
  container_runs "$container" || break
  sleep 0.1
done
container_runs "$container" && fail "the cancelled job's container still runs" || ok
[[ $(job_field 4 long status_code) == cancelled_by_user ]] && ok || fail "long: $(job_field 4 long status_code)"
for _ in $(seq 100); do [[ -n $(job_field 4 long result.status) ]] && break; sleep 0.1; done
[[ $(job_field 4 long result.status) == cancelled ]] && ok || fail "the cancelled job's result: $(job_field 4 long result)"
[[ $(wait_run 4) == failed ]] && ok || fail "run 4 should fail (leak)"

# 4. A log followed as it grows (follow=1, chunked), from before the job
# starts to its end: every line, and the reply ends when the job does.
# Whole logs are for admins and stewards (researchers read the tail:
# tests/release_test.sh).
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  ticker:
    image: python-3.11
    run: python3 -u -c "import time; [print('tick', i) or time.sleep(0.4) for i in range(6)]"
YAML
push "$work" "ticker"
ticker=$(job_field 5 ticker id)
timeout 60 curl -sN -D "$tmp/follow.headers" -H "Authorization: Bearer $admin" \
  "http://127.0.0.1:$port/v1/jobs/$ticker/logs?follow=1" >"$tmp/follow.out" &
curl_pid=$!
timeout 60 "$SLUSS" logs -f "$ticker" >"$tmp/follow.cli"; expect_rc "logs -f" 0 $?
wait "$curl_pid"; expect_rc "curl follow=1 ends with the job" 0 $?
[[ $(grep -c '^tick' "$tmp/follow.out") == 6 && $(tail -1 "$tmp/follow.out") == "tick 5" ]] && ok ||
  fail "follow=1 got: $(cat "$tmp/follow.out")"
grep -qi '^transfer-encoding: chunked' "$tmp/follow.headers" && ok || fail "not chunked: $(cat "$tmp/follow.headers")"
diff -q "$tmp/follow.out" "$tmp/follow.cli" >/dev/null && ok || fail "logs -f printed: $(cat "$tmp/follow.cli")"

# 5. Accounting: this month's jobs by user and outcome, with the CPU time
# the sandbox measured.
SLUSS_TOKEN=$alice "$SLUSS" usage study >"$tmp/usage"; expect_rc "usage" 0 $?
grep -Eq '^alice@example.org +succeeded +[0-9]+ ' "$tmp/usage" && ok || fail "usage: $(cat "$tmp/usage")"
"$SLUSS" usage study --json | python3 -c '
import json, sys
a = json.load(sys.stdin)["accounting"]
assert a["period"] == "month" and a["totals"]["jobs"] >= 8, a
assert a["totals"]["cpu_hours"] > 0 and a["totals"]["wall_hours"] > 0, a' && ok || fail "usage --json"

# 6. A commit larger than git.max_workspace (1M here) is never exported
# whole: its job cannot start, and says why; no workspace is left.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  bigcode:
    image: python-3.11
    run: "true"
YAML
head -c 2000000 /dev/urandom >"$work/analysis/big.bin"
push "$work" "big"
for _ in $(seq 300); do [[ $(job_field 6 bigcode state) == failed ]] && break; sleep 0.1; done
[[ $(job_field 6 bigcode status_code) == workspace_limit &&
   $(job_field 6 bigcode reason) == "workspace_limit: "*"the commit's files are larger than 1 MiB, the most a job's workspace may hold (git.max_workspace)"* ]] &&
  ok || fail "bigcode: $(job_field 6 bigcode status_code) $(job_field 6 bigcode reason)"
workspaces_gone && ok || fail "workspaces left: $(ls "$tmp/state/workspaces")"

# 7. A log over 1 MiB (what slussd sends in one reply): `sluss logs`
# without -f prints all of it.
git -C "$work" rm -q analysis/big.bin
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  chatty:
    image: python-3.11
    run: python3 -c "[print('line %06d ' % i + 'x' * 40) for i in range(40000)]"
  escapes:
    image: python-3.11
    run: python3 analysis/escapes.py
YAML
# A job's log with terminal escapes: OSC (retitle), CSI (clear the screen),
# BEL, CR and a C1 CSI (U+009B).
cat >"$work/analysis/escapes.py" <<'PY'
print("\x1b]0;pwned\x07title\n\x1b[2Jcleared\rover\n\u009b31mred")
PY
push "$work" "chatty"
for _ in $(seq 300); do [[ $(job_field 7 chatty status_code) == succeeded ]] && break; sleep 0.1; done
"$SLUSS" logs "$(job_field 7 chatty id)" >"$tmp/chatty.log"; expect_rc "logs without -f" 0 $?
[[ $(wc -l <"$tmp/chatty.log") == 40000 && $(tail -1 "$tmp/chatty.log") == "line 039999 "* ]] && ok ||
  fail "logs without -f printed $(wc -c <"$tmp/chatty.log") bytes, $(wc -l <"$tmp/chatty.log") lines"

# To a terminal, `sluss logs` (and -f) escapes what would drive it; to a
# pipe or a file, the log is the job's bytes as they are.
for _ in $(seq 300); do [[ $(job_field 7 escapes state) == succeeded ]] && break; sleep 0.1; done
esc_id=$(job_field 7 escapes id)
SLUSS_TOKEN=$alice "$SLUSS" logs "$esc_id" >"$tmp/esc.raw"
python3 -c 'import sys; sys.exit(0 if open(sys.argv[1], "rb").read() == "\x1b]0;pwned\x07title\n\x1b[2Jcleared\rover\n\u009b31mred\n".encode() else 1)' "$tmp/esc.raw" &&
  ok || fail "logs to a pipe are not the job's bytes: $(od -c "$tmp/esc.raw" | head -3)"
for follow in "" "-f"; do
  SLUSS_TOKEN=$alice script -qec "$SLUSS logs $follow $esc_id" /dev/null >"$tmp/esc.tty" </dev/null
  python3 - "$tmp/esc.tty" <<'PY' && ok || fail "logs $follow to a terminal not escaped: $(od -c "$tmp/esc.tty" | head -5)"
import sys
raw = open(sys.argv[1], "rb").read()
assert b"\x1b" not in raw and b"\x07" not in raw and b"\xc2\x9b" not in raw, raw
text = raw.decode().replace("\r\n", "\n")  # the pty's own newlines
assert text == "\\x1b]0;pwned\\x07title\n\\x1b[2Jcleared\\x0dover\n\\u009b31mred\n", text
PY
done

# 8. The project's disk: `sluss usage` shows what its outputs keep; with
# max.disk at or below it, a new job waits naming the numbers, and runs
# once the limit is lifted.
"$SLUSS" usage study --json >"$tmp/usage.json"; expect_rc "usage" 0 $?
disk=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["disk"]; assert d["total_bytes"] == d["outputs_bytes"] + d["workspaces_bytes"] and d["outputs_bytes"] > 0, d; print(d["outputs_bytes"])' "$tmp/usage.json") &&
  ok || fail "usage disk: $(cat "$tmp/usage.json")"
"$SLUSS" usage study | grep -q "^disk: .*(outputs .*, workspaces of running jobs .*), limit none$" && ok || fail "usage disk line: $("$SLUSS" usage study | grep disk)"
"$SLUSS" quota set study max.disk=$disk >/dev/null; expect_rc "quota max.disk" 0 $?
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  late:
    image: python-3.11
    run: "true"
YAML
push "$work" "disk"
wait_status 8 late waiting_on_quota && ok || fail "disk quota: $(job_field 8 late status_code)"
[[ $(job_field 8 late reason) == "waiting_on_quota: project study holds "*" of disk (outputs "*", workspaces 0), its limit is "*" (max.disk)" ]] &&
  ok || fail "disk reason: $(job_field 8 late reason)"
"$SLUSS" usage study | grep -q "), limit .* (max.disk)$" && ok || fail "usage limit: $("$SLUSS" usage study | grep disk)"
"$SLUSS" quota set study max.disk=null >/dev/null
wait_status 8 late succeeded && ok || fail "after the limit: $(job_field 8 late status_code) $(job_field 8 late reason)"

# Nothing left behind: containers, mounts.
sleep 0.5
for d in "$tmp"/state/jobs/*/output-mnt; do mountpoint -q "$d" && fail "still mounted: $d"; done
ok
grep " ERROR " "$tmp/log" && fail "errors in slussd's log"
finish "run"
