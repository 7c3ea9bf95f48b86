#!/usr/bin/env bash
# git push submits work: real repositories made with the git CLI, pushed to a
# project that slussd hosts, with the runs read back through the sluss CLI.
# Usage: gitsync_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/permit.sh"
source "$(dirname "$0")/support/slussd.sh"
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
run_field() {  # jq-like: the newest run's field
  "$SLUSS" runs --json --project study --limit 1 | python3 -c "import json,sys; r=json.load(sys.stdin)['runs']; print(r[0]['$1'] if r else '')"
}
count_runs() { "$SLUSS" runs --json --project study --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))'; }

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
[[ -d $push_url/hooks ]] && ok || fail "no repository at $push_url"
"$SLUSS" member add study alice@example.org >/dev/null
mkdir -p "$tmp/data/rx" && echo "id,drug" >"$tmp/data/rx/rx.csv"
permit_setup study alice@example.org,admin@example.org "$tmp/data/rx"
# This test is about intake: the queue is paused so that no job runs (the
# run test runs them).
"$SLUSS" queue pause --reason "intake test" >/dev/null

# 1. Push the example study: the run exists when git push returns.
work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work"
rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main
git -C "$work" add .
git -C "$work" commit -qm "the study"
git -C "$work" push -q "$push_url" main 2>"$tmp/push1"; expect_rc "first push" 0 $?
grep -q "remote: sluss: run 1 for .*: 3 jobs (0 cached), pending" "$tmp/push1" && ok || fail "push output: $(cat "$tmp/push1")"
sha1=$(git -C "$work" rev-parse HEAD)
[[ $(run_field commit) == "$sha1" ]] && ok || fail "run commit"
[[ $(run_field submitted_by) == alice@example.org ]] && ok || fail "run author"
"$SLUSS" run show 1 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
jobs = {j["action"]: j for j in r["jobs"]}
assert set(jobs) == {"extract", "model", "table1"}, jobs
assert jobs["extract"]["status_code"] in ("waiting_on_resources", "paused"), jobs["extract"]
assert jobs["model"]["reason"] == "waiting_on_dependencies (extract)"
assert all(j["cache_key"].startswith("sha256:") for j in jobs.values())
' && ok || fail "run 1 jobs"

# 2. A second notification for the same tip creates nothing.
curl -sf -X POST -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/hooks/git/study" >/dev/null
[[ $(count_runs) == 1 ]] && ok || fail "duplicate run for the same commit"

