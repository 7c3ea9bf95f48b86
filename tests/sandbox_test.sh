#!/usr/bin/env bash
# The sandbox, for real: sluss-run starts containers from the `host` image
# with the OCI runtime RUNTIME (runc or crun) and hostile jobs try to get
# out. Needs root (the runtime, loop mounts, cgroups); skipped with exit 77
# otherwise.
#   sandbox_test.sh SLUSS_RUN [RUNTIME]
set -uo pipefail
RUN=$1
RUNTIME=${2:-runc}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/support/assert.sh"

if [[ $(id -u) != 0 ]]; then
  echo "SKIP: the sandbox tests need root ($RUNTIME, loop devices, cgroups)"
  exit 77
fi
if ! command -v "$RUNTIME" >/dev/null; then
  echo "SKIP: $RUNTIME is not installed (scripts/install-deps installs it)"
  exit 77
fi
# crun 1.8 refuses a host with cgroups in hybrid mode (v1 controllers and a
# v2 tree at /sys/fs/cgroup/unified, as on this development host). In a
# mount namespace of the test's own, without the v2 tree, the host is plain
# v1, which crun supports: the test runs there.
if [[ $RUNTIME == crun && -z ${SLUSS_TEST_OWN_MOUNTS:-} ]] && mountpoint -q /sys/fs/cgroup/unified; then
  export SLUSS_TEST_OWN_MOUNTS=1
  exec unshare --mount --propagation private \
    bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi

