#!/usr/bin/env bash
# Node pools through the real slussd, sluss-run and runc: two local pools of
# different sizes (small: 1 CPU 1G; big: 2 CPUs 3G) and one that takes only
# another project. A job pushed with git runs on the pool it fits; a job too
# big for every pool of its project waits naming each pool's size; `sluss
# nodes` shows each pool (golden file). Attacks: a pool removed from the
# config while a job ran there (slussd SIGKILLed, restarted without it: the
# job is adopted and ends once, never run twice); duplicate pool names and
# the one-pool keys mixed with pools: are refused at start, naming the key.
# Needs root and runc; exit 77 otherwise.
#   pools_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin pools
ROOT=$(cd "$(dirname "$0")/.." && pwd)
golden() {  # name, file of actual output (UPDATE_GOLDEN=1 writes it)
  [[ -n ${UPDATE_GOLDEN:-} ]] && cp "$2" "$ROOT/tests/golden/$1"
  if diff -u "$ROOT/tests/golden/$1" "$2"; then ok; else fail "golden $1"; fi
}
write_config() {  # write_config POOLS...: slussd.yaml with these pools
  {
    cat <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
sandbox: {cgroup_parent: /sluss-test-pools, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
pools:
YAML
    for p in "$@"; do echo "  - $p"; done
  } >"$tmp/slussd.yaml"
}
small='{name: small, executor: local, cpus: 1, memory: 1G}'
big='{name: big, executor: local, cpus: 2, memory: 3G}'
theirs='{name: theirs, executor: local, cpus: 4, memory: 4G, projects: [other]}'

# Refused at start, naming the key: duplicate names, pools: with executor:.
write_config "$small" '{name: small, executor: local, cpus: 2}'
"$SLUSSD" --config "$tmp/slussd.yaml" >/dev/null 2>"$tmp/err"; rc=$?
[[ $rc != 0 ]] && grep -q "pools\[1\].name: pool 'small' is already pools\[0\]" "$tmp/err" && ok ||
  fail "duplicate pool names: rc $rc: $(cat "$tmp/err")"
write_config "$small"
echo "executor: local" >>"$tmp/slussd.yaml"
"$SLUSSD" --config "$tmp/slussd.yaml" >/dev/null 2>"$tmp/err"; rc=$?
[[ $rc != 0 ]] && grep -q "executor: with pools:, each pool names its executor" "$tmp/err" && ok ||
  fail "executor: with pools:: rc $rc: $(cat "$tmp/err")"
write_config "$small" '{name: k8s, executor: kubernetes}'
"$SLUSSD" --config "$tmp/slussd.yaml" >/dev/null 2>"$tmp/err"; rc=$?
[[ $rc != 0 ]] && grep -q "pools\[1\].executor: 'kubernetes' is not one of local, slurm" "$tmp/err" && ok ||
  fail "unknown executor: rc $rc: $(cat "$tmp/err")"

write_config "$small" "$big" "$theirs"
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
grep -q "pools=.*big:local" "$tmp/log" && ok || fail "ready line names the pools: $(grep ready "$tmp/log")"

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null

work=$tmp/work
mkdir -p "$work"
# tiny fits small; large only big; huge (2 CPUs, 4G) is within the largest
# pool's CPUs and memory (theirs), which does not take study, and fits
# neither small nor big.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  tiny:
    image: python-3.11
    run: "true"
    resources: {cpus: 1, memory: 256M, time: 5m}
  large:
    image: python-3.11
    run: "true"
    resources: {cpus: 2, memory: 2G, time: 5m}
  huge:
    image: python-3.11
    run: "true"
    resources: {cpus: 2, memory: 4G, time: 5m}
YAML
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm "pools" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
expect_rc "push" 0 $?
wait_status 1 tiny succeeded && ok || fail "tiny: $(job_field 1 tiny status_code): $("$SLUSS" run show 1)"
wait_status 1 large succeeded && ok || fail "large: $(job_field 1 large status_code): $("$SLUSS" run show 1)"
[[ $(job_field 1 tiny node) == small ]] && ok || fail "tiny ran on $(job_field 1 tiny node), not small"
[[ $(job_field 1 large node) == big ]] && ok || fail "large ran on $(job_field 1 large node), not big"
wait_status 1 huge waiting_on_resources && ok || fail "huge: $(job_field 1 huge status_code)"
reason=$(job_field 1 huge reason)
[[ $reason == "waiting_on_resources: needs 2 CPUs, 4G memory and 0 GPUs; no node pool for project study is that big (small has 1 CPUs, 1G, 0 GPUs; big has 2 CPUs, 3G, 0 GPUs)" ]] &&
  ok || fail "huge's reason: $reason"

# sluss nodes: each pool, its executor, used of capacity, running, pending.
"$SLUSS" nodes >"$tmp/out"; expect_rc "nodes" 0 $?
golden cli-nodes-pools.txt "$tmp/out"
"$SLUSS" nodes --json >"$tmp/nodes.json"; expect_rc "nodes --json" 0 $?
python3 - "$tmp/nodes.json" <<'EOF' && ok || fail "nodes --json: $(cat "$tmp/nodes.json")"
import json, sys
n = {x["name"]: x for x in json.load(open(sys.argv[1]))["nodes"]}
assert list(n) == ["small", "big", "theirs"], n
assert n["big"]["executor"] == "local" and n["big"]["cpus"] == "2" and n["big"]["memory"] == "3G", n
assert n["big"]["pending"] == 1 and n["big"]["running"] == 0, n["big"]  # huge could go there
assert n["theirs"]["projects"] == ["other"] and n["theirs"]["pending"] == 0, n["theirs"]
assert n["small"]["used"] == {"cpus": "0", "memory": "0", "gpus": 0}, n["small"]
EOF

# A pool removed while a job runs there: slussd dies, comes back without
# it; the job, still running under its sluss-run, is adopted and ends once.
"$SLUSS" cancel 3 >/dev/null 2>&1  # huge: out of the way
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  long:
    image: python-3.11
    run: "sleep 8"
    resources: {cpus: 1, memory: 256M, time: 5m}
YAML
git -C "$work" commit -qam "long" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
expect_rc "push long" 0 $?
wait_status 2 long executing && ok || fail "long: $(job_field 2 long status_code)"
[[ $(job_field 2 long node) == small ]] && ok || fail "long runs on $(job_field 2 long node), not small"
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
write_config "$big" "$theirs"
slussd_start 2
for _ in $(seq 300); do [[ $(job_field 2 long status_code) == succeeded ]] && break; sleep 0.1; done
[[ $(job_field 2 long status_code) == succeeded ]] && ok || fail "long after its pool left: $(job_field 2 long status_code): $(job_field 2 long reason)"
[[ $(job_field 2 long attempt) == 1 ]] && ok || fail "long ran $(job_field 2 long attempt) times"
jobdirs=$(ls -d "$tmp"/state/jobs/*/ | wc -l)
[[ $jobdirs == 3 ]] && ok || fail "job directories: $jobdirs (tiny, large, long: one attempt each)"
"$SLUSS" nodes --json | python3 -c 'import json,sys; n=[x["name"] for x in json.load(sys.stdin)["nodes"]]; assert n == ["big", "theirs"], n' &&
  ok || fail "nodes after the restart"
finish pools
