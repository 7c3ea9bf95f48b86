#!/usr/bin/env bash
# sluss on Slurm against sbatch directly: the same JOBS trivial jobs on the
# same Slurm (scripts/slurm-local, a private one), in the same run; what
# sluss adds on top of Slurm.
#
#   bench/slurm_vs_sbatch.sh [JOBS]    default 1000; needs root and runc
#
# Each job prints the time it started (`date +%s%N`), 1 CPU, 64 MiB (and a
# time limit of 2 h: the engine counts a job's time from its launch, so a
# shorter one would end jobs still waiting in Slurm's queue).
# sluss: slussd with `executor: slurm`, one `git push` of a sluss.yaml with
# JOBS independent actions; each becomes a Slurm batch job running
# sluss-run, which runs the command in its sandbox (runc, cgroups, an
# output file system). The clock runs from the push to the last job's end
# as slussd recorded it. sbatch: JOBS `sbatch --wrap` of the same command,
# one after another, from the first call until squeue is empty.
# Submit to running: for sluss, from the push (when the researcher
# submitted every job) to the time each job's command printed; for
# sbatch, from each sbatch call to the time its job printed.
# Exit 77 (skipped) when Slurm cannot be started here.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${1:-1000}
source bench/lib.sh
[[ $(id -u) == 0 ]] || { echo "bench/slurm_vs_sbatch.sh needs root (runc, Slurm)"; exit 1; }
command -v runc >/dev/null || { echo "SKIP: runc is not installed"; exit 77; }
# A Slurm of this benchmark's own: another benchmark's jobs must not share
# its node, nor this one's theirs.
export SLURM_LOCAL_DIR=/var/tmp/sluss-slurm-bench SLURM_LOCAL_PORT=6967
bench_dir
rm -f "$SLURM_LOCAL_DIR/log/jobcomp.txt"  # this run's jobs only
if ! slurm_up 2>"$tmp/slurm-up.log"; then
  echo "SKIP: Slurm cannot be started here: $(tail -2 "$tmp/slurm-up.log")"
  exit 77
fi
cpus=$(sinfo -h -o %c | head -1)

# --- sbatch directly
mkdir -p "$tmp/sbatch"
: >"$tmp/sbatch.submit"
t0=$(now_ns)
for ((i = 1; i <= JOBS; i++)); do
  s=$(now_ns)
  id=$(sbatch --parsable --no-requeue -c 1 --mem=64M -o "$tmp/sbatch/%j.out" --wrap='date +%s%N')
  echo "$id $s" >>"$tmp/sbatch.submit"
done
slurm_drain
sbatch_s=$(echo $(( $(now_ns) - t0 )) | awk '{printf "%.3f", $1 / 1e9}')
sbatch_p50=$(while read -r id s; do
  st=$(head -1 "$tmp/sbatch/$id.out" 2>/dev/null) || continue
  echo $(( (st - s) / 1000000 ))
done <"$tmp/sbatch.submit" | percentile 50)
sbatch_p50=${sbatch_p50%.*}
echo "sbatch: $JOBS jobs in $sbatch_s s" >&2