# Forge webhooks: GitHub and Gitea sign the body (HMAC-SHA-256), GitLab sends
# the secret; a bad one is 401 and an audit record, never a fetch.
"$SLUSS" project webhook study --json >"$tmp/webhook.json"; expect_rc "webhook secret" 0 $?
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$tmp/webhook.json")
body='{"ref":"refs/heads/main","repository":{"full_name":"alice/study"}}'
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')
hook() {
  curl -s -o "$tmp/hook.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@" \
    --data "$body" "http://127.0.0.1:$port/v1/hooks/git/study"
}
[[ $(hook -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$sig") == 200 ]] && ok || fail "signed GitHub push: $(cat "$tmp/hook.out")"
[[ $(hook -H "X-Gitea-Event: push" -H "X-Hub-Signature-256: sha256=${sig%?}x") == 401 ]] && ok || fail "a bad signature was accepted"
[[ $(hook -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: $secret") == 200 ]] && ok || fail "GitLab token"
[[ $(hook -H "X-Gitlab-Token: not-the-secret") == 401 ]] && ok || fail "a wrong GitLab token was accepted"
[[ $(hook -H "X-GitHub-Event: ping" -H "X-Hub-Signature-256: sha256=$sig") == 200 ]] && grep -q '"ignored":"ping"' "$tmp/hook.out" \
  && ok || fail "ping: $(cat "$tmp/hook.out")"
[[ $(hook) == 401 ]] && ok || fail "an unsigned webhook was accepted"
[[ $(count_runs) == 1 ]] && ok || fail "a webhook for a known tip made a run"
curl -s -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/audit?limit=10000" | python3 -c '
import json, sys
every = json.load(sys.stdin)["records"]
recs = [r for r in every if r["subject"] == "/v1/hooks/git/study"]
# Refusals with no valid credential are counted per client and minute: the
# first of the minute is a record at once, the others one count after it.
assert any(r["action"] == "api.denied" and r["actor"] == "-" and "aggregated" in (r.get("payload") or "")
           for r in every), every
assert sum(r["action"] == "api.request" and r["actor"] == "hook:study" for r in recs) >= 3, recs
' && ok || fail "webhook refusals are not in the audit log"

# 3. An edit to the R script: only table1's cache key changes.
keys() { "$SLUSS" run show "$1" --json | python3 -c 'import json,sys; print(" ".join(j["action"]+"="+j["cache_key"] for j in sorted(json.load(sys.stdin)["jobs"], key=lambda j: j["action"])))'; }
echo "# a comment" >>"$work/analysis/table1.R"
git -C "$work" commit -qam "table1: a comment"
git -C "$work" push -q "$push_url" main 2>/dev/null
k1=$(keys 1); k2=$(keys 2)
python3 - "$k1" "$k2" <<'PY' && ok || fail "cache keys after an R edit: $k1 / $k2"
import sys
a = dict(x.split("=", 1) for x in sys.argv[1].split())
b = dict(x.split("=", 1) for x in sys.argv[2].split())
assert a["extract"] == b["extract"] and a["model"] == b["model"], (a, b)
assert a["table1"] != b["table1"]
PY

# 4. A broken sluss.yaml: a failed run whose errors give line and column.
sed -i 's/needs: \[extract\]/needs: [extrct]/' "$work/sluss.yaml"
git -C "$work" commit -qam "typo"
git -C "$work" push -q "$push_url" main 2>"$tmp/push4"
grep -q "remote: sluss: run 3 for .* failed: 2 errors in sluss.yaml" "$tmp/push4" && ok || fail "push 4 output: $(cat "$tmp/push4")"
[[ $(run_field state) == failed ]] && ok || fail "broken pipeline run state"
"$SLUSS" run show 3 >"$tmp/show3"
grep -q "sluss.yaml:16:13: actions.model.needs: no action named 'extrct' (did you mean 'extract'?)" "$tmp/show3" && ok || fail "error position: $(cat "$tmp/show3")"
SLUSS_TOKEN=$("$SLUSS" token create --user alice@example.org --role researcher 2>/dev/null) "$SLUSS" status >"$tmp/status"
grep -q "sluss.yaml:16:13" "$tmp/status" && ok || fail "sluss status shows the error"

# 5. An unapproved image is an error at its position.
git -C "$work" revert --no-edit HEAD >/dev/null
sed -i 's/image: r-4.2/image: r-9.9/' "$work/sluss.yaml"
line=$(grep -n "image: r-9.9" "$work/sluss.yaml" | cut -d: -f1)
git -C "$work" commit -qam "new R"
git -C "$work" push -q "$push_url" main 2>/dev/null
"$SLUSS" run show 4 | grep -q "sluss.yaml:$line:12: actions.table1.image: image 'r-9.9' is not approved; approved: python-3.11, r-4.2" && ok || fail "unapproved image: $("$SLUSS" run show 4)"

# 6. [skip sluss] creates nothing.
echo "# docs" >>"$work/README.md"
git -C "$work" add README.md
git -C "$work" commit -qm "docs only [skip sluss]"
before=$(count_runs)
git -C "$work" push -q "$push_url" main 2>"$tmp/push6"
[[ $(count_runs) == "$before" ]] && ok || fail "[skip sluss] made a run"
grep -q "\[skip sluss\], no run" "$tmp/push6" && ok || fail "skip output: $(cat "$tmp/push6")"

# 7. A force-push to an older commit: that tip gets its own run (once).
git -C "$work" reset -q --hard "$sha1"
echo "# forced" >>"$work/analysis/extract.py"
git -C "$work" commit -qam "rewrite"
git -C "$work" push -q -f "$push_url" main 2>/dev/null; expect_rc "force push" 0 $?
[[ $(run_field commit) == "$(git -C "$work" rev-parse HEAD)" ]] && ok || fail "force-pushed tip has no run"

# 8. Two pushes in quick succession: each tip gets exactly one run.
before=$(count_runs)
pushes=()
for i in 1 2; do
  echo "# quick $i" >>"$work/analysis/model.py"
  git -C "$work" commit -qam "quick $i"
  git -C "$work" push -q "$push_url" main 2>/dev/null &
  pushes+=($!)
done
wait "${pushes[@]}"
# One of two racing pushes may lose the ref lock; what the remote ended with
# must have exactly one run.
git -C "$work" push -q "$push_url" main 2>/dev/null
curl -sf -X POST -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/hooks/git/study" >/dev/null
"$SLUSS" runs --json --project study --limit 1000 | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
commits = [r["commit"] for r in runs]
assert len(commits) == len(set(commits)), "two runs for one commit"
' && ok || fail "duplicate runs after quick pushes"
[[ $(run_field commit) == "$(git ls-remote "$push_url" refs/heads/main | cut -f1)" ]] && ok || fail "last quick push has no run"

# 9. A branch deleted, another branch pushed: only the tracked branch counts.
before=$(count_runs)
git -C "$work" push -q "$push_url" main:refs/heads/experiment 2>/dev/null
git -C "$work" push -q "$push_url" :refs/heads/experiment 2>/dev/null; expect_rc "branch delete" 0 $?
[[ $(count_runs) == "$before" ]] && ok || fail "an untracked branch made a run"

# 10. A push while slussd is down is picked up when it starts.
kill -TERM "$pid"; wait "$pid"; pid=
echo "# while down" >>"$work/analysis/model.py"
git -C "$work" commit -qam "while down"
git -C "$work" push -q "$push_url" main 2>"$tmp/push10"; expect_rc "push while down" 0 $?
grep -q "slussd did not answer" "$tmp/push10" && ok || fail "push while down output: $(cat "$tmp/push10")"
slussd_start 2
[[ $(run_field commit) == "$(git -C "$work" rev-parse HEAD)" ]] && ok || fail "push made while down has no run"

# 11. The hook token may only notify, and only for its project.
hook_token=$(sed -n "s/.*Bearer \(slu_[0-9a-f]*\).*/\1/p" "$push_url/hooks/sluss-token")
[[ -n $hook_token ]] && ok || fail "no token in the hook"
SLUSS_TOKEN=$hook_token "$SLUSS" runs 2>/dev/null; expect_rc "hook token lists runs" 4 $?
"$SLUSS" project create other >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $hook_token" "http://127.0.0.1:$port/v1/hooks/git/other")
[[ $code == 404 ]] && ok || fail "hook token on another project: $code"

# 12. A run started through the API: only the asked action and its needs,
# the cache ignored with --force; unknown actions and refs are refused.
"$SLUSS" run start study --actions table1 --force --json >"$tmp/start.json"; expect_rc "run start" 0 $?
python3 - "$tmp/start.json" <<'PY' && ok || fail "run start shape: $(cat "$tmp/start.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["trigger"] == "api" and r["submitted_by"] == "admin@example.org", r
assert sorted(j["action"] for j in r["jobs"]) == ["extract", "table1"], r["jobs"]
PY
"$SLUSS" run start study --actions nope 2>"$tmp/err"; expect_rc "unknown action" 1 $?
grep -q "has no action 'nope'" "$tmp/err" && ok || fail "unknown action message: $(cat "$tmp/err")"
"$SLUSS" run start study --ref nope 2>/dev/null; expect_rc "unknown branch" 3 $?
SLUSS_TOKEN=$(SLUSS_TOKEN=$SLUSS_TOKEN "$SLUSS" token create --user carl@example.org --role checker 2>/dev/null) \
  "$SLUSS" run start study 2>/dev/null; expect_rc "checker may not start runs" 4 $?

# 13. A remote repository (here a local path): mirrored on a notification and
# polled; one that cannot be read shows in the project's sync status, and
# slussd keeps serving.
git init -q --bare "$tmp/upstream.git"
git -C "$work" push -q "$tmp/upstream.git" main:main
"$SLUSS" project create remote --repo "$tmp/upstream.git" >/dev/null; expect_rc "remote project" 0 $?
# A remote is fetched on slussd's git pool: the hook is answered 202 at
# once with the request, which says what the sync made when it is done.
git_request() {  # project -> the request's final state, as JSON
  local id st
  id=$(curl -sf -X POST -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/hooks/git/$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["request"]["id"])')
  for _ in $(seq 300); do
    curl -sf -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/git/requests/$id" >"$tmp/request.json"
    st=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' <"$tmp/request.json")
    [[ $st == done || $st == failed ]] && break
    sleep 0.1
  done
  cat "$tmp/request.json"
}
curl -s -X POST -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/hooks/git/remote?format=text" >"$tmp/hook13"
grep -q "^request [0-9]*: .* is fetched in the background" "$tmp/hook13" && ok || fail "remote hook: $(cat "$tmp/hook13")"
git_request remote | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "done", r' && ok || fail "remote sync: $(cat "$tmp/request.json")"
remote_runs() { "$SLUSS" runs --json --project remote | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))'; }
[[ $(remote_runs) == 1 ]] && ok || fail "remote run count"
echo "# upstream edit" >>"$work/analysis/extract.py"
git -C "$work" commit -qam "upstream edit"
git -C "$work" push -q "$tmp/upstream.git" main:main
for _ in $(seq 150); do [[ $(remote_runs) == 2 ]] && break; sleep 0.1; done
[[ $(remote_runs) == 2 ]] && ok || fail "the poll did not pick up the upstream push"
"$SLUSS" project create gone --repo "$tmp/nowhere.git" >/dev/null
git_request gone | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "failed" and r["result"]["code"], r' && ok || fail "unreadable remote: $(cat "$tmp/request.json")"
"$SLUSS" project show gone | grep -q "^last fetch:  FAILED" && ok || fail "sync status: $("$SLUSS" project show gone)"
# Failures in a row push the next poll back (a hook still tries at once).
git_request gone >/dev/null
"$SLUSS" project show gone --json | python3 -c '
import json, sys
from datetime import datetime, timezone
s = json.load(sys.stdin)["sync"]
assert s["failures"] >= 2 and s["last_ok_at"] is None, s
next_try = datetime.fromisoformat(s["next_try_at"].replace("Z", "+00:00"))
assert next_try > datetime.now(timezone.utc), s' && ok || fail "backoff: $("$SLUSS" project show gone --json)"
"$SLUSS" project show gone | grep -Eq "^next try: .*[0-9]+ failed in a row" && ok || fail "next try: $("$SLUSS" project show gone)"
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; expect_rc "still serving" 0 $?
# /metrics: the age of each mirror's last good fetch (small for remote,
# since its creation for gone, which never fetched).
curl -sf -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
awk '/^sluss_git_sync_age_seconds\{project="remote"\}/ {exit !($2 < 30)}' "$tmp/metrics" &&
  grep -q '^sluss_git_sync_age_seconds{project="remote"}' "$tmp/metrics" && ok ||
  fail "no sync age for remote: $(grep sync_age "$tmp/metrics")"
grep -q '^sluss_git_sync_age_seconds{project="gone"}' "$tmp/metrics" && ok || fail "no sync age for gone"
grep -q 'sluss_git_sync_age_seconds{project="study"}' "$tmp/metrics" && fail "a hosted project has a sync age" || ok

# 14. What can never run is refused at submit, naming the limit; so is a run
# over the project's queue limit.
"$SLUSS" project create limits --hosted --json >"$tmp/limits.json"
limits_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/limits.json")
"$SLUSS" quota set limits per_job.max_gpus=2 max_queued_jobs=3 >/dev/null
lw=$tmp/limits-work
mkdir -p "$lw" && git -C "$lw" init -q -b main
cat >"$lw/sluss.yaml" <<'YAML'
version: 1
actions:
  train:
    image: python-3.11
    run: python3 train.py
    resources: {gpus: 4}
  extract:
    image: python-3.11
    run: python3 extract.py
    datasets: [claims]
YAML
git -C "$lw" add . && git -C "$lw" commit -qm limits && git -C "$lw" push -q "$limits_url" main 2>"$tmp/push14"
grep -q "sluss.yaml:3:3: actions.train.resources: asks for 4 GPUs; the project allows 2 per job (per_job.max_gpus)" "$tmp/push14" \
  && ok || fail "per-job GPU limit at submit: $(cat "$tmp/push14")"
grep -q "action extract: dataset claims is not registered" "$tmp/push14" && ok || fail "unknown dataset at submit: $(cat "$tmp/push14")"
printf 'version: 1\nactions:\n' >"$lw/sluss.yaml"
for a in a b c d; do printf '  %s: {image: python-3.11, run: "true"}\n' $a >>"$lw/sluss.yaml"; done
git -C "$lw" commit -qam "four jobs" && git -C "$lw" push -q "$limits_url" main 2>"$tmp/push15"
grep -q "has 0 jobs queued and this run adds 4; the limit (max_queued_jobs) is 3" "$tmp/push15" \
  && ok || fail "queue limit at submit: $(cat "$tmp/push15")"

kill -TERM "$pid"; wait "$pid"; pid=
finish gitsync
