#!/usr/bin/env bash
# API throughput and latency with wrk, against slussd on loopback with
# 100,000 jobs in its store. Baseline in the same run: GET /healthz (no
# authentication, no database), the server's own ceiling.
#
#   bench/api.sh [SECONDS_PER_RUN] [REPETITIONS]      (defaults 5 and 3)
#
# Prints a table with min/median/max requests/s, p50 and p99 latency, and
# each endpoint's ratio to the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${1:-5}
REPS=${2:-3}
CONNS=${CONNS:-64}
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port, which slussd writes to repos/hook.env
log_level: warn
YAML
export SLUSS_TOKEN
SLUSS_TOKEN=$("$BUILD/daemon/slussd" token create --user bench@x --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
# 1,000 runs of 100 jobs each, written straight into the store.
sqlite3 "$tmp/state/sluss.db" <<'SQL'
INSERT INTO projects(name, created_at) VALUES ('p1', 0), ('p2', 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO runs(project, commit_sha, ref, trigger, submitted_by, state, created_at, updated_at)
  SELECT CASE WHEN i % 2 THEN 'p1' ELSE 'p2' END, printf('%040x', i), 'refs/heads/main', 'push',
         'alice@x', 'pending', 1790000000000 + i, 1790000000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
INSERT INTO jobs(run_id, project, action, state, status, reason, attempt, spec, cache_key, created_at, updated_at)
  SELECT i / 100 + 1, CASE WHEN (i / 100 + 1) % 2 THEN 'p1' ELSE 'p2' END, 'a' || (i % 100), 'pending',
         'waiting_on_resources', 'waiting_on_resources: needs 1 GPU', 1,
         '{"argv":["python3","analysis/a.py"],"image":"python-3.11"}', printf('sha256:%064x', i),
         1790000000000, 1790000000000 FROM n;
SQL
"$BUILD/daemon/slussd" --config "$tmp/slussd.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [[ -f $tmp/state/repos/hook.env ]] && break; sleep 0.05; done
url=$(. "$tmp/state/repos/hook.env" && echo "$SLUSS_API")
curl -sf -H "Authorization: Bearer $SLUSS_TOKEN" "$url/v1/jobs/12345" >/dev/null
# The engine's first cycle rewrites the reason of every seeded job (100,000
# transitions, several seconds); measure after it, with the engine's regular
# cycles over the 100,000 queued jobs still running, as in production.
for _ in $(seq 600); do
  curl -sf -H "Authorization: Bearer $SLUSS_TOKEN" "$url/metrics" |
    grep -q '^sluss_scheduler_cycle_seconds_count [1-9]' && break
  sleep 0.1
done
# Then until its audit checkpoint and WAL checkpoint of those writes are
# done: slussd using under a quarter of a core over two seconds.
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
for _ in $(seq 30); do
  a=$(cpu); sleep 2; b=$(cpu)
  (( b - a < 2 * $(getconf CLK_TCK) / 4 )) && break
done

cat >"$tmp/jobs.lua" <<'LUA'
local token = os.getenv("SLUSS_TOKEN")
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/jobs/" .. math.random(1, 100000), {["Authorization"] = "Bearer " .. token})
end
LUA
# Paced: each of 10 connections waits 10 ms between requests, so about
# 1,000 requests/s arrive, for the latency a user sees under normal load.
cat >"$tmp/paced.lua" <<'LUA'
local token = os.getenv("SLUSS_TOKEN")
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/jobs/" .. math.random(1, 100000), {["Authorization"] = "Bearer " .. token})
end
delay = function() return 10 end
LUA
cat >"$tmp/runs.lua" <<'LUA'
local token = os.getenv("SLUSS_TOKEN")
request = function()
  return wrk.format("GET", "/v1/runs?project=p1", {["Authorization"] = "Bearer " .. token})
end
LUA

# wrk's summary -> "rps p50_ms p99_ms"
measure() {  # extra wrk arguments...
  wrk -t1 -c"$CONNS" -d"${SECONDS_PER_RUN}s" --latency "$@" 2>&1 | awk '
    /Requests\/sec/ {rps=$2}
    $1=="50%" {p50=$2} $1=="99%" {p99=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    END {printf "%.0f %.2f %.2f\n", rps, ms(p50), ms(p99)}'
}
stats() {  # name, then lines "rps p50 p99" on stdin -> "name min median max p50 p99"
  sort -n | awk -v name="$1" '{r[NR]=$1; p50[NR]=$2; p99[NR]=$3}
    END {m=int((NR+1)/2); printf "%s %d %d %d %.2f %.2f\n", name, r[1], r[m], r[NR], p50[m], p99[m]}'
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "versions: $("$BUILD/daemon/slussd" --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), SQLite $(sqlite3 --version | cut -d' ' -f1)"
echo "load: wrk -t1 -c$CONNS -d${SECONDS_PER_RUN}s, $REPS repetitions, 100,000 jobs in the store"
results=()
for name in healthz job runs paced; do
  case $name in
    healthz) args=("$url/healthz") ;;
    job) args=(-s "$tmp/jobs.lua" "$url") ;;
    runs) args=(-s "$tmp/runs.lua" "$url") ;;
    paced) args=(-s "$tmp/paced.lua" "$url") ;;
  esac
  results+=("$(for _ in $(seq "$REPS"); do
    if [[ $name == paced ]]; then CONNS=10 measure "${args[@]}"; else measure "${args[@]}"; fi
  done | stats "$name")")
done
base=$(echo "${results[0]}" | awk '{print $3}')
printf '\n%-32s %9s %9s %9s %8s %8s %9s\n' endpoint "min r/s" "med r/s" "max r/s" "p50 ms" "p99 ms" "vs base"
for line in "${results[@]}"; do
  read -r name min med max p50 p99 <<<"$line"
  case $name in
    healthz) label="GET /healthz (baseline)" ;;
    job) label="GET /v1/jobs/{id} (random id)" ;;
    runs) label="GET /v1/runs?project=p1" ;;
    paced) label="GET /v1/jobs/{id} ~1,000 req/s" ;;
  esac
  printf '%-32s %9d %9d %9d %8.2f %8.2f %8.2fx\n' "$label" "$min" "$med" "$max" "$p50" "$p99" \
    "$(awk -v a="$med" -v b="$base" 'BEGIN {print a / b}')"
  case $name in
    job) job_line="$med r/s; GET /healthz; $base r/s; $(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2fx", a / b}')" ;;
    paced) paced_p99=$p99 ;;
  esac
done
# Lines for bench/run-all's table: figure; sluss; peer; peer's; ratio; goal.
echo
echo "summary: API, GET /v1/jobs/{id}, 64 connections; $job_line; >= 20,000 r/s"
echo "summary: API, p99 at ~1,000 requests/s; $paced_p99 ms; -; -; -; < 10 ms"
