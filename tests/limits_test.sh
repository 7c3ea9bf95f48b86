#!/usr/bin/env bash
# The job contract, end to end: what a researcher declares in sluss.yaml is
# what the container gets. Pushed with the git CLI to a project slussd
# hosts, scheduled, run under sluss-run in real containers (RUNTIME: runc or
# crun), and checked where it takes effect: the job prints its own cgroup's
# limits and its output file system's size; a job over its memory ends
# oom_killed; a job over its time ends timed_out within its limit plus a few
# seconds; a GPU job sees exactly its (fake) device; a job under all its
# limits succeeds. Needs root; exit 77 otherwise.
#   limits_test.sh SLUSS SLUSSD REPO_ROOT [RUNTIME]
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
RUNTIME=${4:-runc}
# crun 1.8 refuses a host with cgroups in hybrid mode: run in a mount
# namespace without the v2 tree, where the host is plain v1 (as the sandbox
# test does).
if [[ $RUNTIME == crun && -z ${SLUSS_TEST_OWN_MOUNTS:-} ]] && mountpoint -q /sys/fs/cgroup/unified; then
  export SLUSS_TEST_OWN_MOUNTS=1
  exec unshare --mount --propagation private \
    bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
source "$(dirname "$0")/support/assert.sh"
if [[ $(id -u) != 0 ]] || ! command -v "$RUNTIME" >/dev/null; then
  echo "SKIP: running jobs needs root and $RUNTIME"
  exit 77
fi
tmp=$(mktemp -d /tmp/sluss-limits-XXXXXX)
pid=
source "$(dirname "$0")/support/jobs.sh"
trap stop_everything EXIT
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

# Two fake GPUs, as nvidia-ctk names them (by index and by UUID), and a
# CDI spec; the node offers one by UUID, one by index.
mkdir -p "$tmp/dev"
mknod "$tmp/dev/nvidia0" c 10 229 && mknod "$tmp/dev/nvidia1" c 1 11 && mknod "$tmp/dev/nvidiactl" c 10 229
cat >"$tmp/cdi.yaml" <<EOF
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia0, hostPath: $tmp/dev/nvidia0}
- name: GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia0, hostPath: $tmp/dev/nvidia0}
- name: "1"
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia1, hostPath: $tmp/dev/nvidia1}
- name: GPU-9a1b2c3d-0000-1111-2222-333344445555
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia1, hostPath: $tmp/dev/nvidia1}
containerEdits:
  deviceNodes:
  - {path: /dev/nvidiactl, hostPath: $tmp/dev/nvidiactl}
EOF
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
runtime: {name: $RUNTIME}
images: {python-3.11: {host: true}}
node: {cpus: 4, memory: 8G, gpus: [GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c, 1]}
sandbox: {cgroup_parent: /sluss-test-limits-$RUNTIME, output_limit: 64M, cdi_spec: $tmp/cdi.yaml}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
# One GPU under two names (index and UUID) would go to two jobs at once:
# slussd does not start, naming both.
sed -e "s|gpus: \[GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c, 1\]|gpus: [0, 1, GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c]|" \
    -e "s|$tmp/state|$tmp/state-twice|" "$tmp/slussd.yaml" >"$tmp/twice.yaml"
timeout 60 "$SLUSSD" --config "$tmp/twice.yaml" 2>"$tmp/twice.log"
expect_rc "a GPU named twice in node.gpus" 1 $?
grep -q "node.gpus: '0' and 'GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c' are one GPU" "$tmp/twice.log" && ok ||
  fail "a GPU named twice: $(cat "$tmp/twice.log")"
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
"$SLUSS" project create lim --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add lim alice@example.org >/dev/null
# One job below asks for more output space (100M) than the node's output
# limit (64M): the project's quota allows it.
"$SLUSS" quota set lim per_job.max_disk=128M >/dev/null; expect_rc "quota set max_disk" 0 $?

