#!/usr/bin/env bash
# The sluss CLI against a real slussd over loopback, as each role would use
# it: golden human output, --json shapes, exit codes, refusals.
# Usage: cli_server_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; if [[ -n ${KEEP:-} ]]; then echo "state: $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"
# Times move; the golden files say <age> and <time>.
normalise() { sed -E 's/(just now|[0-9]+[smhd] ago)/<age>/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/<time>/g'; }
golden() {  # name, file of actual output
  [[ -n ${UPDATE_GOLDEN:-} ]] && normalise <"$2" >"$ROOT/tests/golden/$1"
  if diff -u "$ROOT/tests/golden/$1" <(normalise <"$2"); then ok; else fail "golden $1"; fi
}

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
node: {name: node1, cpus: 8, memory: 64G, gpus: [0, 1]}
YAML
ADMIN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
[[ $ADMIN == slu_* ]] && ok || fail "offline admin token"
slussd_start 1

export SLUSS_TOKEN=$ADMIN
"$SLUSS" project create p1 --description "cohort study" >/dev/null; expect_rc "project create" 0 $?
"$SLUSS" project create p2 >/dev/null; expect_rc "project create p2" 0 $?
# A string from a user that holds terminal escapes (OSC: retitle, CSI:
# clear) prints escaped, never raw.
"$SLUSS" project create p3 --description $'evil\e]0;pwned\a\e[2J\r' >/dev/null; expect_rc "project create p3" 0 $?
"$SLUSS" projects >"$tmp/projects.out"
"$SLUSS" project show p3 >>"$tmp/projects.out"
grep -q $'[\e\a\r]' "$tmp/projects.out" && fail "raw escapes printed: $(od -c "$tmp/projects.out" | head)" || ok
grep -q 'evil\\x1b]0;pwned\\x07\\x1b\[2J\\x0d' "$tmp/projects.out" && ok || fail "escaped form: $(cat "$tmp/projects.out")"
"$SLUSS" project create p1 2>"$tmp/err"; expect_rc "duplicate project" 1 $?
grep -q "project 'p1' already exists" "$tmp/err" && ok || fail "duplicate message"
"$SLUSS" member add p1 alice@example.org >/dev/null; expect_rc "member add" 0 $?
ALICE=$("$SLUSS" token create --user alice@example.org --role researcher --name laptop 2>/dev/null)
[[ $ALICE == slu_* ]] && ok || fail "token create"
CHECKER=$("$SLUSS" token create --user carl@example.org --role checker 2>/dev/null)

# Seed one run per project as gitsync would (the push path is the next issue).
sqlite3 -cmd ".timeout 5000" "$tmp/state/sluss.db" <<'SQL' || fail "seed"
INSERT INTO runs(project, commit_sha, ref, trigger, submitted_by, state, errors, created_at, updated_at)
  VALUES ('p1', '0123456789abcdef0123456789abcdef01234567', 'refs/heads/main', 'push', 'alice@example.org', 'running', '[]', 1790000000000, 1790000000000),
         ('p2', 'fedcba9876543210fedcba9876543210fedcba98', 'refs/heads/main', 'push', 'bob@example.org', 'pending', '[]', 1790000000000, 1790000000000);
INSERT INTO jobs(run_id, project, action, state, status, reason, attempt, spec, cache_key, created_at, updated_at, started_at)
  VALUES (1, 'p1', 'extract', 'running', 'executing', '', 1, '{}', 'k1', 1790000000000, 1790000000000, 1790000000000),
         (1, 'p1', 'model', 'pending', 'waiting_on_dependencies', 'waiting_on_dependencies (extract)', 1, '{}', 'k2', 1790000000000, 1790000000000, NULL),
         (2, 'p2', 'secret', 'pending', 'waiting_on_quota', 'waiting_on_quota: project p2 uses 4 of 4 GPUs', 1, '{}', 'k3', 1790000000000, 1790000000000, NULL);
INSERT INTO job_needs(job_id, needs_id) VALUES (2, 1);
INSERT INTO job_events(job_id, at, from_status, to_status, reason, attempt)
  VALUES (1, 1790000000000, NULL, 'waiting_on_resources', '', 1), (1, 1790000000000, 'waiting_on_resources', 'preparing', '', 1),
         (1, 1790000000000, 'preparing', 'executing', '', 1), (2, 1790000000000, NULL, 'waiting_on_dependencies', 'waiting_on_dependencies (extract)', 1),
         (3, 1790000000000, NULL, 'waiting_on_quota', 'waiting_on_quota: project p2 uses 4 of 4 GPUs', 1);
