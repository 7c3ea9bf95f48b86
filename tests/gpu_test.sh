#!/usr/bin/env bash
# GPU jobs through real runc without a GPU: a CDI spec in the shape that
# `nvidia-ctk cdi generate` writes (index and UUID names, "all", /dev/dri
# nodes, versioned driver libraries, create-symlinks / update-ldcache /
# chmod hooks) over fake device nodes of distinct numbers, a stand-in
# nvidia-ctk that records what it is asked and does it (with the real
# ldconfig), a stand-in libcuda.so.<version> whose devices are the
# /dev/nvidiaN it can open, and an image built as scripts/build-image's
# are (its own /usr, no ld cache for the driver). The CUDA probe of
# scripts/gpu-check runs in each job. Needs root; skipped with exit 77
# otherwise.
# slussd (when given) starts on this spec and refuses, naming the file, the
# entry and why, a spec that would open the host to jobs.
#   gpu_test.sh SLUSS_RUN SOURCE_DIR [RUNTIME [SLUSSD]]
set -uo pipefail
RUN=$1
SRC=$2
RUNTIME=${3:-runc}
SLUSSD=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/support/assert.sh"

if [[ $(id -u) != 0 ]]; then echo "SKIP: needs root"; exit 77; fi
command -v "$RUNTIME" >/dev/null || { echo "SKIP: $RUNTIME is not installed"; exit 77; }
command -v cc >/dev/null || { echo "SKIP: no C compiler for the stand-in libcuda"; exit 77; }
if [[ $RUNTIME == crun && -z ${SLUSS_TEST_OWN_MOUNTS:-} ]] && mountpoint -q /sys/fs/cgroup/unified; then
  export SLUSS_TEST_OWN_MOUNTS=1
  exec unshare --mount --propagation private \
    bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi

