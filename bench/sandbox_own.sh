#!/usr/bin/env bash
# sluss-run's own cost, without a real runtime's: each job runs with
# build/bench/stub_runtime, which writes its pid file and exits (as `runc
# run` of a job that did nothing). So what is left is what sluss-run does
# around the runtime: the job's cgroup, config.json, the output file system
# (made, mounted, unmounted), the outputs, result.json, its own start and
# exit. Baseline in the same run: the stub runtime alone.
#
#   bench/sandbox_own.sh [REPETITIONS]   (default 40; needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${1:-40}
RUN="$BUILD/sandbox/sluss-run"
STUB=$(realpath "${STUB:-$BUILD/bench/stub_runtime}")
[[ $(id -u) == 0 ]] || { echo "bench/sandbox_own.sh needs root (cgroups, loop devices)"; exit 1; }
tmp=$(mktemp -d /tmp/sluss-bench-own-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$RUN" host-image "$tmp/img" >"$tmp/image.json"
jobs=()
for i in $(seq "$REPS"); do jobs+=("$tmp/none-$i:own-none-$i:none" "$tmp/loop-$i:own-loop-$i:loop"); done
python3 - "$tmp/image.json" "$STUB" "${jobs[@]}" <<'PY'
import json, os, sys
image, stub = json.load(open(sys.argv[1])), sys.argv[2]
for job in sys.argv[3:]:
    d, id_, fs = job.split(":")
    os.makedirs(d + "/ws")
    json.dump({"version": 1, "id": id_, "image": image, "argv": ["/bin/true"],
               "runtime": stub, "runtime_version": "1.0",
               "workspace": d + "/ws", "output_fs": fs, "cgroup_parent": "/sluss-bench-own",
               "limits": {"memory_bytes": 256 << 20, "time_limit_s": 60, "output_bytes": 64 << 20}},
              open(d + "/spec.json", "w"))
PY
source bench/lib.sh  # now_ns, time_sluss_run
ms_stats() {  # ms_stats FILE: "min median max" in ms
  sort -n "$1" | awk '{a[NR]=$1} END {printf "%.2f %.2f %.2f", a[1]/1e6, a[int((NR+1)/2)]/1e6, a[NR]/1e6}'
}
: >"$tmp/stub"
for row in none loop; do : >"$tmp/$row"; : >"$tmp/$row-result"; done
for i in $(seq "$REPS"); do
  t0=$(now_ns); "$STUB" run --pid-file "$tmp/stub.pid" x >/dev/null; t1=$(now_ns)
  echo $((t1 - t0)) >>"$tmp/stub"
  for row in none loop; do
    time_sluss_run "$RUN" "$tmp/$row-$i" "$tmp/$row" "$tmp/$row-result"
  done
done
rmdir /sys/fs/cgroup/*/sluss-bench-own 2>/dev/null || true

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "kernel $(uname -r); /bin/true with a stub runtime, $REPS repetitions each, interleaved"
echo
printf '%-52s %8s %8s %8s\n' "" "min ms" "med ms" "max ms"
read -r a b c <<<"$(ms_stats "$tmp/stub")"; printf '%-52s %8s %8s %8s\n' "stub runtime alone (baseline)" "$a" "$b" "$c"
stub_med=$b
for row in none loop; do
  read -r a b c <<<"$(ms_stats "$tmp/$row")"; printf '%-52s %8s %8s %8s\n' "sluss-run, output_fs: $row, start to exit" "$a" "$b" "$c"
  [[ $row == loop ]] && loop_med=$b
  read -r a b c <<<"$(ms_stats "$tmp/$row-result")"; printf '%-52s %8s %8s %8s\n' "sluss-run, output_fs: $row, start to result.json" "$a" "$b" "$c"
done
echo
echo "summary: sandbox, sluss-run's own cost (stub runtime, output_fs: loop), start to exit; $loop_med ms; stub runtime alone; $stub_med ms; -; -"