# --- sluss, executor: slurm
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
executor: slurm
slurm: {conf: $SLURM_CONF, poll_interval: 1s}
images: {host: {host: true}}
# Admission is sluss's, placement Slurm's: sluss admits them all, and they
# wait in Slurm's queue (counted as running against sluss's quotas).
node: {cpus: $((JOBS + 8)), memory: $((JOBS + 8))G}
sandbox: {cgroup_parent: /sluss-bench-slurm}
git: {local_pusher: bench@example.org}   # pushed over the file path, as a researcher on this host would
YAML
SLUSS_TOKEN=$("$BUILD/daemon/slussd" token create --user bench@example.org --role admin \
                --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN
"$BUILD/daemon/slussd" --config "$tmp/slussd.yaml" 2>"$tmp/slussd.log" &
SLUSSD_PID=$!
for _ in $(seq 600); do grep -q " ready " "$tmp/slussd.log" && break; sleep 0.05; done
grep -q " ready " "$tmp/slussd.log" || { echo "slussd did not start: $(tail -3 "$tmp/slussd.log")" >&2; exit 1; }
port=$(sed -n 's|.* ready listen=http://127.0.0.1:\([0-9]*\) .*|\1|p' "$tmp/slussd.log")
export SLUSS_SERVER=127.0.0.1:$port SLUSS_URL=http://127.0.0.1:$port
PUSH_URL=$("$BUILD/cli/sluss" project create bench --hosted --json |
           "$PY" -c 'import json,sys; print(json.load(sys.stdin)["repo_path"])')
"$BUILD/cli/sluss" member add bench bench@example.org >/dev/null
work=$tmp/work
mkdir -p "$work"
git -C "$work" init -q -b main
{
  echo "version: 1"
  echo "actions:"
  for ((i = 1; i <= JOBS; i++)); do
    printf '  a%d: {image: host, run: "date +%%s%%N", resources: {cpus: 1, memory: 64M, time: 2h}}\n' "$i"
  done
} >"$work/sluss.yaml"
t0=$(now_ns)
git_push "$work" "the jobs"
state=$(wait_run 1 $((600 + JOBS * 5)) 1)
[[ $state == succeeded ]] || { echo "sluss run ended $state: $(tail -5 "$tmp/slussd.log")" >&2; exit 1; }
end_ms=$(api "/v1/runs/1" | "$PY" -c '
import json, sys
from datetime import datetime
jobs = json.load(sys.stdin)["jobs"]
print(max(int(datetime.fromisoformat(j["ended_at"].replace("Z", "+00:00")).timestamp() * 1000) for j in jobs))')
sluss_s=$(echo $((end_ms * 1000000 - t0)) | awk '{printf "%.3f", $1 / 1e9}')
sluss_p50=$(for f in "$tmp"/state/jobs/*/stdout.log; do
  st=$(head -1 "$f") && echo $(( (st - t0) / 1000000 ))
done | percentile 50)
sluss_p50=${sluss_p50%.*}
in_slurm=$(grep -c "sluss-.*-1-" "$SLURM_LOCAL_DIR/log/jobcomp.txt" || true)
echo "sluss: $JOBS jobs in $sluss_s s" >&2
sluss_down "$tmp"

machine
echo "versions: $("$BUILD/daemon/slussd" --version), $(runc --version | head -1), $(sbatch --version)"
echo "load: 'date +%s%N' x $JOBS, 1 CPU and 64 MiB each, one Slurm node of $cpus CPUs; $(uptime | sed 's/.*load average: /load average before: /')"
echo
printf '%-44s %6s %9s %8s %16s\n' "first submit to last completion" jobs s jobs/s "submit-to-run p50"
printf '%-44s %6d %9.3f %8.2f %13d ms\n' "Slurm: sbatch --wrap each (baseline)" "$JOBS" "$sbatch_s" \
  "$(awk -v n="$JOBS" -v s="$sbatch_s" 'BEGIN {print n / s}')" "$sbatch_p50"
printf '%-44s %6d %9.3f %8.2f %13d ms\n' "sluss on Slurm: one git push (runc sandbox)" "$JOBS" "$sluss_s" \
  "$(awk -v n="$JOBS" -v s="$sluss_s" 'BEGIN {print n / s}')" "$sluss_p50"
ratio=$(awk -v a="$sbatch_s" -v b="$sluss_s" 'BEGIN {printf "%.2f", a / b}')
echo
echo "sluss's throughput over sbatch's: ${ratio}x (goal >= 0.8x); submit-to-running p50 $sluss_p50 ms against $sbatch_p50 ms (goal: within 1000 ms); Slurm jobs named by sluss in jobcomp: $in_slurm"
echo "summary: throughput on Slurm, trivial jobs ($JOBS); $(awk -v n="$JOBS" -v s="$sluss_s" 'BEGIN {printf "%.2f", n / s}') jobs/s; Slurm, sbatch each; $(awk -v n="$JOBS" -v s="$sbatch_s" 'BEGIN {printf "%.2f", n / s}') jobs/s; ${ratio}x; >= 0.8x"
echo "summary: submit to running on Slurm, p50 ($JOBS jobs); $sluss_p50 ms; Slurm, sbatch each; $sbatch_p50 ms; $((sluss_p50 - sbatch_p50)) ms more; < 1000 ms more"
