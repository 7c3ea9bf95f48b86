#!/usr/bin/env bash
# Throughput: N trivial jobs (/bin/true) from first submit to last
# completion, through sluss and through a real Slurm on this machine, in the
# same run.
#
#   bench/throughput.sh [JOBS] [REPETITIONS] [SLURM_JOBS]
#       defaults 1000, 3, and JOBS; needs root (runc, Slurm's daemons)
#
# sluss: one `git push` of a sluss.yaml with JOBS independent actions, each
# `run: /bin/true` with 1 CPU, through the local executor and the real
# sandbox (runc, seccomp, cgroups, an output file system per job); the clock
# stops at the last job's recorded end. Slurm (scripts/slurm-local, started
# when not running): SLURM_JOBS `sbatch --wrap=true` with 1 CPU each, then
# one job array of as many; the clock stops when squeue is empty. Both see
# the same node: CPUS CPUs (env, default nproc). Slurm is configured for
# throughput (SchedulerParameters=batch_sched_delay=0,sched_min_interval=0;
# with Slurm's defaults it starts jobs every 3 s and is 3x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${1:-1000}
REPS=${2:-3}
SLURM_JOBS=${3:-$JOBS}
CPUS=${CPUS:-$(nproc)}
source bench/lib.sh
[[ $(id -u) == 0 ]] || { echo "bench/throughput.sh needs root (runc, Slurm)"; exit 1; }
bench_dir

# --- sluss
sluss_up "$tmp" "$CPUS"
work=$WORK
pipeline() {  # pipeline REP: JOBS independent actions (REP makes each push new)
  echo "version: 1"
  echo "actions:"
  for ((i = 1; i <= JOBS; i++)); do
    printf '  a%d: {image: host, run: /bin/true, env: {REP: "%s"}, resources: {cpus: 1, memory: 64M, time: 5m}}\n' "$i" "$1"
  done
}
: >"$tmp/sluss.s"
for rep in $(seq "$REPS"); do
  pipeline "$rep" >"$work/sluss.yaml"
  t0=$(now_ns)
  git_push "$work" "rep $rep"
  state=$(wait_run "$rep" 1200)
  [[ $state == succeeded ]] || { echo "sluss run $rep ended $state" >&2; exit 1; }
  # The end: the last job's end as slussd recorded it (ms resolution).
  end_ms=$(api "/v1/runs/$rep" | "$PY" -c '
import json, sys
from datetime import datetime
jobs = json.load(sys.stdin)["jobs"]
print(max(int(datetime.fromisoformat(j["ended_at"].replace("Z", "+00:00")).timestamp() * 1000) for j in jobs))')
  echo "$(( (end_ms * 1000000 - t0) / 1000000 ))" | awk '{printf "%.3f\n", $1 / 1000}' >>"$tmp/sluss.s"
  echo "sluss rep $rep: $(tail -1 "$tmp/sluss.s") s" >&2
done
sluss_down "$tmp"

# --- Slurm (SLURM_JOBS=0: sluss alone, for profiling)
: >"$tmp/sbatch.s"; : >"$tmp/array.s"
sbatch_version="no Slurm"
((SLURM_JOBS > 0)) && { slurm_up; sbatch_version=$(sbatch --version); }
for rep in $(seq "$REPS"); do
  ((SLURM_JOBS > 0)) || break
  t0=$(now_ns)
  for ((i = 0; i < SLURM_JOBS; i++)); do
    sbatch --parsable --no-requeue -c 1 --mem=64M -o /dev/null --wrap=true >/dev/null
  done
  slurm_drain
  echo $(( $(now_ns) - t0 )) | awk '{printf "%.3f\n", $1 / 1e9}' >>"$tmp/sbatch.s"
  echo "slurm sbatch rep $rep: $(tail -1 "$tmp/sbatch.s") s" >&2
  t0=$(now_ns)
  sbatch --parsable --no-requeue -c 1 --mem=64M -o /dev/null --array="1-$SLURM_JOBS" --wrap=true >/dev/null
  slurm_drain
  echo $(( $(now_ns) - t0 )) | awk '{printf "%.3f\n", $1 / 1e9}' >>"$tmp/array.s"
  echo "slurm array rep $rep: $(tail -1 "$tmp/array.s") s" >&2
done

machine
echo "versions: $("$BUILD/daemon/slussd" --version), $(runc --version | head -1), $sbatch_version"
echo "load: /bin/true x $JOBS (sluss) and x $SLURM_JOBS (Slurm), 1 CPU each, node of $CPUS CPUs; $REPS repetitions"
echo
printf '%-46s %7s %8s %8s %8s %9s %9s\n' "first submit to last completion" jobs "min s" "med s" "max s" "jobs/s" "vs Slurm"
read -r _ smed _ <<<"$(stats <"$tmp/sbatch.s")"
base=$(awk -v n="$SLURM_JOBS" -v s="$smed" 'BEGIN {print (s > 0) ? n / s : 0}')
row() {  # row LABEL JOBS FILE
  local mn md mx rate
  read -r mn md mx <<<"$(stats <"$3")"
  rate=$(awk -v n="$2" -v s="$md" 'BEGIN {printf "%.1f", n / s}')
  printf '%-46s %7d %8.2f %8.2f %8.2f %9s %8.1fx\n' "$1" "$2" "$mn" "$md" "$mx" "$rate" \
    "$(awk -v r="$rate" -v b="$base" 'BEGIN {print (b > 0) ? r / b : 0}')"
}
if ((SLURM_JOBS > 0)); then
  row "Slurm: sbatch --wrap=true each (baseline)" "$SLURM_JOBS" "$tmp/sbatch.s"
  row "Slurm: one job array" "$SLURM_JOBS" "$tmp/array.s"
fi
row "sluss: one push, local executor, runc" "$JOBS" "$tmp/sluss.s"
# One line for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
read -r _ md _ <<<"$(stats <"$tmp/sluss.s")"
rate=$(awk -v n="$JOBS" -v s="$md" 'BEGIN {printf "%.1f", n / s}')
echo
echo "summary: throughput, trivial jobs ($JOBS vs $SLURM_JOBS); $rate jobs/s; Slurm, sbatch each; $(printf %.1f "$base") jobs/s; $(awk -v r="$rate" -v b="$base" 'BEGIN {printf "%.1fx", (b > 0) ? r / b : 0}'); >= 10x"