SQL

# A researcher: sees p1 only, in the human tables.
SLUSS_TOKEN=$ALICE "$SLUSS" status >"$tmp/out"; expect_rc "status" 0 $?
golden cli-status-researcher.txt "$tmp/out"
# --all: every job, as before; the summary lists only what needs attention.
SLUSS_TOKEN=$ALICE "$SLUSS" status --all >"$tmp/out"; expect_rc "status --all" 0 $?
golden cli-status-all-researcher.txt "$tmp/out"
SLUSS_TOKEN=$ALICE "$SLUSS" runs >"$tmp/out"; expect_rc "runs" 0 $?
golden cli-runs-researcher.txt "$tmp/out"
SLUSS_TOKEN=$ALICE "$SLUSS" job show 2 >"$tmp/out"; expect_rc "job show" 0 $?
golden cli-job-show.txt "$tmp/out"
SLUSS_TOKEN=$ALICE "$SLUSS" run show 2 2>"$tmp/err"; expect_rc "other project's run" 3 $?
SLUSS_TOKEN=$ALICE "$SLUSS" job show 3 2>"$tmp/err"; expect_rc "other project's job" 3 $?
grep -qx "sluss: no job 3" "$tmp/err" && ok || fail "not found message: $(cat "$tmp/err")"
SLUSS_TOKEN=$ALICE "$SLUSS" nodes 2>"$tmp/err"; expect_rc "researcher nodes" 4 $?
SLUSS_TOKEN=$ALICE "$SLUSS" quota set p1 max.gpus=100 2>"$tmp/err"; expect_rc "researcher quota set" 4 $?
SLUSS_TOKEN=$ALICE "$SLUSS" hold 2 >"$tmp/out"; expect_rc "hold" 0 $?
grep -qx "job 2 (model): pending/held" "$tmp/out" && ok || fail "hold output: $(cat "$tmp/out")"
SLUSS_TOKEN=$ALICE "$SLUSS" release 2 >/dev/null; expect_rc "release" 0 $?
SLUSS_TOKEN=$CHECKER "$SLUSS" cancel 2 2>/dev/null; expect_rc "checker cancel" 4 $?
SLUSS_TOKEN=$ALICE "$SLUSS" cancel 2 >/dev/null; expect_rc "cancel" 0 $?
SLUSS_TOKEN=$ALICE "$SLUSS" cancel 2 2>"$tmp/err"; expect_rc "cancel twice" 1 $?

# --json: stable shapes for scripts.
SLUSS_TOKEN=$ALICE "$SLUSS" status --json >"$tmp/json"; expect_rc "status --json" 0 $?
python3 - "$tmp/json" <<'PY' && ok || fail "status --json shape"
import json, sys
d = json.load(open(sys.argv[1]))
run = d["runs"][0]
assert run["project"] == "p1" and run["state"] in ("running", "pending"), run
for j in run["jobs"]:
    assert set(["id", "action", "state", "status_code", "reason", "attempt", "needs", "created_at"]) <= set(j), j
assert len(d["runs"]) == 1
PY
"$SLUSS" runs --json --project p2 | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["runs"][0]["id"]==2 and "next_cursor" in d' && ok || fail "runs --json"

# Admin: quotas and nodes, human output.
"$SLUSS" quota set p1 max.gpus=4 per_job.max_time=24h max_running_jobs=20 >"$tmp/out"; expect_rc "quota set" 0 $?
golden cli-quota.txt "$tmp/out"
# Quotas are kept as given: 1.9951T is not rounded to 2T, neither stored
# nor shown (the daemon re-reads what it stored).
"$SLUSS" quota set p1 max.memory=1.9951T per_job.max_disk=1073741825 >/dev/null; expect_rc "quota set exact" 0 $?
"$SLUSS" quota get p1 >"$tmp/out"; expect_rc "quota get exact" 0 $?
grep -qE '^max\.memory +1\.9951T$' "$tmp/out" && grep -qE '^per_job\.max_disk +1073741825$' "$tmp/out" \
  && ok || fail "quota not as given: $(cat "$tmp/out")"
"$SLUSS" quota set p1 max.memory=null per_job.max_disk=null >/dev/null; expect_rc "quota unset" 0 $?
"$SLUSS" quota set p1 max.gpus=lots 2>"$tmp/err"; expect_rc "bad quota" 1 $?
grep -qx "sluss: max.gpus: expected a whole number from 0, or null for no limit" "$tmp/err" && ok || fail "quota message: $(cat "$tmp/err")"
"$SLUSS" nodes >"$tmp/out"; expect_rc "nodes" 0 $?
golden cli-nodes.txt "$tmp/out"

