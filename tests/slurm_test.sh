#!/usr/bin/env bash
# executor: slurm against a real Slurm (scripts/slurm-local: Debian's 22.05
# and munge, private to this test): the example study pushed with git runs
# as Slurm batch jobs, each under sluss-run in a real runc container; a job
# over its time ends timed_out; cancel reaches the Slurm job; slussd killed
# with SIGKILL between sbatch and recording the Slurm job's id neither loses
# nor doubles the job; slurmctld stopped mid-run judges nothing; a node
# going down under a job makes it node_lost and retried. Needs root and runc; exit 77 when Slurm cannot be
# installed or started here.
#   slurm_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/permit.sh"
if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null; then
  echo "SKIP: running jobs needs root and runc"
  exit 77
fi
# A Slurm of this test's own (its directory, its ports), stopped at the end.
export SLURM_LOCAL_DIR=/var/tmp/sluss-slurm-test SLURM_LOCAL_PORT=6947
rm -f "$SLURM_LOCAL_DIR/log/jobcomp.txt"  # the finished jobs of this run only
# Two fake GPUs (gres.conf's File= on links to /dev/null) for the GPU job.
if ! "$ROOT/scripts/slurm-local" start --gpus 2 >/tmp/slurm-test-start.log 2>&1; then
  echo "SKIP: Slurm cannot be started here: $(tail -3 /tmp/slurm-test-start.log)"
  "$ROOT/scripts/slurm-local" stop >/dev/null 2>&1
  exit 77
fi
eval "$("$ROOT/scripts/slurm-local" env)"
tmp=$(mktemp -d /tmp/sluss-slurm-XXXXXX)
pid=
source "$(dirname "$0")/support/jobs.sh"
cleanup_slurm() {
  stop_everything
  # Nothing of this test's stays queued in Slurm, and its daemons stop.
  [[ -n ${prefix:-} ]] && for id in $(squeue -h -o '%i|%j' | sed -n "s/^\([0-9]*\)|$prefix-.*/\1/p"); do scancel "$id"; done
  "$ROOT/scripts/slurm-local" stop >/dev/null
}
trap cleanup_slurm EXIT
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

python3 "$ROOT/examples/cohort-study/generate_data.py" "$tmp/data/prescriptions" --rows 2000 --seed 3 >/dev/null
chmod -R a+rX "$tmp/data"
# slussd finds sbatch through PATH: $tmp/bin holds a wrapper that, when
# $tmp/kill-after-sbatch exists, lets sbatch submit and then SIGKILLs
# slussd before slussd can record the Slurm job's id.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/sbatch" <<EOF
#!/bin/bash
echo "\$@" >>$tmp/sbatch.args
out=\$(/usr/bin/sbatch "\$@"); rc=\$?
if [[ -e $tmp/kill-after-sbatch ]]; then
  rm -f $tmp/kill-after-sbatch
  echo "\$out" >$tmp/killed-after
  kill -9 \$(cat $tmp/slussd.pid)
  sleep 5