T=$(mktemp -d /tmp/sluss-gpu-XXXXXX)
chmod 755 "$T"
run_id=$(basename "$T" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')
cleanup() {
  for d in "$T"/jobs/*/rootfs "$T"/jobs/*/layer "$T"/jobs/*/output-mnt; do
    mountpoint -q "$d" 2>/dev/null && umount -l "$d"
  done
  [[ -n ${KEEP:-} ]] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
LIBDIR=/usr/lib/x86_64-linux-gnu
[[ $(uname -m) == x86_64 ]] || LIBDIR=/usr/lib/$(uname -m)-linux-gnu

# --- The driver's stand-ins: libraries, nvidia-smi, device nodes ---
mkdir -p "$T/drv" "$T/dev/dri" "$T/bin"
cc -O2 -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$T/drv/libcuda.so.999.12.3" \
  "$here/support/fake_libcuda.c" || { echo "cannot build the stand-in libcuda"; exit 1; }
cc -O2 -shared -fPIC -Wl,-soname,libnvidia-ml.so.1 -o "$T/drv/libnvidia-ml.so.999.12.3" \
  "$here/support/fake_libcuda.c"
printf '#!/bin/sh\necho "NVIDIA-SMI stand-in"\n' >"$T/drv/nvidia-smi"
chmod 755 "$T/drv/nvidia-smi"
# Distinct numbers, none of them among the runtime's default devices
# (null, zero, full, random, urandom, tty, console, ptmx, tun), so that
# each allow rule of the job's device cgroup can be told apart.
node() { mknod -m 0666 "$T/dev/$1" c "$2" "$3"; }
node nvidia0 10 229         # fuse
node nvidia1 1 11           # kmsg
node nvidiactl 10 256       # vga_arbiter
node nvidia-uvm 10 234      # btrfs-control
node dri/card1 10 257       # userfaultfd
node dri/renderD128 10 237  # loop-control

# --- A built image: its own /usr, sh and a few tools, the CUDA probe ---
IMG=$T/image
mkdir -p "$IMG"/{proc,dev,sys,tmp,workspace,data,run,etc/ld.so.conf.d,usr/bin,$LIBDIR}
chmod 1777 "$IMG/tmp"
cc -O2 -o "$IMG/usr/bin/cuda-probe" "$SRC/scripts/cuda-probe.c" || { echo "cannot build the probe"; exit 1; }
for tool in sh ls cat readlink sed cut; do cp -L "$(command -v $tool)" "$IMG/usr/bin/$tool"; done
for f in "$IMG"/usr/bin/*; do
  ldd "$f" | grep -o '/[^ ]*' | while read -r lib; do cp -L --parents "$lib" "$IMG" 2>/dev/null; done
done
ln -s usr/bin "$IMG/bin"
echo 'include /etc/ld.so.conf.d/*.conf' >"$IMG/etc/ld.so.conf"
cp /etc/ld.so.conf.d/*linux-gnu.conf "$IMG/etc/ld.so.conf.d/" 2>/dev/null
ldconfig -r "$IMG"   # the image's own cache, without the driver
cat >"$T/image.json" <<EOF
{"name": "built", "digest": "sha256:test", "rootfs": "$IMG", "host_binds": []}
EOF
digest() { "$RUN" image-digest "$IMG"; }
listing() { (cd "$IMG" && find . -printf '%y %m %U:%G %s %T@ %p %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }
digest >"$T/digest.before" && listing >"$T/listing.before"
[[ $(cat "$T/digest.before") == sha256:* ]] && ok || fail "image-digest: $(cat "$T/digest.before")"

# --- The stand-in nvidia-ctk: records each call, then does what it was
# asked in the container's root (found as nvidia-ctk finds it: the
# bundle's config.json from the state on stdin) ---
cat >"$T/bin/nvidia-ctk" <<EOF
#!/bin/sh
exec python3 "$T/bin/nvidia-ctk.py" "$T/hooks.log" "\$@"
EOF
cat >"$T/bin/nvidia-ctk.py" <<'EOF'
import json, os, subprocess, sys
log, args = sys.argv[1], sys.argv[2:]
state = json.load(sys.stdin)
sys.stderr = open(log + ".err", "a")
config = json.load(open(os.path.join(state["bundle"], "config.json")))
root = os.path.join(state["bundle"], config["root"]["path"])
with open(log, "a") as f:
    f.write(json.dumps({"id": state["id"], "status": state.get("status"), "args": args,
                        "root": root, "env": sorted(os.environ)}) + "\n")
def opts(name):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
cmd = args[1] if len(args) > 1 and args[0] == "hook" else ""
if cmd == "update-ldcache":
    with open(root + "/etc/ld.so.conf.d/00-nvcr-test.conf", "w") as f:
        f.write("\n".join(opts("--folder")) + "\n")
    subprocess.run(["/sbin/ldconfig", "-r", root], check=True)
elif cmd == "create-symlinks":
    for link in opts("--link"):
        target, path = link.split("::")
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        if not os.path.lexists(root + path):
            os.symlink(target, root + path)
elif cmd == "chmod":
    mode = int(opts("--mode")[0], 8)
    for p in opts("--path"):
        os.chmod(root + p, mode)
elif cmd == "make-node":  # what a careless hook might do: a node no rule allows
    for spec in opts("--node"):
        path, major, minor = spec.split(":")
        try:
            os.mknod(root + path, 0o20666, os.makedev(int(major), int(minor)))
            os.chmod(root + path, 0o666)
        except FileExistsError:
            pass
elif cmd == "fail":
    sys.exit("stand-in hook failed as asked")
else:
    sys.exit("stand-in nvidia-ctk: unknown " + " ".join(args))
EOF
chmod 755 "$T/bin/nvidia-ctk"

U0=GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16c
U1=GPU-9a1b2c3d-0000-1111-2222-333344445555
# gpu_edits N: the edits of GPU N, as nvidia-ctk gives them under each name.
gpu_edits() {
  cat <<EOF
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia$1
      hostPath: $T/dev/nvidia$1
EOF
  [[ $1 == 0 ]] && cat <<EOF
    - path: /dev/dri/card1
      hostPath: $T/dev/dri/card1
    - path: /dev/dri/renderD128
      hostPath: $T/dev/dri/renderD128
    hooks:
    - hookName: createContainer
      path: $T/bin/nvidia-ctk
      args: [nvidia-ctk, hook, create-symlinks, --link, "../card1::/dev/dri/by-path/pci-0000:3b:00.0-card", --link, "../renderD128::/dev/dri/by-path/pci-0000:3b:00.0-render"]
    - hookName: createContainer
      path: $T/bin/nvidia-ctk
      args: [nvidia-ctk, hook, chmod, --mode, "755", --path, /dev/dri]
EOF
  return 0
}
lib_mount() {
  cat <<EOF
  - hostPath: $T/drv/$1
    containerPath: $2
    options: [ro, nosuid, nodev, bind]
EOF
}
{
  cat <<EOF
---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
$(gpu_edits 0)
- name: $U0
$(gpu_edits 0)
- name: "1"
$(gpu_edits 1)
- name: $U1
$(gpu_edits 1)
- name: all
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia0, hostPath: $T/dev/nvidia0}
    - {path: /dev/nvidia1, hostPath: $T/dev/nvidia1}
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - {path: /dev/nvidiactl, hostPath: $T/dev/nvidiactl}
  - {path: /dev/nvidia-uvm, hostPath: $T/dev/nvidia-uvm}
  hooks:
  - hookName: createContainer
    path: $T/bin/nvidia-ctk
    args: [nvidia-ctk, hook, create-symlinks, --link, "libcuda.so.1::$LIBDIR/libcuda.so"]
    env: [NVIDIA_CTK_DEBUG=false]
  - hookName: createContainer
    path: $T/bin/nvidia-ctk
    args: [nvidia-ctk, hook, update-ldcache, --folder, $LIBDIR]
  - hookName: createContainer
    path: $T/bin/nvidia-ctk
    args: [nvidia-ctk, hook, make-node, --node, "/dev/nvidia1:1:11"]
  mounts:
$(lib_mount libcuda.so.999.12.3 "$LIBDIR/libcuda.so.999.12.3")
$(lib_mount libnvidia-ml.so.999.12.3 "$LIBDIR/libnvidia-ml.so.999.12.3")
$(lib_mount nvidia-smi /usr/bin/nvidia-smi)
EOF
} >"$T/cdi.yaml"

n=0
# job_spec_only NAME SCRIPT EXTRA_JSON: the spec of a job that runs
# `sh -c SCRIPT` in the built image, in $J.
job_spec_only() {
  local name=$1 script=$2 extra=$3
  n=$((n + 1))
  J="$T/jobs/$name"
  mkdir -p "$J/ws"
  python3 - "$J/spec.json" "$T" "$run_id-$n" "$script" "$extra" "$RUNTIME" <<'EOF'
import json, sys
path, t, n, script, extra, runtime = sys.argv[1:]
spec = {"version": 1, "id": "gt-%s" % n, "image": json.load(open(t + "/image.json")),
        "argv": ["sh", "-c", script], "workspace": path.rsplit("/", 1)[0] + "/ws",
        "runtime": runtime, "output_fs": "none", "outputs": [],
        "cgroup_parent": "/sluss-test-gpu", "cdi_spec": t + "/cdi.yaml",
        "limits": {"memory_bytes": 256 << 20, "time_limit_s": 60, "pids": 64,
                   "output_bytes": 16 << 20, "tmp_bytes": 16 << 20, "kill_grace_s": 2}}
spec.update(json.loads(extra))
json.dump(spec, open(path, "w"))
EOF
}
# job NAME SCRIPT EXTRA_JSON: the same, run to its end.
job() {
  job_spec_only "$@"
  "$RUN" run "$J" >"$J/run.out" 2>&1
}
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if v is not None else '')" "$J/result.json" "$1"; }
has() { grep -qx -- "$1" "$J/stdout.log"; }
why() { echo "(job $J: $(field message 2>/dev/null | head -c 600); stdout: $(head -c 2000 "$J/stdout.log" 2>/dev/null); stderr: $(head -c 1000 "$J/stderr.log" 2>/dev/null))"; }
no_mounts_left() {
  for d in "$J/rootfs" "$J/layer"; do
    mountpoint -q "$d" 2>/dev/null && { fail "$1: $d is still mounted"; return; }
  done
  ok
}

PROBE='echo "CUDA=$CUDA_VISIBLE_DEVICES NVIDIA=$NVIDIA_VISIBLE_DEVICES"
cuda-probe
for d in /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl /dev/nvidia-uvm /dev/dri/card1 /dev/dri/renderD128; do
  [ -e $d ] && echo "EXISTS $d"
  (exec 3>$d) 2>/dev/null && echo "OPENS $d"
done
cat /sys/fs/cgroup/devices/devices.list 2>/dev/null | sed "s/^/RULE /"
echo "LINK $(readlink '"$LIBDIR"'/libcuda.so) $(readlink '"$LIBDIR"'/libcuda.so.1) $(readlink /dev/dri/by-path/pci-0000:3b:00.0-render)"
ls -ld /dev/dri | cut -c1-10 | sed "s/^/DRI /"
nvidia-smi'

# --- 1. A job given GPU 0 sees exactly it, numbered 0, and CUDA works ---
job one "$PROBE" '{"gpus": ["0"]}'
[[ $(field status) == succeeded ]] && ok || fail "a GPU job $(why)"
has "CUDA=0 NVIDIA=0" && ok || fail "the job's GPUs are not numbered from 0 $(why)"
grep -q '"libcuda": true, "cuInit": 0, "devices": 1, .*"cuMemAlloc": 0' "$J/stdout.log" && ok ||
  fail "the CUDA probe does not see exactly one GPU $(why)"
has "OPENS /dev/nvidia0" && has "OPENS /dev/nvidiactl" && has "OPENS /dev/nvidia-uvm" &&
  has "OPENS /dev/dri/renderD128" && ok || fail "a given device does not open $(why)"
# A node of GPU 1 is in the job's /dev (a hook made it) but the device
# cgroup denies it; as root on the host the same node opens.
has "EXISTS /dev/nvidia1" && ok || fail "the hook's node is not in /dev $(why)"
has "OPENS /dev/nvidia1" && fail "a GPU not given opens (the device cgroup lets it through)" || ok
(exec 3>"$T/dev/nvidia1") && ok || fail "the node of GPU 1 does not open on the host either: the test proves nothing"
if grep -q '^RULE' "$J/stdout.log"; then  # cgroup v1: the job's own devices.list
  for rule in "c 10:229 rwm" "c 10:256 rwm" "c 10:234 rwm" "c 10:257 rwm" "c 10:237 rwm"; do
    has "RULE $rule" && ok || fail "devices.list lacks '$rule' $(why)"
  done
  grep -q '^RULE c 1:11 ' "$J/stdout.log" && fail "devices.list allows GPU 1" || ok
  grep -q '^RULE a ' "$J/stdout.log" && fail "devices.list allows everything" || ok
fi
has "LINK libcuda.so.1 libcuda.so.999.12.3 ../renderD128" && ok || fail "the hooks' links $(why)"
has "DRI drwxr-xr-x" && ok || fail "the chmod hook $(why)"
has "NVIDIA-SMI stand-in" && ok || fail "nvidia-smi is not mounted $(why)"
[[ $(field gpus) == "['0']" ]] && ok || fail "result.json gpus: $(field gpus)"
[[ $(field gpu_driver_version) == 999.12.3 ]] && ok || fail "driver version: $(field gpu_driver_version)"
# No NVML on this host: the result says the GPUs were not measured, and why.
python3 - "$J/result.json" <<'EOF' && ok || fail "gpu_usage: $(field gpu_usage)"
import json, sys
u = json.load(open(sys.argv[1]))["gpu_usage"]
assert u["source"].startswith("unavailable: libnvidia-ml.so.1 cannot be loaded"), u
assert u["samples"] == 0, u
EOF
python3 - "$T/hooks.log" "$J" <<'EOF' && ok || fail "the hooks were not called as the spec says: $(cat "$T/hooks.log")"
import json, sys
calls = [json.loads(l) for l in open(sys.argv[1])]
job = sys.argv[2]
# Every hook of GPU 0 and of the spec, once each, in the job's own layer.
assert [c["args"][1] for c in calls] == ["create-symlinks", "update-ldcache", "make-node",
                                          "create-symlinks", "chmod"], calls
# runc says "creating", crun "created": before the job starts, either way.
assert all(c["status"] in ("creating", "created") for c in calls), calls
assert all(c["root"] == job + "/rootfs" for c in calls), calls
assert calls[1]["args"][2:] == ["--folder", "/usr/lib/x86_64-linux-gnu"] or "aarch64" in calls[1]["args"][3], calls
assert "NVIDIA_CTK_DEBUG" in calls[0]["env"] and "NVIDIA_CTK_DEBUG" not in calls[1]["env"], calls
EOF
no_mounts_left "a GPU job's end"
[[ ! -e $IMG/etc/ld.so.conf.d/00-nvcr-test.conf && ! -e $IMG$LIBDIR/libcuda.so.999.12.3 ]] && ok ||
  fail "the hooks or the runtime wrote into the image"

# --- 2. By UUID, GPU 1: it alone, numbered 0 ---
: >"$T/hooks.log"
job uuid "$PROBE" "{\"gpus\": [\"$U1\"]}"
[[ $(field status) == succeeded ]] && ok || fail "a GPU job by UUID $(why)"
has "CUDA=0 NVIDIA=0" && ok || fail "numbered from 0 $(why)"
grep -q '"devices": 1, "names": \["Fake GPU /dev/nvidia1"\]' "$J/stdout.log" && ok || fail "GPU 1 by UUID $(why)"
has "EXISTS /dev/nvidia0" && fail "GPU 0 is in the job's /dev" || ok
has "EXISTS /dev/dri/card1" && fail "GPU 0's /dev/dri node is in the job" || ok
[[ $(field gpu_uuids) == *$U1* ]] && ok || fail "the UUID is not in result.json: $(field gpu_uuids)"

# --- 3. Two GPUs: 0 and 1 inside ---
job two "$PROBE" '{"gpus": ["0", "1"]}'
[[ $(field status) == succeeded ]] && ok || fail "a two-GPU job $(why)"
has "CUDA=0,1 NVIDIA=0,1" && ok || fail "two GPUs numbered 0,1 $(why)"
grep -q '"devices": 2,' "$J/stdout.log" && ok || fail "the probe sees two $(why)"

# --- 4. What cannot be applied ends the job with the reason, nothing left ---
job all 'true' '{"gpus": ["all"]}'
[[ $(field status) == internal_error && $(field message) == *"GPU 'all' is not in this node's CDI spec"* ]] &&
  ok || fail "all: $(why)"
cp "$T/cdi.yaml" "$T/cdi.good"
sed -i 's/^  mounts:$/  intelRdt: {closID: gpu}\n  mounts:/' "$T/cdi.yaml"
job rdt 'true' '{"gpus": ["0"]}'
[[ $(field status) == internal_error && $(field message) == *"'intelRdt'"* ]] && ok ||
  fail "an edit sluss cannot apply was not named: $(why)"
cp "$T/cdi.good" "$T/cdi.yaml"
mv "$T/dev/nvidia-uvm" "$T/dev/nvidia-uvm.away"
job missing 'true' '{"gpus": ["0"]}'
[[ $(field status) == internal_error && $(field message) == *"$T/dev/nvidia-uvm is missing"* ]] && ok ||
  fail "a missing device node: $(why)"
mv "$T/dev/nvidia-uvm.away" "$T/dev/nvidia-uvm"
sed -i 's/update-ldcache, --folder/fail, --folder/' "$T/cdi.yaml"
job hookfails 'echo RAN' '{"gpus": ["0"]}'
[[ $(field status) == internal_error && $(field message) == *"hook"* ]] && ok ||
  fail "a failing hook did not stop the job with a reason: $(why)"
has RAN && fail "the job ran although a hook failed" || ok
no_mounts_left "a job whose hook failed"
cp "$T/cdi.good" "$T/cdi.yaml"

# --- 5. A GPU job whose supervisor is killed: cleanup leaves no layer ---
job_spec_only lost 'echo UP; while :; do :; done' '{"gpus": ["0"]}'
"$RUN" start "$J" >/dev/null
for _ in $(seq 100); do grep -q UP "$J/stdout.log" 2>/dev/null && break; sleep 0.1; done
mountpoint -q "$J/rootfs" && ok || fail "a running GPU job has no layer of its own"
kill -9 "$(cat "$J/supervisor.pid")"
for _ in $(seq 50); do "$RUN" status "$J" | grep -q '"state":"lost"' && break; sleep 0.1; done
"$RUN" cleanup "$J" >/dev/null && ok || fail "cleanup of a lost GPU job failed"
[[ $(field status) == node_lost ]] && ok || fail "a lost GPU job: $(field status)"
no_mounts_left "a lost GPU job after cleanup"

# --- 6. After all of it the image is as it was ---
digest >"$T/digest.after" && listing >"$T/listing.after"
same "the image's digest" "$T/digest.before" "$T/digest.after"
same "the image's files" "$T/listing.before" "$T/listing.after"

# --- 7. What no GPU needs is refused: by sluss-run at a job's start, and
# by slussd at its start, naming the spec file, the entry and why ---
cp "$T/cdi.good" "$T/cdi.yaml"
sed -i 's/^  hooks:$/  hooks:\n  - {hookName: prestart, path: \/bin\/true}/' "$T/cdi.yaml"
job prestart 'echo RAN' '{"gpus": ["0"]}'
[[ $(field status) == internal_error && $(field message) == *"$T/cdi.yaml: the spec's containerEdits: the prestart hook /bin/true is refused"* ]] &&
  ok || fail "a prestart hook was not refused at the job's start: $(why)"
has RAN 2>/dev/null && fail "the job ran with a prestart hook in the spec" || ok
cp "$T/cdi.good" "$T/cdi.yaml"
if [[ -n $SLUSSD ]]; then
  mkdir -p "$T/sd"
  # slussd_with NAME: slussd on $T/cdi.yaml until ready (then stopped) or
  # its exit; rc in $sd_rc, log in $T/sd/NAME.log.
  slussd_with() {
    printf 'state_dir: %s\nlisten: 127.0.0.1:0\nsandbox: {cdi_spec: %s}\n' \
      "$T/sd/state" "$T/cdi.yaml" >"$T/sd/slussd.yaml"
    "$SLUSSD" --config "$T/sd/slussd.yaml" 2>"$T/sd/$1.log" &
    local p=$!
    for _ in $(seq 600); do
      grep -q " ready " "$T/sd/$1.log" 2>/dev/null && { kill -TERM "$p"; break; }
      kill -0 "$p" 2>/dev/null || break
      sleep 0.05
    done
    wait "$p"; sd_rc=$?
  }
  # refused NAME WORDS: slussd on the edited spec stops with rc 1, naming the
# spec file and WORDS.
  refused() {
    slussd_with "$1"
    [[ $sd_rc == 1 ]] && grep -F -- "$2" "$T/sd/$1.log" | grep -qF -- "$T/cdi.yaml: " && ok ||
      fail "slussd did not refuse $1 (rc $sd_rc): $(cat "$T/sd/$1.log")"
    grep -q " ready " "$T/sd/$1.log" && fail "slussd served with $1" || ok
    cp "$T/cdi.good" "$T/cdi.yaml"; chmod 644 "$T/cdi.yaml"
  }
  slussd_with nvidia
  grep -q " ready " "$T/sd/nvidia.log" && ok || fail "slussd did not start on nvidia-ctk's spec: $(cat "$T/sd/nvidia.log")"
  echo '  - {hostPath: /, containerPath: /host, options: [ro, rbind]}' >>"$T/cdi.yaml"
  refused root "the spec's containerEdits: the mount of host / at /host is refused: it is /"
  echo '  - {hostPath: /, containerPath: /host, type: tmpfs, options: [rbind]}' >>"$T/cdi.yaml"
  refused tmpfs-rbind "the tmpfs mount at /host is refused: only bind mounts (and tmpfs) are applied"
  ln -s /etc "$T/etc-link"
  echo "  - {hostPath: $T/etc-link, containerPath: /e}" >>"$T/cdi.yaml"
  refused etc "the mount of host /etc at /e is refused: it is /etc"
  echo "  - {hostPath: $T/sd/state/datasets, containerPath: /d}" >>"$T/cdi.yaml"
  refused datasets "is refused: it is inside $T/sd/state"
  echo "  - {hostPath: $T/sd, containerPath: /d}" >>"$T/cdi.yaml"
  refused state-parent "is refused: it holds $T/sd/state"
  mknod -m 0666 "$T/dev/blk" b 7 0
  sed -i "s|^  deviceNodes:\$|  deviceNodes:\n  - {path: /dev/loop0, hostPath: $T/dev/blk}|" "$T/cdi.yaml"
  refused block "the spec's containerEdits: device node /dev/loop0 (host $T/dev/blk) is refused: it is a block device"
  sed -i 's/^  hooks:$/  hooks:\n  - {hookName: createRuntime, path: \/bin\/true}/' "$T/cdi.yaml"
  refused createRuntime "the createRuntime hook /bin/true is refused: it would run in the host's namespaces"
  chmod 664 "$T/cdi.yaml"
  refused group-writable "the CDI spec $T/cdi.yaml is refused: $T/cdi.yaml is writable by its group or by others"
  chown 65534 "$T/bin/nvidia-ctk"
  refused hook-owner "the hook program $T/bin/nvidia-ctk is refused: $T/bin/nvidia-ctk is owned by uid 65534, not root"
  chown 0 "$T/bin/nvidia-ctk"
  chmod 757 "$T/bin"
  refused hook-dir "the hook program $T/bin/nvidia-ctk is refused: $T/bin is writable by its group or by others"
  chmod 755 "$T/bin"
  slussd_with again
  grep -q " ready " "$T/sd/again.log" && ok || fail "slussd did not start again on nvidia-ctk's spec: $(cat "$T/sd/again.log")"
fi

finish "gpu ($RUNTIME)"