# /metrics is valid Prometheus text.
curl -sf -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$port/metrics" >"$tmp/metrics"; expect_rc "metrics" 0 $?
promtool check metrics <"$tmp/metrics" >"$tmp/promtool" 2>&1; expect_rc "promtool check metrics" 0 $?
grep -q 'sluss_jobs{project="p1",state="running"} 1' "$tmp/metrics" && ok || fail "metrics job gauge"

# Drain and pause, as an admin; refused to a researcher.
"$SLUSS" drain node1 --reason "disk swap" >/dev/null; expect_rc "drain" 0 $?
"$SLUSS" nodes | grep -q "^node1  drained" && ok || fail "drained node listed"
"$SLUSS" queue pause --reason "upgrade" >"$tmp/out"; expect_rc "queue pause" 0 $?
grep -q "^queue paused by admin@example.org .*: upgrade$" "$tmp/out" && ok || fail "queue output: $(cat "$tmp/out")"
SLUSS_TOKEN=$ALICE "$SLUSS" queue resume 2>/dev/null; expect_rc "researcher resume queue" 4 $?
"$SLUSS" queue resume >/dev/null; expect_rc "queue resume" 0 $?
"$SLUSS" resume node1 >/dev/null; expect_rc "node resume" 0 $?

# Usage errors, bad tokens, no server.
"$SLUSS" run 2>/dev/null; expect_rc "usage" 2 $?
"$SLUSS" runs --bogus 2>/dev/null; expect_rc "unknown option" 2 $?
SLUSS_TOKEN=slu_nope "$SLUSS" status 2>"$tmp/err"; expect_rc "bad token" 4 $?
grep -q "sluss token create" "$tmp/err" && ok || fail "bad token hint"
SLUSS_TOKEN= "$SLUSS" status --token "$ALICE" >/dev/null; expect_rc "--token flag" 0 $?
mkdir -p "$tmp/home/.config/sluss"
printf 'server: 127.0.0.1:%s\ntoken: %s\n' "$port" "$ALICE" >"$tmp/home/.config/sluss/config"
env -u SLUSS_TOKEN -u SLUSS_SERVER HOME="$tmp/home" "$SLUSS" whoami >"$tmp/out"; expect_rc "config file" 0 $?
grep -q "^alice@example.org (researcher)" "$tmp/out" && ok || fail "config file whoami"
SLUSS_SERVER=127.0.0.1:1 "$SLUSS" status 2>"$tmp/err"; expect_rc "no server" 1 $?
grep -q "cannot reach slussd" "$tmp/err" && ok || fail "no server message"

# Images: admins approve a directory; its digest is computed on the spot.
mkdir -p "$tmp/img/etc"
"$SLUSS" image add py312 "$tmp/img" 2>"$tmp/err"; expect_rc "image without mount points" 1 $?
grep -q "rootfs: image py312: .* has no /proc; an image needs the mount points" "$tmp/err" && ok || fail "image error: $(cat "$tmp/err")"
mkdir -p "$tmp/img/"{proc,dev,sys,tmp,workspace,data}
echo "3.12" >"$tmp/img/etc/version"
"$SLUSS" image add py312 "$tmp/img" >"$tmp/out"; expect_rc "image add" 0 $?
grep -q "^image py312 approved: sha256:[0-9a-f]\{64\}$" "$tmp/out" && ok || fail "image add: $(cat "$tmp/out")"
SLUSS_TOKEN=$ALICE "$SLUSS" image add mine "$tmp/img" 2>/dev/null; expect_rc "researcher image add" 4 $?
"$SLUSS" image add python-3.11 "$tmp/img" 2>"$tmp/err"; expect_rc "config image" 1 $?
SLUSS_TOKEN=$ALICE "$SLUSS" images >"$tmp/out"; expect_rc "images" 0 $?
grep -q "^py312 *rootfs *api *sha256:" "$tmp/out" && ok || fail "images: $(cat "$tmp/out")"
grep -q "^python-3.11 *host *config *sha256:" "$tmp/out" && ok || fail "images: $(cat "$tmp/out")"

kill -TERM "$pid"; wait "$pid"; expect_rc "slussd stop" 0 $?
pid=
grep -q "request actor=alice@example.org method=GET route=/v1/runs status=200" "$tmp/log" && ok || fail "request log"
# A registered image survives a restart.
slussd_start 2
"$SLUSS" images | grep -q "^py312 *rootfs *api" && ok || fail "image lost in a restart: $(tail -5 "$tmp/log")"
slussd_stop
finish cli_server
