#!/usr/bin/env bash
# Latency: `git push` of a one-action pipeline -> the job running, and ->
# the job finished, against `sbatch --wait --wrap=...` on a real Slurm on
# this machine, in the same run.
#
#   bench/latency.sh [PUSHES]      (default 20; needs root: runc, Slurm)
#
# "Running" is when the job's own process runs: the job prints the clock
# (`date +%s%N`) first thing, in sluss and in Slurm alike. "Finished" is
# when the system says so: in sluss the job's end as slussd records it (what
# the API shows from then on), in Slurm the return of `sbatch --wait`. Each
# push is a new commit, so nothing is cached.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PUSHES=${1:-20}
source bench/lib.sh
[[ $(id -u) == 0 ]] || { echo "bench/latency.sh needs root (runc, Slurm)"; exit 1; }
bench_dir
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", (b - a) / 1e6}'; }

# --- sluss
sluss_up "$tmp" "$(nproc)"
work=$WORK
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  hello: {image: host, run: date +%s%N, resources: {cpus: 1, memory: 64M, time: 5m}}
YAML
: >"$tmp/sluss.run"; : >"$tmp/sluss.end"
for i in $(seq "$PUSHES"); do
  echo "$i" >"$work/push.txt"
  t0=$(now_ns)
  git_push "$work" "push $i"
  state=$(wait_run "$i" 120 0.05)
  [[ $state == succeeded ]] || { echo "sluss run $i ended $state" >&2; exit 1; }
  read -r job ended < <(api "/v1/runs/$i" | "$PY" -c '
import json, sys
from datetime import datetime
j = json.load(sys.stdin)["jobs"][0]
print(j["id"], int(datetime.fromisoformat(j["ended_at"].replace("Z", "+00:00")).timestamp() * 1e9))')
  started=$(api "/v1/jobs/$job/logs" | grep -o '[0-9]\{19\}' | head -1)
  ms "$t0" "$started" >>"$tmp/sluss.run"
  ms "$t0" "$ended" >>"$tmp/sluss.end"
done
sluss_down "$tmp"

# --- Slurm
slurm_up
: >"$tmp/slurm.run"; : >"$tmp/slurm.end"
for i in $(seq "$PUSHES"); do
  t0=$(now_ns)
  sbatch --wait --no-requeue -c 1 --mem=64M -o "$tmp/slurm-$i.out" --wrap='date +%s%N' >/dev/null
  t1=$(now_ns)
  ms "$t0" "$(head -1 "$tmp/slurm-$i.out")" >>"$tmp/slurm.run"
  ms "$t0" "$t1" >>"$tmp/slurm.end"
done

machine
echo "versions: $("$BUILD/daemon/slussd" --version), $(runc --version | head -1), $(git --version), $(sbatch --version)"
echo "load: $PUSHES submissions one after another, one trivial job each"
echo
printf '%-44s %9s %9s %9s %9s %9s\n' "submit to" "min ms" "p50 ms" "p95 ms" "max ms" "vs Slurm"
row() {  # row LABEL FILE BASE_FILE
  local mn p50 p95 mx b
  read -r mn _ mx <<<"$(stats <"$2")"
  p50=$(percentile 50 <"$2"); p95=$(percentile 95 <"$2")
  b=$(percentile 50 <"$3")
  printf '%-44s %9.1f %9.1f %9.1f %9.1f %8.2fx\n' "$1" "$mn" "$p50" "$p95" "$mx" \
    "$(awk -v a="$p50" -v b="$b" 'BEGIN {print a / b}')"
}
row "Slurm: sbatch -> job running (baseline)" "$tmp/slurm.run" "$tmp/slurm.run"
row "sluss: git push -> job running" "$tmp/sluss.run" "$tmp/slurm.run"
row "Slurm: sbatch --wait -> returns (baseline)" "$tmp/slurm.end" "$tmp/slurm.end"
row "sluss: git push -> job finished" "$tmp/sluss.end" "$tmp/slurm.end"
# Lines for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
summary() {  # summary FIGURE FILE PEER PEER_FILE GOAL
  local a b
  a=$(percentile 50 <"$2"); b=$(percentile 50 <"$4")
  echo "summary: $1; $(printf %.0f "$a") ms; $3; $(printf %.0f "$b") ms; $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2fx", a / b}'); $5"
}
echo
summary "latency, submit to job running, p50" "$tmp/sluss.run" "Slurm, sbatch" "$tmp/slurm.run" "< 1 s"
summary "latency, submit to job finished, p50" "$tmp/sluss.end" "Slurm, sbatch --wait" "$tmp/slurm.end" "-"
