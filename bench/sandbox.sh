#!/usr/bin/env bash
# The sandbox's cost: start-to-exit of a /bin/true job through sluss-run
# against `runc run` (or `crun run`) of the same bundle, measured in the same
# run.
#
#   bench/sandbox.sh [REPETITIONS] [RUNTIME]   (default 20, runc; needs root)
#
# crun 1.8 refuses a host with cgroups in hybrid mode (this development
# host): with crun the benchmark runs in a mount namespace of its own
# without the v2 tree, where the host is plain v1.
#
# sluss-run does what `runc run` does (create, start, wait, delete: it runs
# the runtime's `run`) and more: writes config.json, makes the job's cgroup
# (the runtime's is its child), reads and removes it, collects and hashes
# outputs, writes result.json; with `output_fs: loop` it also makes, mounts
# and unmounts the job's ext4 output file system. Both rows of sluss-run are
# shown: loop (the default) and none; and, for loop, when its result.json
# appeared, which is when the daemon learns the job's outcome (the unmount
# overlaps the result's writing).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${1:-20}
RUNTIME=${2:-runc}
RUN="$BUILD/sandbox/sluss-run"
[[ $(id -u) == 0 ]] || { echo "bench/sandbox.sh needs root ($RUNTIME)"; exit 1; }
if [[ $RUNTIME == crun && -z ${SLUSS_BENCH_OWN_MOUNTS:-} ]] && mountpoint -q /sys/fs/cgroup/unified; then
  export SLUSS_BENCH_OWN_MOUNTS=1
  exec unshare --mount --propagation private \
    bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
tmp=$(mktemp -d /tmp/sluss-bench-XXXXXX)
# The baseline's runtime leaves the parent of its cgroup (the bundle's
# cgroupsPath is the job's cgroup's "job"), which sluss-run would remove.
trap 'rm -rf "$tmp"; rmdir /sys/fs/cgroup/*/sluss-bench/sluss-bench-proto 2>/dev/null || true' EXIT
"$RUN" host-image "$tmp/img" >"$tmp/image.json"
# As the local executor does: the runtime's version asked once.
runtime_version=$("$RUNTIME" --version | awk '/version/ {print $3; exit}')

specs() {  # specs DIR:ID:OUTPUT_FS...: the jobs' directories, made before any timing
  python3 - "$tmp/image.json" "$runtime_version" "$RUNTIME" "$@" <<'EOF'
import json, os, sys
image, version, runtime = sys.argv[1:4]
image = json.load(open(image))
for job in sys.argv[4:]:
    d, id_, fs = job.split(":")
    os.makedirs(d + "/ws")
    json.dump({"version": 1, "id": id_, "image": image, "argv": ["/bin/true"],
               "runtime": runtime, "runtime_version": version,
               "workspace": d + "/ws", "output_fs": fs, "cgroup_parent": "/sluss-bench",
               "limits": {"memory_bytes": 256 << 20, "time_limit_s": 60, "output_bytes": 64 << 20}},
              open(d + "/spec.json", "w"))
EOF
}
source bench/lib.sh  # now_ns, time_sluss_run
ms_stats() {  # ms_stats FILE: "min median max" in ms
  sort -n "$1" | awk '{a[NR]=$1} END {printf "%.1f %.1f %.1f", a[1]/1e6, a[int((NR+1)/2)]/1e6, a[NR]/1e6}'
}

# A bundle exactly as sluss-run writes it, for `$RUNTIME run`.
specs "$tmp/proto:sluss-bench-proto:none"
"$RUN" run "$tmp/proto" >/dev/null
bundle=$tmp/proto/bundle
# Every job's directory made first, so that no Python runs (and exits)
# just before one side's timing and not the other's.
jobs=()
for i in $(seq "$REPS"); do
  jobs+=("$tmp/none-$i:sluss-bench-none-$i:none" "$tmp/loop-$i:sluss-bench-loop-$i:loop")
done
specs "${jobs[@]}"

: >"$tmp/runc"; : >"$tmp/loop"; : >"$tmp/none"; : >"$tmp/result"
for i in $(seq "$REPS"); do
  t0=$(now_ns); "$RUNTIME" run --bundle "$bundle" "sluss-bench-runc-$i" >/dev/null 2>&1 </dev/null; t1=$(now_ns)
  echo $((t1 - t0)) >>"$tmp/runc"
  time_sluss_run "$RUN" "$tmp/none-$i" "$tmp/none" /dev/null
  # result.json: what the executor waits for; the runtime's delete and the
  # unmount may finish after it.
  time_sluss_run "$RUN" "$tmp/loop-$i" "$tmp/loop" "$tmp/result"
done

read -r rmin rmed rmax <<<"$(ms_stats "$tmp/runc")"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "versions: $("$RUNTIME" --version | head -1), kernel $(uname -r), cgroup $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cgroup_version"])' "$tmp/loop-1/result.json")"
echo "load: /bin/true, $REPS repetitions each, interleaved"
echo
printf '%-50s %8s %8s %8s %9s\n' "start to exit" "min ms" "med ms" "max ms" "vs $RUNTIME"
printf '%-50s %8s %8s %8s %9s\n' "$RUNTIME run, same bundle (baseline)" "$rmin" "$rmed" "$rmax" "1.00x"
for row in none loop; do
  read -r mn md mx <<<"$(ms_stats "$tmp/$row")"
  label="sluss-run run ($RUNTIME), output_fs: $row"
  [[ $row == loop ]] && label="$label (default)"
  printf '%-50s %8s %8s %8s %8.2fx\n' "$label" "$mn" "$md" "$mx" "$(awk -v a="$md" -v b="$rmed" 'BEGIN {print a / b}')"
  [[ $row == loop ]] && lmed=$md
done
read -r mn md mx <<<"$(ms_stats "$tmp/result")"
resmed=$md
printf '%-50s %8s %8s %8s %8.2fx\n' "sluss-run, start to result.json (loop)" "$mn" "$md" "$mx" \
  "$(awk -v a="$md" -v b="$rmed" 'BEGIN {print a / b}')"
# One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
echo
echo "summary: sandbox ($RUNTIME), /bin/true start to exit; $lmed ms; $RUNTIME run, same bundle; $rmed ms; $(awk -v a="$lmed" -v b="$rmed" 'BEGIN {printf "%.2fx", a / b}'); <= 1.3x"
echo "summary: sandbox ($RUNTIME), /bin/true start to result.json (the daemon knows the outcome); $resmed ms; $RUNTIME run, same bundle (to exit); $rmed ms; $(awk -v a="$resmed" -v b="$rmed" 'BEGIN {printf "%.2fx", a / b}'); <= 1.3x"