fi
echo "\$out"; exit \$rc
EOF
chmod +x "$tmp/bin/sbatch"
# The nodes' CDI spec over fake GPU device nodes (distinct numbers: fuse
# and kmsg), as `nvidia-ctk cdi generate` names them: by index.
mkdir -p "$tmp/cdi" "$tmp/dev"
mknod -m 0666 "$tmp/dev/nvidia0" c 10 229
mknod -m 0666 "$tmp/dev/nvidia1" c 1 11
cat >"$tmp/cdi/nvidia.yaml" <<EOF
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- {name: "0", containerEdits: {deviceNodes: [{path: /dev/nvidia0, hostPath: $tmp/dev/nvidia0}]}}
- {name: "1", containerEdits: {deviceNodes: [{path: /dev/nvidia1, hostPath: $tmp/dev/nvidia1}]}}
EOF
export PATH=$tmp/bin:$PATH
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
executor: slurm
slurm: {conf: $SLURM_CONF, poll_interval: 1s, lost_grace: 2s}
images: {python-3.11: {host: true}, r-4.2: {host: true}}
node: {cpus: 4, memory: 8G, gpus: ["0", "1"]}
sandbox: {cgroup_parent: /sluss-test-slurm, output_limit: 64M, cdi_spec: $tmp/cdi/nvidia.yaml}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
YAML
# A Slurm that does not answer stops slussd at start, saying so, rather
# than failing every job later. (squeue retries a missing slurm.conf for
# 60 s, and slussd's runner stops it at 60 s: hence the longer timeout.)
sed "s|conf: $SLURM_CONF|conf: $tmp/no-slurm.conf|" "$tmp/slussd.yaml" >"$tmp/bad.yaml"
timeout 150 "$SLUSSD" --config "$tmp/bad.yaml" 2>"$tmp/bad.log"; rc=$?
[[ $rc != 0 && $rc != 124 ]] && ok || fail "slussd started without a Slurm (exit $rc)"
grep -q "(executor: slurm): squeue does not answer" "$tmp/bad.log" && ok || fail "no reason given: $(tail -3 "$tmp/bad.log")"
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
grep -q "executor=slurm" "$tmp/log" && ok || fail "slussd does not say executor=slurm"
# The Slurm job names' prefix: the installation's (sluss-<hash of the state directory>).
wait_run() {
  local s
  for _ in $(seq 900); do
    s=$("$SLUSS" run show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [[ $s != pending && $s != running ]] && { echo "$s"; return; }
    sleep 0.2
  done
  echo "timeout($s)"
}
push() {
  git -C "$1" add -A && git -C "$1" commit -qm "$2" && git -C "$1" push -q "$push_url" main 2>>"$tmp/push.log"
}
slurm_json() {  # slurm_json JOB FIELD: from the job's attempt 1 directory
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$(echo "$tmp/state/jobs/$1-1-"*)/slurm.json" "$2"
}
"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name test 2>/dev/null)
permit_setup study alice@example.org "$tmp/data/prescriptions"

# 1. The example study, pushed with git, runs on Slurm: every job a Slurm
# batch job (found in Slurm by the name sluss gave it), its outputs in the
# job directory, its log through sluss.
work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work"
rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main
push "$work" "the study"; expect_rc "push" 0 $?
[[ $(wait_run 1) == succeeded ]] && ok || fail "run 1 on Slurm: $("$SLUSS" run show 1) $(tail -5 "$tmp/log")"
for a in extract model table1; do
  id=$(job_field 1 $a id)
  name=$(slurm_json "$id" name)
  sid=$(slurm_json "$id" job_id)
  [[ $sid =~ ^[0-9]+$ ]] && ok || fail "$a has no Slurm job id: $(cat "$tmp/state/jobs/$id-1-"*/slurm.json)"
  grep -q "JobId=$sid .*Name=$name " "$SLURM_LOCAL_DIR/log/jobcomp.txt" && ok ||
    fail "$a: Slurm has no job $sid named $name: $(tail -3 "$SLURM_LOCAL_DIR/log/jobcomp.txt")"
done
prefix=${name%-*-*-*}
[[ -s $(echo "$tmp/state/jobs/$(job_field 1 table1 id)-1-"*)/outputs/output/table1.csv ]] && ok || fail "table1's output"
SLUSS_TOKEN=$alice "$SLUSS" logs "$(job_field 1 model id)" | grep -q "^AUC" && ok || fail "model's log"
[[ $(job_field 1 table1 result.runtime) == runc ]] && ok || fail "table1 did not run in runc: $(job_field 1 table1 result)"

# 2. Over its time: timed_out (sluss-run's limit comes before Slurm's);
# cancel: the Slurm job ends and the job is cancelled_by_user.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  slow:
    image: python-3.11
    run: python3 -c "import time; time.sleep(300)"
    resources: {time: 3s, memory: 128M}
  long:
    image: python-3.11
    run: python3 -c "import time; time.sleep(300)"
    resources: {memory: 128M}
YAML
push "$work" "slow and long"
for _ in $(seq 600); do [[ $(job_field 2 slow state) == failed ]] && break; sleep 0.1; done
[[ $(job_field 2 slow status_code) == timed_out ]] && ok || fail "slow: $(job_field 2 slow status_code) $(job_field 2 slow reason)"
long=$(job_field 2 long id)
wait_status 2 long executing || fail "long did not start"
for _ in $(seq 300); do [[ -s $(echo "$tmp/state/jobs/$long-1-"*)/supervisor.pid ]] && break; sleep 0.1; done
long_sid=$(slurm_json "$long" job_id)
[[ $(squeue -h -j "$long_sid" -o %T) == RUNNING ]] && ok || fail "long's Slurm job $long_sid: $(squeue -h -j "$long_sid" -o %T)"
SLUSS_TOKEN=$alice "$SLUSS" cancel "$long" >/dev/null; expect_rc "cancel" 0 $?
for _ in $(seq 300); do [[ $(job_field 2 long state) == cancelled ]] && break; sleep 0.1; done
[[ $(job_field 2 long status_code) == cancelled_by_user ]] && ok || fail "long: $(job_field 2 long status_code) $(job_field 2 long reason)"
for _ in $(seq 300); do [[ $(squeue -h -j "$long_sid" -o %T) != RUNNING && $(squeue -h -j "$long_sid" -o %T) != COMPLETING ]] && break; sleep 0.1; done
[[ $(squeue -h -j "$long_sid" -o %T) != RUNNING ]] && ok || fail "long's Slurm job still runs"

# 3. slussd SIGKILLed between sbatch and recording the id: after the
# restart the job is found by name, runs once, and succeeds.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  once:
    image: python-3.11
    run: python3 -c "open('output/once', 'w').write('1')"
    outputs: {sensitive: [output/once]}
YAML
echo "$pid" >"$tmp/slussd.pid"
touch "$tmp/kill-after-sbatch"
push "$work" "once"
for _ in $(seq 300); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
[[ -d /proc/$pid ]] && fail "slussd was not killed after sbatch" || ok
wait "$pid" 2>/dev/null; pid=
[[ -s $tmp/killed-after ]] && ok || fail "sbatch did not submit before the kill"
slussd_start 2
[[ $(wait_run 3) == succeeded ]] && ok || fail "run 3 after the kill: $("$SLUSS" run show 3) $(tail -5 "$tmp/log")"
once=$(job_field 3 once id)
name=$(slurm_json "$once" name)
n=$(squeue -h -t all -o '%j' | grep -cx "$name")
[[ $n == 1 ]] && ok || fail "Slurm ran $name $n times"
[[ $(slurm_json "$once" job_id) == "$(cat "$tmp/killed-after")" ]] && ok || fail "the job was not the one submitted before the kill"
[[ $(job_field 3 once attempt) == 1 ]] && ok || fail "once was retried: attempt $(job_field 3 once attempt)"
grep -q "found as Slurm job" "$tmp/log" && ok || fail "slussd did not say it found the job by name"

# 4. slurmctld stops while a job runs and comes back: nothing is judged
# while squeue fails (longer than slurm.lost_grace, 2 s here), and the job
# ends as it ran.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  through:
    image: python-3.11
    run: python3 -c "import time; time.sleep(45); open('output/t', 'w').write('t')"
    outputs: {sensitive: [output/t]}
YAML
push "$work" "through a slurmctld restart"
wait_status 4 through executing || fail "through did not start"
through=$(job_field 4 through id)
for _ in $(seq 300); do [[ -s $(echo "$tmp/state/jobs/$through-1-"*)/supervisor.pid ]] && break; sleep 0.1; done
ctld=$(cat "$SLURM_LOCAL_DIR/run/slurmctld.pid")
kill "$ctld"
for _ in $(seq 300); do [[ -d /proc/$ctld ]] || break; sleep 0.1; done
[[ -d /proc/$ctld ]] && fail "slurmctld did not stop within 30 s"
# (squeue may wait for a slurmctld still shutting down: up to 20 s.)
for _ in $(seq 200); do grep -q "slurm: squeue failed" "$tmp/log" && break; sleep 0.1; done
grep -q "slurm: squeue failed" "$tmp/log" && ok || fail "slussd did not notice slurmctld was gone"
sleep 5  # polls that fail, past the grace; the job's sluss-run goes on
[[ $(job_field 4 through status_code) == executing ]] && ok || fail "through judged while slurmctld was away: $(job_field 4 through status_code)"
# slurmctld again, as scripts/slurm-local starts it (the node is busy, so
# not through `start`, which waits for an idle node).
setsid /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" </dev/null >>"$SLURM_LOCAL_DIR/log/slurmctld.out" 2>&1 &
echo $! >"$SLURM_LOCAL_DIR/run/slurmctld.pid"
[[ $(wait_run 4) == succeeded ]] && ok || fail "run 4 after the slurmctld restart: $("$SLUSS" run show 4)"
grep -q "slurm: squeue answers again" "$tmp/log" && ok || fail "slussd did not see slurmctld back"
[[ $(job_field 4 through attempt) == 1 ]] && ok || fail "through was retried"

# 5. The node goes down under a running job: the attempt is node_lost and
# sluss retries it (retries: 1) with the node excluded; with the only node
# excluded nothing fits, so it is submitted without the exclusion, waits in
# Slurm until the node is back, and succeeds.
node=$(hostname -s)
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  drained:
    image: python-3.11
    run: python3 -c "import time; time.sleep(8); open('output/d', 'w').write('d')"
    outputs: {sensitive: [output/d]}
    retries: 1
YAML
push "$work" "a node goes down"
wait_status 5 drained executing || fail "drained did not start"
drained=$(job_field 5 drained id)
for _ in $(seq 300); do [[ -s $(echo "$tmp/state/jobs/$drained-1-"*)/supervisor.pid ]] && break; sleep 0.1; done
scontrol update nodename="$node" state=down reason=sluss-test
[[ $(wait_run 5) == succeeded ]] && ok || fail "run 5 after the node went down: $("$SLUSS" run show 5)"
[[ $(job_field 5 drained attempt) == 2 ]] && ok || fail "drained ran as attempt $(job_field 5 drained attempt)"
grep -q "job $drained attempt 2 does not fit without the nodes that failed it" "$tmp/log" && ok ||
  fail "attempt 2 was not first submitted with --exclude=$node: $(grep "job $drained" "$tmp/log" | tail -3)"
# (The node comes back by itself: ReturnToService=2 in scripts/slurm-local.)
scontrol update nodename="$node" state=resume 2>/dev/null

# 6. Slurm's pending reason is the job's reason, in `sluss job show`,
# `sluss status` and the API, and follows Slurm: the node is full (a job
# outside sluss takes every CPU: Resources), then the Slurm job is held
# (JobHeldAdmin); released on a free node, it runs and says where.
cpus=$(sinfo -h -o %c | head -1)
blocker=$(sbatch --parsable -J sluss-test-blocker -c "$cpus" --mem=64M -o /dev/null --wrap 'sleep 600')
for _ in $(seq 300); do [[ $(squeue -h -j "$blocker" -o %T) == RUNNING ]] && break; sleep 0.1; done
[[ $(squeue -h -j "$blocker" -o %T) == RUNNING ]] || fail "the blocker does not run: $(squeue -h -j "$blocker" -o '%T %r')"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  waits:
    image: python-3.11
    run: python3 -c "import time; time.sleep(3); open('output/w', 'w').write('w')"
    outputs: {sensitive: [output/w]}
YAML
push "$work" "a job that waits in Slurm"
wait_reason() {  # wait_reason RUN ACTION TEXT: until the job's reason has TEXT
  for _ in $(seq 300); do
    [[ $(job_field "$1" "$2" reason) == *"$3"* ]] && return 0
    sleep 0.1
  done
  return 1
}
wait_reason 6 waits "waiting in Slurm: Resources (partition local)" && ok ||
  fail "no Slurm reason: $(job_field 6 waits status_code) $(job_field 6 waits reason)"
waits=$(job_field 6 waits id)
waits_sid=$(slurm_json "$waits" job_id)
"$SLUSS" job show "$waits" | grep -q "executing .*waiting in Slurm: Resources (partition local)" && ok ||
  fail "sluss job show: $("$SLUSS" job show "$waits")"
"$SLUSS" status | grep -q "waiting in Slurm: Resources (partition local)" && ok ||
  fail "sluss status: $("$SLUSS" status)"
"$SLUSS" job show "$waits" --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(j["reason"] != "waiting in Slurm: Resources (partition local)")' && ok ||
  fail "the API: $("$SLUSS" job show "$waits" --json)"
scontrol hold "$waits_sid"
wait_reason 6 waits "waiting in Slurm: JobHeldAdmin (partition local; held until \`scontrol release $waits_sid\`)" && ok ||
  fail "the hold is not the reason: $(job_field 6 waits reason)"
scancel "$blocker"
for _ in $(seq 300); do [[ -z $(squeue -h -j "$blocker" -o %T 2>/dev/null) ]] && break; sleep 0.1; done
[[ $(job_field 6 waits status_code) == executing && $(squeue -h -j "$waits_sid" -o %T) == PENDING ]] && ok ||
  fail "the held job started: $(squeue -h -j "$waits_sid" -o '%T %r')"
scontrol release "$waits_sid"
wait_reason 6 waits "running in Slurm job $waits_sid on $node" && ok ||
  fail "no running reason: $(job_field 6 waits reason)"
[[ $(wait_run 6) == succeeded ]] && ok || fail "run 6 after the release: $("$SLUSS" run show 6)"
# Slurm's reasons are news, not status changes: none is a job event.
"$SLUSS" job show "$waits" --json | python3 -c 'import json,sys; sys.exit(any("Slurm" in e["reason"] for e in json.load(sys.stdin)["events"]))' && ok ||
  fail "Slurm's reasons in the job's events: $("$SLUSS" job show "$waits")"

# 7. A GPU job on Slurm: sbatch asks for --gres=gpu:1, and sluss-run on
# the node gives the container exactly the GPU Slurm allocated to the
# batch job (SLURM_JOB_GPUS), from the node's CDI spec, and no other.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  gpu:
    image: python-3.11
    run: python3 -c "import os; open('output/devs', 'w').write(' '.join(sorted(d for d in os.listdir('/dev') if d.startswith('nvidia'))) + '|' + os.environ.get('CUDA_VISIBLE_DEVICES', ''))"
    outputs: {sensitive: [output/devs]}
    resources: {gpus: 1}
YAML
push "$work" "a GPU job"
[[ $(wait_run 7) == succeeded ]] && ok || fail "run 7 (GPU) on Slurm: $(job_field 7 gpu status_code) $(job_field 7 gpu reason)"
gpu=$(job_field 7 gpu id)
grep -- "--job-name=$(slurm_json "$gpu" name)" "$tmp/sbatch.args" | grep -q -- "--gres=gpu:1" && ok ||
  fail "sbatch did not ask for the GPU: $(grep -- "$(slurm_json "$gpu" name)" "$tmp/sbatch.args")"
given=$(job_field 7 gpu result.gpus | tr -d "[]' ")
[[ $given == 0 || $given == 1 ]] && ok || fail "the result's GPUs: $(job_field 7 gpu result.gpus)"
devs=$(cat "$(echo "$tmp/state/jobs/$gpu-1-"*)/outputs/output/devs")
[[ $devs == "nvidia$given|0" ]] && ok || fail "the container saw $devs, Slurm gave GPU $given"

grep " ERROR " "$tmp/log" && fail "errors in slussd's log"
finish "slurm"
