# Shared by the benchmark scripts: source it after `cd` to the repository
# root, with BUILD set. Needs python3 and curl.

# Debian's python3, not a shim in front of it (pyenv's costs 50 ms of CPU a
# call, which the jobs being measured would share).
PY=/usr/bin/python3

# machine: the line every benchmark prints first.
machine() {
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, kernel $(uname -r)"
}

now_ns() { date +%s%N; }

# time_sluss_run SLUSS_RUN JOB_DIR EXIT_FILE RESULT_FILE: one job through
# sluss-run; its start to exit, and start to result.json (renamed into
# place: when the executor learns the outcome), in ns, appended to the two
# files. Fails unless the job succeeded.
time_sluss_run() {
  local t0 t1 r
  t0=$(now_ns); "$1" run "$2" >/dev/null; t1=$(now_ns)
  echo $((t1 - t0)) >>"$3"
  r=$(stat -c '%.9Y' "$2/result.json" | tr -d .)
  echo $((r - t0)) >>"$4"
  grep -q '"status": "succeeded"' "$2/result.json" || { echo "job $2 failed"; return 1; }
}

# stats: numbers on stdin (one per line) -> "min median max", 3 decimals.
stats() {
  sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print "- - -"; exit}
    printf "%.3f %.3f %.3f\n", a[1], a[int((NR+1)/2)], a[NR]}'
}

# percentile P: numbers on stdin -> the P-th percentile (nearest rank).
percentile() {
  sort -g | awk -v p="$1" '{a[NR]=$1} END {i=int((p/100)*NR+0.999999); if (i<1) i=1; printf "%.3f\n", a[i]}'
}

# bench_dir: a temporary directory for the benchmark in $tmp (readable by
# the jobs' uids), removed on exit with everything the benchmark started
# there (slussd, containers, mounts, a Slurm it started).
bench_dir() {
  tmp=$(mktemp -d /tmp/sluss-bench-XXXXXX)
  chmod 755 "$tmp"
  trap 'sluss_down "$tmp"; slurm_down; rm -rf "$tmp"' EXIT
}

# sluss_up DIR CPUS: slussd with its state in DIR/state on a free loopback
# port, the `host` image, a node of CPUS CPUs, a hosted project `bench` with
# no quota, and an empty git work tree in DIR/work to push from; sets
# SLUSS_SERVER, SLUSS_TOKEN (admin), SLUSS_URL, PUSH_URL, SLUSSD_PID and
# WORK. Jobs run for real: runc, the sandbox, SQLite.
sluss_up() {
  local dir=$1 cpus=$2 port
  cat >"$dir/slussd.yaml" <<YAML
state_dir: $dir/state
listen: 127.0.0.1:0   # any free port, named in the ready line
images: {host: {host: true}}
node: {cpus: $cpus, memory: 16G}
sandbox: {cgroup_parent: /sluss-bench}
YAML
  SLUSS_TOKEN=$("$BUILD/daemon/slussd" token create --user bench@example.org --role admin \
                  --config "$dir/slussd.yaml" 2>/dev/null)
  export SLUSS_TOKEN
  "$BUILD/daemon/slussd" --config "$dir/slussd.yaml" 2>"$dir/slussd.log" &
  SLUSSD_PID=$!
  for _ in $(seq 200); do grep -q " ready " "$dir/slussd.log" && break; sleep 0.05; done
  grep -q " ready " "$dir/slussd.log" || { echo "slussd did not start: $(tail -3 "$dir/slussd.log")" >&2; return 1; }
  port=$(sed -n 's|.* ready listen=http://127.0.0.1:\([0-9]*\) .*|\1|p' "$dir/slussd.log")
  export SLUSS_SERVER=127.0.0.1:$port SLUSS_URL=http://127.0.0.1:$port
  PUSH_URL=$("$BUILD/cli/sluss" project create bench --hosted --json |
             "$PY" -c 'import json,sys; print(json.load(sys.stdin)["push_url"])')
  "$BUILD/cli/sluss" member add bench bench@example.org >/dev/null
  WORK=$dir/work
  mkdir -p "$WORK"
  git -C "$WORK" init -q -b main
}

# sluss_down DIR: stops slussd, removes the containers and mounts it left.
sluss_down() {
  [[ -n ${SLUSSD_PID:-} ]] && { kill "$SLUSSD_PID"; wait "$SLUSSD_PID"; } 2>/dev/null
  SLUSSD_PID=
  local c d
  for c in $(runc list -q 2>/dev/null); do
    grep -q "$1" "/run/runc/$c/state.json" 2>/dev/null && runc delete -f "$c" >/dev/null 2>&1
  done
  for d in "$1"/state/jobs/*/output-mnt; do mountpoint -q "$d" 2>/dev/null && umount -l "$d"; done
  return 0
}

# api PATH: GET with the token; the JSON on stdout.
api() { curl -sf -H "Authorization: Bearer $SLUSS_TOKEN" "$SLUSS_URL$1"; }

# wait_run RUN [TIMEOUT_S] [INTERVAL_S]: polls (every 0.2 s by default, with
# curl alone: the poll must not take the CPUs the jobs need) until the run
# ends; prints its state. Fails after TIMEOUT_S (default 600).
wait_run() {
  local deadline=$(($(date +%s) + ${2:-600})) s
  while (($(date +%s) < deadline)); do
    s=$(api "/v1/runs?project=bench&limit=20" | grep -o "\"id\":$1,[^}]*" |
        grep -o '"state":"[a-z_]*"' | cut -d'"' -f4 || true)
    [[ -n $s && $s != pending && $s != running ]] && { echo "$s"; return 0; }
    sleep "${3:-0.2}"
  done
  echo "timeout"
  return 1
}

# git_push WORK MESSAGE: commits everything in WORK and pushes it to PUSH_URL.
git_push() {
  git -C "$1" add -A
  git -C "$1" -c user.name=Bench -c user.email=bench@example.org commit -qm "$2"
  git -C "$1" push -q "$PUSH_URL" HEAD:main 2>"${tmp:-/tmp}/push.err" || { cat "${tmp:-/tmp}/push.err" >&2; return 1; }
}

# slurm_up: starts scripts/slurm-local when it is not running (and notes to
# stop it again in slurm_down); exports SLURM_CONF.
slurm_up() {
  SLURM_STARTED=
  if ! scripts/slurm-local status >/dev/null 2>&1; then
    scripts/slurm-local start "$@" >&2
    SLURM_STARTED=1
  fi
  eval "$(scripts/slurm-local env)"
}
slurm_down() { [[ -n ${SLURM_STARTED:-} ]] && scripts/slurm-local stop >&2; SLURM_STARTED=; return 0; }

# slurm_drain: until squeue lists no job.
slurm_drain() {
  while [[ -n $(squeue -h -o %i 2>/dev/null) ]]; do sleep 0.05; done
}