work=$tmp/work
mkdir -p "$work/analysis"
git -C "$work" init -q -b main
# The job reports the limits it lives under, from inside the container.
cat >"$work/analysis/limits.py" <<'EOF'
import json, os
def read(p):
    try:
        return open(p).read().strip()
    except OSError as e:
        return "unreadable: %s" % e
out = {}
if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # v2
    out["memory"] = read("/sys/fs/cgroup/memory.max")
    out["swap"] = read("/sys/fs/cgroup/memory.swap.max")
    quota, period = read("/sys/fs/cgroup/cpu.max").split()
else:
    out["memory"] = read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    out["swap"] = read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    out["tcp"] = read("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes")
    quota = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    period = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
out["cpu_quota"], out["cpu_period"] = int(quota), int(period)
st = os.statvfs("/workspace/output")
out["disk"] = st.f_blocks * st.f_frsize
out["gpus"] = sorted(d for d in os.listdir("/dev") if d.startswith("nvidia"))
out["cuda"] = os.environ.get("CUDA_VISIBLE_DEVICES")
print("LIMITS " + json.dumps(out))
EOF
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  declared:
    image: python-3.11
    run: python3 analysis/limits.py
    resources: {cpus: 250m, memory: 256M, time: 30s, disk: 100M}
  defaults:
    image: python-3.11
    run: python3 analysis/limits.py
  gpu:
    image: python-3.11
    run: python3 analysis/limits.py
    resources: {gpus: 1, cpus: 1, memory: 512M}
  hungry:
    image: python-3.11
    run: python3 -c "b = bytearray(512 << 20); print('allocated', len(b))"
    resources: {memory: 64M, time: 60s}
  sleepy:
    image: python-3.11
    run: python3 -c "import time; open('output/partial', 'wb').write(bytes(40 << 20)); time.sleep(120)"
    resources: {time: 5s, memory: 128M, disk: 64M}
    outputs: {sensitive: [output/partial]}
  nearfull:
    image: python-3.11
    run: python3 -c "import os; s = os.statvfs('output'); open('output/big', 'wb').write(bytes(s.f_bavail * s.f_frsize - (512 << 10)))"
    resources: {disk: 20M, memory: 128M}
    outputs: {sensitive: [output/big]}
  scratch:
    image: python-3.11
    run: python3 -c "open('/tmp/x', 'wb').write(bytes(100 << 20)); print('scratch ok')"
    resources: {disk: 10M, memory: 512M}
  modest:
    image: python-3.11
    run: python3 -c "b = bytearray(32 << 20); open('output/o.txt', 'w').write('ok')"
    resources: {cpus: 500m, memory: 128M, time: 60s, disk: 10M}
    outputs: {sensitive: [output/o.txt]}
YAML
git -C "$work" add -A && git -C "$work" commit -qm limits && git -C "$work" push -q "$push_url" main 2>"$tmp/push.log"
expect_rc "push" 0 $?

wait_end() {  # wait_end ACTION: until the job of run 1 has ended (90 s at most)
  local s
  for _ in $(seq 900); do
    s=$(job_field 1 "$1" state)
    [[ $s != pending && $s != running && -n $s ]] && return 0
    sleep 0.1
  done
  return 1
}
for a in declared defaults gpu hungry sleepy nearfull scratch modest; do
  wait_end "$a" || fail "$a did not end: $(job_field 1 "$a" reason)"
done
limits_of() {  # the LIMITS line the job printed
  SLUSS_TOKEN=$admin "$SLUSS" logs "$(job_field 1 "$1" id)" | sed -n 's/^LIMITS //p'
}

