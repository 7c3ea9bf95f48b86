#!/usr/bin/env bash
# A real repository costs no more per job than a one-file one (issue 26):
# JOBS trivial jobs (/bin/true) pushed from a repository of sluss.yaml alone
# and from one of FILES more files (2 KiB each, in 20 folders), alternated
# REPS times in the same slussd, so both see the same machine; each rep is a
# new commit. Drain rate: JOBS over first push to the last job's recorded
# end; slussd CPU: user+system ticks of slussd over the same span, per job.
#
#   bench/repo_size.sh [JOBS] [REPS] [FILES]    defaults 300, 2, 2000; root
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${1:-300}
REPS=${2:-2}
FILES=${3:-2000}
CPUS=${CPUS:-$(nproc)}
source bench/lib.sh
[[ $(id -u) == 0 ]] || { echo "bench/repo_size.sh needs root (runc)"; exit 1; }
bench_dir
sluss_up "$tmp" "$CPUS"
work=$WORK
# git over HTTPS with the token as the password (what `sluss auth setup-git`
# sets up), for this script's pushes only.
# Pushing takes the researcher role (the admin's token may not).
pusher=$("$BUILD/cli/sluss" token create --user bench@example.org --role researcher --name bench 2>/dev/null)
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader \
  GIT_CONFIG_VALUE_0="Authorization: Basic $(printf 'bench:%s' "$pusher" | base64 -w0)"
pipeline() {  # pipeline REP
  echo "version: 1"
  echo "actions:"
  for ((i = 1; i <= JOBS; i++)); do
    printf '  a%d: {image: host, run: /bin/true, env: {REP: "%s"}, resources: {cpus: 1, memory: 64M, time: 5m}}\n' "$i" "$1"
  done
}
files() {  # files on|off
  rm -rf "$work/src"
  [[ $1 == on ]] || return 0
  "$PY" - "$work/src" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "m%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.py" % i), "w") as f:
        f.write(("# file %d\n" % i) + "x = 1\n" * 340)
PY
}
ticks() { awk '{print $14 + $15}' "/proc/$SLUSSD_PID/stat"; }
hz=$(getconf CLK_TCK)
: >"$tmp/small.s"; : >"$tmp/big.s"; : >"$tmp/small.cpu"; : >"$tmp/big.cpu"
run=0
for rep in $(seq "$REPS"); do
  for kind in small big; do
    run=$((run + 1))
    files "$([[ $kind == big ]] && echo on || echo off)"
    pipeline "$run" >"$work/sluss.yaml"
    c0=$(ticks); t0=$(now_ns)
    git_push "$work" "$kind $rep"
    state=$(wait_run "$run" 1800)
    [[ $state == succeeded ]] || { echo "run $run ($kind) ended $state" >&2; exit 1; }
    c1=$(ticks)
    end_ms=$(api "/v1/runs/$run" | "$PY" -c '
import json, sys
from datetime import datetime
jobs = json.load(sys.stdin)["jobs"]
print(max(int(datetime.fromisoformat(j["ended_at"].replace("Z", "+00:00")).timestamp() * 1000) for j in jobs))')
    echo "$(( (end_ms * 1000000 - t0) / 1000000 ))" | awk '{printf "%.3f\n", $1 / 1000}' >>"$tmp/$kind.s"
    awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$JOBS" 'BEGIN {printf "%.1f\n", c * 1000 / hz / n}' >>"$tmp/$kind.cpu"
    echo "rep $rep $kind: $(tail -1 "$tmp/$kind.s") s, slussd $(tail -1 "$tmp/$kind.cpu") ms CPU per job" >&2
  done
done
left=$(find "$tmp/state/workspaces" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)

machine
echo "versions: $("$BUILD/daemon/slussd" --version), $(runc --version | head -1)"
echo "load: /bin/true x $JOBS per run, 1 CPU each, node of $CPUS CPUs; $REPS repetitions of each repository"
echo
printf '%-40s %6s %8s %8s %8s %8s %14s\n' "repository" jobs "min s" "med s" "max s" "jobs/s" "slussd ms/job"
row() {  # row LABEL KIND
  local mn md mx rate cpu
  read -r mn md mx <<<"$(stats <"$tmp/$2.s")"
  rate=$(awk -v n="$JOBS" -v s="$md" 'BEGIN {printf "%.1f", n / s}')
  cpu=$(sort -n "$tmp/$2.cpu" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  printf '%-40s %6d %8.2f %8.2f %8.2f %8s %14s\n' "$1" "$JOBS" "$mn" "$md" "$mx" "$rate" "$cpu"
}
row "sluss.yaml alone" small
row "sluss.yaml and $FILES files" big
echo "workspace directories left after the runs: $left"
read -r _ sm _ <<<"$(stats <"$tmp/small.s")"
read -r _ bm _ <<<"$(stats <"$tmp/big.s")"
echo
echo "summary: drain rate, $FILES-file repository vs one file ($JOBS jobs); $(awk -v n="$JOBS" -v s="$bm" 'BEGIN {printf "%.1f", n / s}') jobs/s; one file; $(awk -v n="$JOBS" -v s="$sm" 'BEGIN {printf "%.1f", n / s}') jobs/s; $(awk -v a="$sm" -v b="$bm" 'BEGIN {printf "%.2fx", a / b}'); >= 0.9x"