T=$(mktemp -d /tmp/sluss-sandbox-XXXXXX)
# Container ids of this run only (another run may share the host's runc).
run_id=$(basename "$T" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')
cleanup() {
  for d in "$T"/jobs/*/output-mnt "$T"/jobs/own/*/output-mnt; do mountpoint -q "$d" 2>/dev/null && umount -l "$d"; done
  mountpoint -q "$T/jobs/own" 2>/dev/null && umount -l "$T/jobs/own"
  [[ -n ${listener:-} ]] && kill "$listener" 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
"$RUN" host-image "$T/img" >"$T/image.json" || { echo "cannot make the host image"; exit 1; }
mkdir -p "$T/data/rx" "$T/data/other" "$T/jobs"
echo "patient,drug" >"$T/data/rx/rx.csv"
echo "secret" >"$T/data/other/secret.csv"
n=0

# spec NAME SCRIPT [EXTRA_JSON]: writes the spec of a job that runs
# `sh -c SCRIPT` (dataset rx mounted) in a fresh directory, left in $J.
spec() {
  local name=$1 script=$2 extra=${3:-}
  n=$((n + 1))
  J="$T/jobs/$name"
  mkdir -p "$J/ws"
  echo "print('code')" >"$J/ws/analysis.py"
  python3 - "$J/spec.json" "$T" "$run_id-$n" "$script" "$extra" "$RUNTIME" <<'EOF'
import json, sys
path, t, n, script, extra, runtime = sys.argv[1:]
image = json.load(open(t + "/image.json"))
spec = {"version": 1, "id": "st-%s" % n, "image": image,
        "argv": ["sh", "-c", script], "workspace": path.rsplit("/", 1)[0] + "/ws",
        "runtime": runtime,
        "datasets": [{"name": "rx", "version": "v1", "path": t + "/data/rx"}],
        "outputs": [], "cgroup_parent": "/sluss-test",
        "limits": {"memory_bytes": 128 << 20, "time_limit_s": 30, "pids": 64,
                   "output_bytes": 32 << 20, "tmp_bytes": 16 << 20, "kill_grace_s": 2}}
if extra:
    for k, v in json.loads(extra).items():
        if isinstance(v, dict) and isinstance(spec.get(k), dict): spec[k].update(v)
        else: spec[k] = v
json.dump(spec, open(path, "w"))
EOF
}
# job NAME SCRIPT [EXTRA_JSON]: the same, run in the foreground to its end.
job() {
  spec "$@"
  "$RUN" run "$J" >"$J/run.out" 2>&1
}
# field KEY: a field of $J/result.json.
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if v is not None else '')" "$J/result.json" "$1"; }
expect() {  # expect WHAT ACTUAL EXPECTED
  [[ $2 == "$3" ]] && ok || fail "$1: got '$2', expected '$3' (job $J: $(field message 2>/dev/null))"
}
out() { cat "$J/stdout.log"; }

# --- The process and its privileges ---
job identity 'echo pid=$$; id -u; id -g; grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; hostname'
expect "succeeds" "$(field status)" succeeded
grep -q '^pid=1$' "$J/stdout.log" && ok || fail "the job is not PID 1: $(out)"
expect "uid" "$(sed -n 2p "$J/stdout.log")" 10000
expect "gid" "$(sed -n 3p "$J/stdout.log")" 10000
grep -qP '^CapEff:\t0000000000000000$' "$J/stdout.log" && ok || fail "CapEff not 0: $(out)"
grep -qP '^CapBnd:\t0000000000000000$' "$J/stdout.log" && ok || fail "CapBnd not 0: $(out)"
grep -qP '^NoNewPrivs:\t1$' "$J/stdout.log" && ok || fail "NoNewPrivs not 1: $(out)"
grep -qP '^Seccomp:\t2$' "$J/stdout.log" && ok || fail "seccomp not in filter mode: $(out)"
expect "runtime recorded" "$(field runtime)" "$RUNTIME"
expect "cgroup version" "$(field cgroup_version)" v1
[[ $(field config_sha256) =~ ^[0-9a-f]{64}$ ]] && ok || fail "no config.json hash"

# --- The file system ---
job readonly 'for p in /data/rx/x /workspace/x /usr/x /x /etc/x /data/new; do
  (echo x >"$p") 2>/dev/null && echo "WROTE $p"; done
  echo ok >/workspace/output/result.txt; stat -c %u /workspace/output/result.txt
  echo tmp >/tmp/t && echo tmp-ok; ls /data; cat /data/rx/rx.csv' '{"outputs": ["output/*.txt"]}'
expect "read-only job ends well" "$(field status)" succeeded
grep -q WROTE "$J/stdout.log" && fail "a read-only place was written: $(grep WROTE "$J/stdout.log")" || ok
grep -qx 10000 "$J/stdout.log" && ok || fail "output not owned by the job uid: $(out)"
grep -qx tmp-ok "$J/stdout.log" && ok || fail "/tmp not writable"
grep -qx rx "$J/stdout.log" && ok || fail "dataset rx not at /data/rx: $(out)"
grep -q other "$J/stdout.log" && fail "another dataset is visible" || ok
grep -qx patient,drug "$J/stdout.log" && ok || fail "dataset not readable"
[[ -f $J/outputs/output/result.txt ]] && ok || fail "output not collected"
[[ $(field outputs) == *result.txt* ]] && ok || fail "output not in result.json"

# The outputs are collected once the job's last process is gone (before the
# runtime has deleted the container): a file written at the very end is
# whole, and a process left behind cannot write after the collection.
job last-write '(sleep 1; echo late >/workspace/output/late.txt) &
  head -c 20000000 /dev/urandom >/workspace/output/end.bin' '{"outputs": ["output/*"]}'
expect "a job whose last act is an output" "$(field status)" succeeded
sum=$(sha256sum "$J/outputs/output/end.bin" | cut -d" " -f1)
python3 -c 'import json,sys; o={f["path"]: f for f in json.load(open(sys.argv[1]))["outputs"]}["output/end.bin"]
sys.exit(0 if o["size"] == 20000000 and o["sha256"] == sys.argv[2] else 1)' "$J/result.json" "$sum" && ok ||
  fail "the last output is not whole in result.json: $(field outputs)"
sleep 1.5
[[ -e $J/outputs/output/late.txt || $(field outputs) == *late.txt* ]] && fail "a process outlived the job" || ok

# 20,000 small outputs: all collected and hashed, but result.json (stored
# in the database, shown by `run show`) lists the first 1,000 and the count;
# MANIFEST.jsonl beside output/ lists every one, with the hash result.json
# recorded.
job many-outputs 'cd /workspace/output && i=0; while [ $i -lt 20000 ]; do echo $i >f$i; i=$((i+1)); done' \
  '{"outputs": ["output/*"], "limits": {"output_bytes": 268435456}}'
expect "a job with 20,000 outputs" "$(field status)" succeeded
python3 - "$J" <<'PY' && ok || fail "20,000 outputs: result.json or MANIFEST.jsonl wrong"
import hashlib, json, os, sys
j = sys.argv[1]
r = json.load(open(j + "/result.json"))
assert len(r["outputs"]) == 1000, len(r["outputs"])
assert r["outputs_count"] == 20000, r["outputs_count"]
assert os.path.getsize(j + "/result.json") < 300_000, os.path.getsize(j + "/result.json")
raw = open(j + "/outputs/MANIFEST.jsonl", "rb").read()
assert hashlib.sha256(raw).hexdigest() == r["outputs_manifest_sha256"]
lines = [json.loads(l) for l in raw.decode().splitlines()]
assert len(lines) == 20000 and len({l["path"] for l in lines}) == 20000
assert lines[:1000] == r["outputs"]
for l in lines[::997]:
    data = open(j + "/outputs/" + l["path"], "rb").read()
    assert hashlib.sha256(data).hexdigest() == l["sha256"] and len(data) == l["size"], l
PY
rm -rf "$J/outputs"

# /proc/self/mountinfo shows each bind mount's path inside its source file
# system: with the jobs' directory a file system of its own (as
# docs/operations.md asks of the state directory), no host path above it.
mkdir -p "$T/jobs/own" && mount -t tmpfs -o size=256m tmpfs "$T/jobs/own" || fail "mount tmpfs"
job own/mountinfo 'cat /proc/self/mountinfo'
expect "a job reading its mountinfo" "$(field status)" succeeded
grep -q "$T/jobs" "$J/stdout.log" && fail "the host's job directory is in mountinfo: $(grep "$T/jobs" "$J/stdout.log")" || ok
grep -q " /mountinfo/ws /workspace " "$J/stdout.log" && ok || fail "workspace not under its neutral path: $(grep ' /workspace ' "$J/stdout.log")"

# A pid file left by an earlier attempt (its supervisor died) does not make
# this attempt's outputs count as final before its job has even started.
spec stale-pid 'sleep 0.5; echo done >/workspace/output/a.txt' '{"outputs": ["output/a.txt"]}'
mkdir -p "$J/bundle" && sh -c 'echo $$' >"$J/bundle/container.pid"
"$RUN" run "$J" >"$J/run.out" 2>&1
expect "a job with an earlier attempt's pid file" "$(field status)" succeeded

# Another job's directories are not there at all.
job other-job "ls $T/jobs/readonly 2>&1; ls $T/data/other 2>&1; cat /proc/1/root/etc/hostname 2>&1 | head -1"
grep -q result.txt "$J/stdout.log" && fail "another job's files are visible" || ok
grep -q secret "$J/stdout.log" && fail "another dataset's files are visible" || ok

# An output that points outside is refused, not read.
job symlink 'ln -s /etc/shadow /workspace/output/leak.csv; ln -s /data/rx/rx.csv /workspace/output/rx.csv' '{"outputs": ["output/*.csv"]}'
expect "a symlinked output" "$(field status)" missing_outputs
[[ $(field message) == *"leak.csv is a symbolic link"* ]] && ok || fail "reason missing: $(field message)"
[[ -e $J/outputs/output/leak.csv ]] && fail "a symlink was followed" || ok

# Output names are the job's data: names that are not UTF-8, hold control
# characters or are kilobytes long are refused by name (escaped), never a
# crash of sluss-run; the other outputs are still collected.
names_job() {  # names_job NAME SCRIPT PATTERN EXPECTED_MESSAGE_PART
  job "$1" "echo ok >/workspace/output/good.csv; $2" "{\"outputs\": [\"$3\"]}"
  expect "$1" "$(field status)" missing_outputs
  [[ $(field message) == *"$4"* ]] && ok || fail "$1: message: $(field message)"
  [[ -f $J/outputs/output/good.csv ]] && ok || fail "$1: the good output was not collected"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$J/result.json" && ok || fail "$1: result.json is not JSON"
}
names_job names-utf8 "echo x >\"\$(printf '/workspace/output/caf\\377.csv')\"" 'output/*.csv' \
  'output/caf\xff.csv has a name that is not UTF-8'
names_job names-newline "echo x >\"\$(printf '/workspace/output/two\\nlines.csv')\"" 'output/*.csv' \
  'output/two\x0alines.csv has a control character'
names_job names-control "echo x >\"\$(printf '/workspace/output/esc\\033[2J.csv')\"" 'output/*.csv' \
  'output/esc\x1b[2J.csv has a control character'
names_job names-long 'd=/workspace/output; for i in $(seq 16); do d=$d/$(printf "%0250d" 0); mkdir $d || exit 9; done; echo x >$d/x.csv' \
  'output/**' 'has a path of 4028 bytes; the limit is 1024'

# Sparse files take nothing on the job's file system and everything when
# copied out: outputs count by their logical size, and what is past the
# limit (32M here) is not kept; the job ends output_limit.
job sparse 'for i in $(seq 30); do truncate -s 20M /workspace/output/s$i.bin || exit 9; done' '{"outputs": ["output/*.bin"]}'
expect "a job with 30 sparse files of 20M" "$(field status)" output_limit
[[ $(field message) == *"sparse files count in full"*"and 24 more"* ]] && ok || fail "sparse: $(field message)"
kept=$(du -sb "$J/outputs" | cut -f1)
[[ $kept -le $((32 << 20)) ]] && ok || fail "kept $kept bytes of outputs with a 32M limit"

# Writing past the output space fails as output_limit; the host disk is safe.
job fill 'dd if=/dev/zero of=/workspace/output/big bs=1M count=100 2>&1; exit 1'
expect "a job that fills its output space" "$(field status)" output_limit

# --- The network: none but its own loopback ---
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(120)' >"$T/port" &
listener=$!
for _ in $(seq 50); do [[ -s $T/port ]] && break; sleep 0.1; done
port=$(cat "$T/port")
job network "python3 -c 'import socket
try:
    socket.create_connection((\"127.0.0.1\", $port), timeout=2); print(\"CONNECTED\")
except OSError as e: print(\"refused\", e)
try:
    socket.create_connection((\"10.0.0.1\", 80), timeout=2); print(\"CONNECTED\")
except OSError as e: print(\"unreachable\", e)
s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); print(\"loopback ok\")'"
grep -q CONNECTED "$J/stdout.log" && fail "the job reached the host network: $(out)" || ok
grep -q "loopback ok" "$J/stdout.log" && ok || fail "no loopback in the job: $(out) $(cat "$J/stderr.log")"

# --- Limits ---
job memory "python3 -c 'x = b\"x\" * (512 << 20); print(len(x))'"
expect "4x the memory limit" "$(field status)" oom_killed
[[ $(field oom_kills) -ge 1 ]] && ok || fail "oom_kills not counted"
[[ $(field memory_peak_bytes) -gt $((100 << 20)) ]] && ok || fail "memory peak $(field memory_peak_bytes)"

# The process checks look for this run's own command lines: CTest may run
# this test for runc and for crun at the same time.
tag=$$
job forkbomb "bomb$tag() { bomb$tag | bomb$tag & }; bomb$tag; sleep 3" '{"limits": {"time_limit_s": 4}}'
[[ $(field pids_peak) -le 64 && $(field pids_peak) -gt 10 ]] && ok || fail "pids peak $(field pids_peak) with a limit of 64"
timeout 5 true && ok || fail "the host does not answer after a fork bomb"
pgrep -f "bomb$tag" >/dev/null && fail "fork bomb processes left on the host" || ok

job slow "sleep 1000$tag" '{"limits": {"time_limit_s": 1}}'
expect "a job past its time limit" "$(field status)" timed_out
pgrep -x -f "sleep 1000$tag" >/dev/null && fail "the timed-out job left a process" || ok
[[ -d /sys/fs/cgroup/memory/sluss-test/st-$run_id-$n ]] && fail "the job's cgroup was left" || ok

# --- Seccomp: ptrace, unshare, mount ---
job ptrace "python3 -c 'import ctypes,os; libc=ctypes.CDLL(None, use_errno=True)
print(\"ptrace\", libc.ptrace(0,0,0,0), os.strerror(ctypes.get_errno()))'; unshare -U true && echo UNSHARED; unshare -n true && echo UNSHARED; mount -t tmpfs x /tmp && echo MOUNTED; true"
grep -q "ptrace -1 Operation not permitted" "$J/stdout.log" && ok || fail "ptrace was not refused: $(out)"
grep -q UNSHARED "$J/stdout.log" && fail "unshare worked" || ok
grep -q MOUNTED "$J/stdout.log" && fail "mount worked" || ok

# --- Sockets: only AF_UNIX, AF_INET, AF_INET6 and NETLINK_ROUTE ---
# A refused family says EPERM (the filter), not EAFNOSUPPORT (a kernel
# without it): AF_VSOCK reaches the hypervisor, AF_PACKET raw frames.
spec sockets 'exec python3 /workspace/sockets.py'
cat >"$J/ws/sockets.py" <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.socket.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_int]
def try_socket(name, family, kind, proto=0):
    fd = libc.socket(family, kind, proto)
    err = ctypes.get_errno()
    print(name, "OPEN" if fd >= 0 else os.strerror(err), flush=True)
    if fd >= 0: os.close(fd)
STREAM, DGRAM, RAW = 1, 2, 3
try_socket("AF_UNIX", 1, STREAM)
try_socket("AF_INET", 2, STREAM)
try_socket("AF_INET6", 10, DGRAM)
try_socket("NETLINK_ROUTE", 16, RAW, 0)
for name, family, kind, proto in [
        ("AF_VSOCK", 40, STREAM, 0), ("AF_VSOCK_DGRAM", 40, DGRAM, 0),
        ("AF_PACKET", 17, RAW, 0x0300), ("AF_BLUETOOTH", 31, RAW, 0),
        ("AF_ALG", 38, 5, 0), ("AF_KEY", 15, RAW, 2), ("AF_XDP", 44, RAW, 0),
        ("AF_CAN", 29, RAW, 1), ("AF_TIPC", 30, 5, 0), ("AF_RDS", 21, 5, 0),
        ("AF_PPPOX", 24, DGRAM, 0), ("AF_LLC", 26, DGRAM, 0), ("AF_NFC", 39, DGRAM, 0),
        ("AF_SMC", 43, STREAM, 0), ("AF_QIPCRTR", 42, DGRAM, 0),
        ("NETLINK_AUDIT", 16, RAW, 9), ("NETLINK_KOBJECT_UEVENT", 16, RAW, 15),
        ("AF_VSOCK_HIGH_BITS", (1 << 32) | 40, STREAM, 0)]:
    try_socket(name, family, kind, proto)
import socket
a, b = socket.socketpair(); print("socketpair OPEN", flush=True)
PY
"$RUN" run "$J" >"$J/run.out" 2>&1
expect "a job trying socket families" "$(field status)" succeeded
for allowed in AF_UNIX AF_INET AF_INET6 NETLINK_ROUTE socketpair; do
  grep -qx "$allowed OPEN" "$J/stdout.log" && ok || fail "$allowed refused: $(out) $(cat "$J/stderr.log")"
done
for refused in AF_VSOCK AF_VSOCK_DGRAM AF_PACKET AF_BLUETOOTH AF_ALG AF_KEY AF_XDP AF_CAN AF_TIPC \
               AF_RDS AF_PPPOX AF_LLC AF_NFC AF_SMC AF_QIPCRTR NETLINK_AUDIT NETLINK_KOBJECT_UEVENT \
               AF_VSOCK_HIGH_BITS; do
  grep -qx "$refused Operation not permitted" "$J/stdout.log" && ok ||
    fail "$refused not refused by the filter: $(grep "^$refused " "$J/stdout.log")"
done

# --- 32-bit system calls (int 0x80, a classic way around a filter): the
# profile lists only the native architecture, so the kernel kills the job.
if [[ $(uname -m) == x86_64 ]] && command -v gcc >/dev/null; then
  cat >"$T/int80.c" <<'C'
#include <stdio.h>
int main(void) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory"); /* i386 getpid */
  printf("COMPAT getpid %ld\n", ret);
  return 0;
}
C
  if gcc -static -O2 -o "$T/int80" "$T/int80.c" 2>/dev/null; then
    spec compat 'exec /workspace/int80'
    install -m 0755 "$T/int80" "$J/ws/int80"
    "$RUN" run "$J" >"$J/run.out" 2>&1
    expect "a 32-bit system call" "$(field signal)" 31
    grep -q COMPAT "$J/stdout.log" && fail "a 32-bit system call got through: $(out)" || ok
  else
    echo "note: no static libc to build the int 0x80 check; skipped"
  fi
fi

# --- Exit codes ---
job failing 'echo about to fail >&2; exit 3'
expect "exit 3" "$(field status)" nonzero_exit
expect "exit code" "$(field exit_code)" 3
grep -q "about to fail" "$J/stderr.log" && ok || fail "stderr not kept"

# --- Logs are capped, the tail kept ---
job chatty 'python3 -c "
for i in range(60000): print(\"line %d ..................................................\" % i)
print(\"LAST\")"' '{"limits": {"log_bytes": 1048576}}'
expect "a chatty job" "$(field status)" succeeded
size=$(( $(stat -c %s "$J/stdout.log") + $(stat -c %s "$J/stdout.log.1") ))
[[ $size -le 1048576 && $size -gt 500000 ]] && ok || fail "kept $size bytes of log with a 1 MiB limit"
[[ $(tail -1 "$J/stdout.log") == LAST ]] && ok || fail "the log's tail was not kept"

# --- GPUs: exactly the devices given ---
mkdir -p "$T/dev"
# Mode 0666, as the driver makes its nodes (a job gets the host node's mode).
mknod -m 0666 "$T/dev/nvidia0" c 10 229 && mknod -m 0666 "$T/dev/nvidia1" c 1 11 && mknod -m 0666 "$T/dev/nvidiactl" c 10 256
cat >"$T/cdi.yaml" <<EOF
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: GPU-aaaa
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia0, hostPath: $T/dev/nvidia0}
- name: GPU-bbbb
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia1, hostPath: $T/dev/nvidia1}
containerEdits:
  deviceNodes:
  - {path: /dev/nvidiactl, hostPath: $T/dev/nvidiactl}
EOF
job gpu 'echo $NVIDIA_VISIBLE_DEVICES; ls /dev | grep nvidia; (exec 3<>/dev/nvidia0) && echo OPEN0; (exec 3<>/dev/nvidia1) 2>/dev/null && echo OPEN1; true' \
  "{\"gpus\": [\"GPU-aaaa\"], \"cdi_spec\": \"$T/cdi.yaml\"}"
expect "a GPU job" "$(field status)" succeeded
grep -qx 0 "$J/stdout.log" && ok || fail "NVIDIA_VISIBLE_DEVICES (numbered from 0 inside): $(out)"
grep -qx OPEN0 "$J/stdout.log" && ok || fail "the given GPU is not usable: $(out) $(cat "$J/stderr.log")"
grep -q OPEN1 "$J/stdout.log" && fail "a GPU not given was reachable" || ok
grep -qx nvidia1 "$J/stdout.log" && fail "a GPU not given is in /dev" || ok
[[ $(field gpus) == *GPU-aaaa* && $(field cdi_spec_sha256) =~ ^[0-9a-f]{64}$ ]] && ok || fail "GPUs not in result.json"
job gpu-unknown 'true' "{\"gpus\": [\"GPU-zzzz\"], \"cdi_spec\": \"$T/cdi.yaml\"}"
expect "an unknown GPU" "$(field status)" internal_error
mountpoint -q "$J/output-mnt" && fail "a job that could not start left its output file system mounted" || ok

# --- Detached, idempotent, cancellable ---
spec detached 'sleep 1000' "{\"id\": \"st-$run_id-detached\"}"
"$RUN" start "$J" | grep -q '"state":"running"' && ok || fail "start did not say running"
sleep 0.5
"$RUN" start "$J" | grep -q '"state":"running"' && ok || fail "a second start did not report the first"
[[ $("$RUNTIME" list -q 2>/dev/null | grep -c "^st-$run_id-detached$") == 1 ]] && ok || fail "not exactly one container: $("$RUNTIME" list -q)"
"$RUN" status "$J" | grep -q '"state":"running"' && ok || fail "status not running"
"$RUN" cancel "$J" && ok || fail "cancel failed"
for _ in $(seq 100); do [[ -f $J/result.json ]] && break; sleep 0.1; done
expect "a cancelled job" "$(field status)" cancelled
"$RUN" start "$J" | grep -q '"state":"finished"' && ok || fail "start after the end ran it again"
"$RUNTIME" list -q 2>/dev/null | grep -q "^st-$run_id-" && fail "containers left: $("$RUNTIME" list -q)" || ok
mountpoint -q "$J/output-mnt" && fail "output file system left mounted" || ok

finish "sandbox"
