#!/usr/bin/env bash
# The API under abuse (issue 18), on loopback, bounded in time (about a
# minute): slussd with a held job, then, one case after another, what broke
# it before. During each case a separate process asks GET /healthz every
# 20 ms, and slussd's peak resident memory is read (VmHWM, reset before each
# case through /proc/PID/clear_refs; needs root for that, else it is the
# peak since start).
#
#   bench/abuse.sh            (BUILD=build by default)
#
# Cases (bench/abuse.py): 1,000 followed logs hung up at random moments;
# 5,000 anonymous requests; 1,500 anonymous 1 MB bodies (300 at a time);
# 5,000 idle connections held for 5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port, which slussd writes to repos/hook.env
log_level: warn
YAML
token=$("$BUILD/daemon/slussd" token create --user bench@x --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
# One project with one held job: its log can be followed for ever.
sqlite3 "$tmp/state/sluss.db" <<'SQL'
INSERT INTO projects(name, created_at) VALUES ('p1', 0);
INSERT INTO runs(project, commit_sha, ref, trigger, submitted_by, state, created_at, updated_at)
  VALUES ('p1', printf('%040x', 1), 'refs/heads/main', 'push', 'bench@x', 'pending', 1790000000000, 1790000000000);
INSERT INTO jobs(run_id, project, action, state, status, reason, attempt, spec, cache_key, created_at, updated_at)
  VALUES (1, 'p1', 'a', 'pending', 'held', 'held: by bench', 1,
          '{"argv":["true"],"image":"host"}', printf('sha256:%064x', 1), 1790000000000, 1790000000000);
SQL
"$BUILD/daemon/slussd" --config "$tmp/slussd.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 200); do [[ -f $tmp/state/repos/hook.env ]] && break; sleep 0.05; done
url=$(. "$tmp/state/repos/hook.env" && echo "$SLUSS_API")
curl -sf "$url/healthz" >/dev/null

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, kernel $(uname -r)"
echo "versions: $("$BUILD/daemon/slussd" --version), Python $(python3 -c 'import platform; print(platform.python_version())')"
/usr/bin/python3 bench/abuse.py "$url" "$token" 1 "$pid"
kill -0 "$pid" && echo "slussd: still up" || { echo "slussd: DIED"; tail -20 "$tmp/log"; exit 1; }
