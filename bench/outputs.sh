#!/usr/bin/env bash
# Collecting many small outputs (issue 17): a real runc job writes N files
# (20,000 by default) of a few bytes into its output space; the same job
# with none of them declared is the baseline, so the difference is what
# collecting them costs (walk, hash, copy, one syncfs, the manifest).
#
#   bench/outputs.sh [N] [REPETITIONS]      (as root; defaults 20000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${1:-20000}
REPS=${2:-3}
RUNTIME=${RUNTIME:-runc}
source bench/lib.sh
T=$(mktemp -d /tmp/sluss-outputs-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$BUILD/sandbox/sluss-run" host-image "$T/img" >"$T/image.json"
id=$(basename "$T" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')

# spec DIR DECLARED(0/1)
spec() {
  mkdir -p "$1/ws"
  $PY - "$1" "$T" "$2" "$N" "$RUNTIME" "$id-$(basename "$1")" <<'EOF'
import json, sys
d, t, declared, n, runtime, cid = sys.argv[1:]
script = "cd /workspace/output && i=0; while [ $i -lt %s ]; do echo $i >f$i; i=$((i+1)); done" % n
spec = {"version": 1, "id": cid, "image": json.load(open(t + "/image.json")),
        "argv": ["sh", "-c", script], "workspace": d + "/ws", "runtime": runtime,
        "datasets": [], "outputs": ["output/*"] if declared == "1" else [],
        "cgroup_parent": "/sluss-bench",
        "limits": {"memory_bytes": 256 << 20, "time_limit_s": 300, "pids": 64,
                   "output_bytes": 1 << 30, "tmp_bytes": 16 << 20, "kill_grace_s": 2}}
json.dump(spec, open(d + "/spec.json", "w"))
EOF
}

machine
echo "runtime: $($RUNTIME --version | head -1), $N files of 2-6 bytes, $REPS repetitions"
for kind in undeclared declared; do
  : >"$T/$kind.times"; : >"$T/$kind.cpu"
  for r in $(seq "$REPS"); do
    d="$T/$kind-$r"
    spec "$d" "$([[ $kind == declared ]] && echo 1 || echo 0)"
    t0=$(now_ns); /usr/bin/time -f "%U %S" -o "$T/cpu" "$BUILD/sandbox/sluss-run" run "$d" >/dev/null; t1=$(now_ns)
    grep -q '"status": "succeeded"' "$d/result.json" || { echo "job $d failed: $(cat "$d/result.json")"; exit 1; }
    echo "$(( (t1 - t0) / 1000000 ))" >>"$T/$kind.times"
    awk '{print $1 + $2}' "$T/cpu" >>"$T/$kind.cpu"
    [[ $kind == declared ]] && count=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["outputs_count"], len(r["outputs"]), __import__("os").path.getsize(sys.argv[1]))' "$d/result.json")
    rm -rf "$d"
  done
done
read -r umin umed umax < <(awk '{print $1/1000}' "$T/undeclared.times" | stats)
read -r dmin dmed dmax < <(awk '{print $1/1000}' "$T/declared.times" | stats)
printf '%-34s %8s %8s %8s\n' "sluss-run run, seconds" min median max
printf '%-34s %8s %8s %8s\n' "job, outputs not declared" "$umin" "$umed" "$umax"
printf '%-34s %8s %8s %8s\n' "job, all $N declared" "$dmin" "$dmed" "$dmax"
read -r _ ucpu _ < <(stats <"$T/undeclared.cpu")
read -r _ dcpu _ < <(stats <"$T/declared.cpu")
awk -v a="$dmed" -v b="$umed" -v ca="$dcpu" -v cb="$ucpu" 'BEGIN {printf "collecting %s outputs (median difference): %.2f s wall, %.2f s CPU (user+sys of sluss-run and the job)\n", "'"$N"'", a - b, ca - cb}'
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r total listed size <<<"$count"
echo "result.json: $listed of $total outputs listed, $size bytes; MANIFEST.jsonl lists all"