# 1. Declared limits, as the container's own cgroup and file system show them.
[[ $(job_field 1 declared status_code) == succeeded ]] && ok || fail "declared: $(job_field 1 declared reason)"
limits_of declared >"$tmp/declared.json"
python3 - "$tmp/declared.json" <<'EOF' && ok || fail "declared limits in the container: $(cat "$tmp/declared.json")"
import json, sys
l = json.load(open(sys.argv[1]))
assert l["memory"] == str(256 << 20), l          # memory: 256M
assert l["swap"] in (str(256 << 20), "0", "max"), l  # no swap beyond memory
assert l.get("tcp", str(256 << 20)) == str(256 << 20), l  # v1: socket buffers too
assert l["cpu_quota"] * 4 == l["cpu_period"], l  # cpus: 250m
mib = l["disk"] / (1 << 20)
assert 80 <= mib <= 100, l                       # disk: 100M (less ext4's own)
EOF
# ... and as the job's record says sluss-run enforced them.
[[ $(job_field 1 declared result.limits.memory_bytes) == $((256 << 20)) &&
   $(job_field 1 declared result.limits.milli_cpus) == 250 &&
   $(job_field 1 declared result.limits.time_limit_s) == 30 &&
   $(job_field 1 declared result.limits.output_bytes) == $((100 << 20)) ]] && ok ||
  fail "declared: result.limits $(job_field 1 declared result.limits)"

# 2. Undeclared resources get the defaults the scheduler counted: 1 CPU,
# 2 GiB, 1 h, the configured output limit (64M).
limits_of defaults >"$tmp/defaults.json"
python3 - "$tmp/defaults.json" <<'EOF' && ok || fail "default limits in the container: $(cat "$tmp/defaults.json")"
import json, sys
l = json.load(open(sys.argv[1]))
assert l["memory"] == str(2 << 30), l
assert l["cpu_quota"] == l["cpu_period"], l
assert 48 <= l["disk"] / (1 << 20) <= 64, l
assert l["gpus"] == [], l                        # no GPU unless asked
EOF
[[ $(job_field 1 defaults result.limits.time_limit_s) == 3600 ]] && ok || fail "default time: $(job_field 1 defaults result.limits)"

# 3. A GPU job sees exactly one GPU, numbered from 0 inside.
[[ $(job_field 1 gpu status_code) == succeeded ]] && ok || fail "gpu: $(job_field 1 gpu reason)"
limits_of gpu >"$tmp/gpu.json"
python3 - "$tmp/gpu.json" <<'EOF' && ok || fail "gpu job: $(cat "$tmp/gpu.json")"
import json, sys
l = json.load(open(sys.argv[1]))
assert l["memory"] == str(512 << 20), l
assert len([d for d in l["gpus"] if d[len("nvidia"):].isdigit()]) == 1, l
assert "nvidiactl" in l["gpus"], l
assert l["cuda"] == "0", l  # numbered from 0, whichever GPU it is
EOF
# Given by the name node.gpus uses, UUID or index.
[[ $(job_field 1 gpu result.gpus) =~ ^\[\'(GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c|1)\'\]$ ]] && ok ||
  fail "gpu: the job's result names $(job_field 1 gpu result.gpus)"
# The stored job row names its GPUs the same way, not by slot number:
# `sluss job show` and the API.
[[ $(job_field 1 gpu gpus) == "$(job_field 1 gpu result.gpus)" ]] && ok ||
  fail "gpu: the job row's GPUs $(job_field 1 gpu gpus), its result's $(job_field 1 gpu result.gpus)"
"$SLUSS" job show "$(job_field 1 gpu id)" --json >"$tmp/gpu-job.json"; expect_rc "job show" 0 $?
python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["gpus"]; assert g in (["GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c"], ["1"]), g' \
  "$tmp/gpu-job.json" && ok || fail "job show: $(cat "$tmp/gpu-job.json")"

# 4. Over its memory: oom_killed, with the kill counted.
[[ $(job_field 1 hungry status_code) == oom_killed ]] && ok ||
  fail "hungry: $(job_field 1 hungry status_code) $(job_field 1 hungry reason)"
[[ $(job_field 1 hungry result.oom_kills) -ge 1 ]] && ok || fail "hungry: no OOM kill counted"

# 5. Over its time: timed_out, within its limit plus a few seconds.
[[ $(job_field 1 sleepy status_code) == timed_out ]] && ok ||
  fail "sleepy: $(job_field 1 sleepy status_code) $(job_field 1 sleepy reason)"
wall=$(job_field 1 sleepy result.wall_seconds)
python3 -c "import sys; w = float(sys.argv[1]); sys.exit(0 if 5 <= w < 10 else 1)" "$wall" && ok ||
  fail "sleepy ran $wall s with a 5 s limit"
# ... and keeps no outputs: unfinished, and nothing may read them.
[[ $(job_field 1 sleepy result.outputs) == "[]" ]] && ok || fail "sleepy kept outputs: $(job_field 1 sleepy result.outputs)"

# 6. Close to its output space but not past it, exit 0: succeeded (not
# output_limit); /tmp is scratch of its own size, not bound by `disk`.
[[ $(job_field 1 nearfull status_code) == succeeded ]] && ok ||
  fail "nearfull: $(job_field 1 nearfull status_code) $(job_field 1 nearfull reason)"
[[ $(job_field 1 scratch status_code) == succeeded ]] && ok ||
  fail "scratch: $(job_field 1 scratch status_code) $(job_field 1 scratch reason)"

# 7. Under all its limits: succeeded, with its output.
[[ $(job_field 1 modest status_code) == succeeded ]] && ok || fail "modest: $(job_field 1 modest reason)"
[[ $(job_field 1 modest result.outputs) == *output/o.txt* ]] && ok || fail "modest: no output"

# 8. Refused at push: more memory than the project may use in all, named
# with its line, not left pending forever.
"$SLUSS" quota set lim max.memory=1G >/dev/null; expect_rc "quota set" 0 $?
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  big:
    image: python-3.11
    run: python3 -c "print(1)"
    resources: {memory: 2G}
YAML
git -C "$work" commit -qam big && git -C "$work" push -q "$push_url" main 2>"$tmp/push2.log"
for _ in $(seq 100); do [[ -n $("$SLUSS" run show 2 --json 2>/dev/null) ]] && break; sleep 0.1; done
"$SLUSS" run show 2 --json >"$tmp/run2.json"
python3 - "$tmp/run2.json" <<'EOF' && ok || fail "a run over max.memory: $(cat "$tmp/run2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["state"] == "failed" and not r["jobs"], r
assert r["errors"] == ["sluss.yaml:3:3: actions.big.resources: asks for 2G memory; "
                       "the project may use 1G in all (max.memory)"], r["errors"]
EOF

# 8. Output space is a file system on this host's disk: more than the
# project's per_job.max_disk, or with none the node's output limit (64M
# here), is refused at push.
"$SLUSS" quota set lim per_job.max_disk=none >/dev/null; expect_rc "quota unset max_disk" 0 $?
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  huge:
    image: python-3.11
    run: python3 -c "print(1)"
    resources: {memory: 128M, disk: 1T}
YAML
git -C "$work" commit -qam huge && git -C "$work" push -q "$push_url" main 2>"$tmp/push3.log"
for _ in $(seq 100); do [[ -n $("$SLUSS" run show 3 --json 2>/dev/null) ]] && break; sleep 0.1; done
"$SLUSS" run show 3 --json >"$tmp/run3.json"
python3 - "$tmp/run3.json" <<'EOF' && ok || fail "a run over the output limit: $(cat "$tmp/run3.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["state"] == "failed" and not r["jobs"], r
assert r["errors"] == ["sluss.yaml:3:3: actions.huge.resources: asks for 1T output space (disk); "
                       "the node's output limit is 64M per job (an admin may allow more with the "
                       "quota's per_job.max_disk)"], r["errors"]
EOF
"$SLUSS" quota set lim per_job.max_disk=512G >/dev/null; expect_rc "quota set max_disk" 0 $?
git -C "$work" commit -q --allow-empty -m again && git -C "$work" push -q "$push_url" main 2>/dev/null
for _ in $(seq 100); do [[ -n $("$SLUSS" run show 4 --json 2>/dev/null) ]] && break; sleep 0.1; done
"$SLUSS" run show 4 --json | grep -q "the project allows 512G per job (per_job.max_disk)" && ok ||
  fail "per_job.max_disk: $("$SLUSS" run show 4 --json)"

grep " ERROR " "$tmp/log" && fail "errors in slussd's log"
finish "limits ($RUNTIME)"
