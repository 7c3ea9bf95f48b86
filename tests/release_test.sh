#!/usr/bin/env bash
# The airlock end to end through the real slussd: a git push runs a job in
# a runc container that writes a clean table, a table with a count of 3
# and a sensitive file; a researcher on the project's permit requests the
# clean table's release, two checkers approve it independently, a checker
# releases it and the researcher downloads it, byte for byte. Then the
# refusals (not on the permit, a sensitive output, a second open request,
# the author reviewing, one review releasing, download before release and
# by non-members, a fail without an exception), the votes blind until both
# are in, a changed file resetting its votes, and the attacks (path tricks,
# the live file changed before and after the request, two submits at once).
# Every move's audit record is checked. Needs root (the sandbox); exit 77
# otherwise.
#   release_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin release
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-release, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
logs: {tail_lines: 5, line_chars: 100}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
for u in alice eve carol dave; do "$SLUSS" member add study $u@example.org >/dev/null; done
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name t 2>/dev/null)
eve=$("$SLUSS" token create --user eve@example.org --role researcher --name t 2>/dev/null)
bob=$("$SLUSS" token create --user bob@example.org --role researcher --name t 2>/dev/null)
carol=$("$SLUSS" token create --user carol@example.org --role checker --name t 2>/dev/null)
dave=$("$SLUSS" token create --user dave@example.org --role checker --name t 2>/dev/null)
erin=$("$SLUSS" token create --user erin@example.org --role checker --name t 2>/dev/null)
steward=$("$SLUSS" token create --user sam@example.org --role steward --name t 2>/dev/null)
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-1 --project study --datasets prescriptions \
  --persons alice@example.org --purpose "a study" --from 2026-01-01 --until 2099-01-01 >/dev/null
expect_rc "permit" 0 $?

work=$tmp/work
mkdir -p "$work"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  tables:
    image: python-3.11
    run: python3 make.py
    code: [make.py]
    outputs:
      sensitive: [output/cohort.csv]
      releasable:
        - {path: output/table1.csv, counts: [n], round: 5}
        - {path: output/clean.csv, counts: [n], round: 5}
YAML
cat >"$work/make.py" <<'PY'
import os
os.makedirs("output", exist_ok=True)
open("output/table1.csv", "w").write("group,n\nunder 40,3\n40 to 60,25\nover 60,120\n")
open("output/clean.csv", "w").write("group,n\nunder 40,15\nover 40,140\n")
open("output/cohort.csv", "w").write("id,age\nPATIENT-7731,44\n")
for i in range(20): print(f"PATIENT-{i} row {i}")
print("é" * 60 + "x" * 300)
print("last line")
PY
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm "tables" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
expect_rc "push" 0 $?
wait_run() {
  for _ in $(seq 450); do
    s=$("$SLUSS" run show "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
    [[ $s != pending && $s != running && -n $s ]] && break
    sleep 0.2
  done
  [[ $s == succeeded ]] && ok || fail "run $1: $s: $("$SLUSS" run show "$1")"
}
wait_run 1

as() { local who=$1; shift; SLUSS_TOKEN=${!who} "$SLUSS" "$@"; }
# code WHO METHOD PATH [BODY]: the HTTP status; the body in $tmp/body.
code() {
  local t=${!1}
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $t" \
    ${4:+-H 'Content-Type: application/json' --data "$4"} "http://$SLUSS_SERVER$3"
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# Refusals before any request: not on the permit, not a researcher.
[[ $(code eve POST /v1/releases '{"project":"study"}') == 403 ]] && ok || fail "eve (not on the permit): $(cat "$tmp/body")"
grep -q "not named on a valid permit" "$tmp/body" && ok || fail "eve's reason: $(cat "$tmp/body")"
[[ $(code carol POST /v1/releases '{"project":"study"}') == 403 ]] && ok || fail "a checker created a request"
[[ $(code bob POST /v1/releases '{"project":"study"}') == 404 ]] && ok || fail "bob (not a member): $(cat "$tmp/body")"

# Alice's request; one open request per person and project.
as alice release create --project study --context "Table 1 of the paper" --json >"$tmp/r1.json"; expect_rc "create" 0 $?
[[ $(jq_ "$tmp/r1.json" 'd["id"], d["state"]') == "(1, 'pending')" ]] && ok || fail "create: $(cat "$tmp/r1.json")"
[[ $(code alice POST /v1/releases '{"project":"study"}') == 409 ]] && ok || fail "second open request"
grep -q "open release request in project study (request 1)" "$tmp/body" && ok || fail "second: $(cat "$tmp/body")"

# A sensitive output is never requestable; path tricks never reach a file.
as alice release add 1 output/cohort.csv --job 1 >"$tmp/out" 2>&1; expect_rc "sensitive output" 4 $?
grep -q "sensitive output" "$tmp/out" && ok || fail "sensitive: $(cat "$tmp/out")"
for p in "output/../output/cohort.csv" "/etc/passwd" "output/./clean.csv" "output//clean.csv" \
         "../../../state.db" "output/clean.csv/.." $'output/\x1b[2Jclean.csv' "output"; do
  body=$(python3 -c 'import json,sys; print(json.dumps({"job":1,"path":sys.argv[1]}))' "$p")
  [[ $(code alice POST /v1/releases/1/files "$body") == 400 ]] && ok || fail "path trick $p: $(cat "$tmp/body")"
done
[[ $(code alice POST /v1/releases/1/files '{"job":99,"path":"output/clean.csv"}') == 404 ]] && ok || fail "no job 99"
[[ $(code alice POST /v1/releases/1/files '{"job":1,"path":"output/nothing.csv"}') == 404 ]] && ok || fail "no such output"

# The clean table passes; the table with a cell of 3 is flagged and needs
# a written exception before the request can be submitted.
as alice release add 1 output/clean.csv --job 1 --context "counts by age group" --controls "rounded to 5" --json >"$tmp/add.json"
expect_rc "add clean" 0 $?
[[ $(jq_ "$tmp/add.json" 'd["files"][0]["verdict"]') == pass ]] && ok || fail "clean verdict: $(cat "$tmp/add.json")"
as alice release add 1 output/table1.csv --job 1 --json >"$tmp/add.json"; expect_rc "add table1" 0 $?
python3 - "$tmp/add.json" <<'EOF' && ok || fail "table1 flagged: $(cat "$tmp/add.json")"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["path"]: x for x in d["files"]}["output/table1.csv"]
assert f["verdict"] == "fail", f
assert {x["rule"] for x in f["checks"]["findings"]} == {"threshold", "rounding"}, f
assert f["checks"]["findings"][0]["column"] == "n"
EOF
grep -q "under 40" "$tmp/add.json" && fail "a cell in the request" || ok
as alice release submit 1 >"$tmp/out" 2>&1; expect_rc "submit with a fail" 1 $?
grep -q "fails the automatic checks" "$tmp/out" && ok || fail "fail without exception: $(cat "$tmp/out")"
as alice release remove 1 output/table1.csv >/dev/null; expect_rc "remove" 0 $?

# Frozen at request time: the live file changed after the request does
# not change what is reviewed and downloaded.
live=$(ls -d "$tmp"/state/jobs/1-1-*/outputs/output)
cp "$live/clean.csv" "$tmp/clean.orig"
printf 'group,n\nunder 40,1\n' >"$live/clean.csv"
ls "$tmp/state/releases/1/" | grep -qx "$(sha256sum "$tmp/clean.orig" | cut -c1-64)" && ok || fail "no frozen copy"
[[ $(stat -c %i "$tmp/state/releases/1/$(sha256sum "$tmp/clean.orig" | cut -c1-64)") != $(stat -c %i "$live/clean.csv") ]] && ok || fail "frozen copy is the live file"

as alice release submit 1 --json >"$tmp/s.json"; expect_rc "submit" 0 $?
[[ $(jq_ "$tmp/s.json" 'd["state"]') == submitted ]] && ok || fail "submitted: $(cat "$tmp/s.json")"
as alice release add 1 output/table1.csv --job 1 >/dev/null 2>&1; expect_rc "add while submitted" 1 $?

# Downloads before release: refused.
[[ $(code alice GET /v1/releases/1/files/output%2Fclean.csv) == 409 ]] && ok || fail "download before release: $(cat "$tmp/body")"

# The author cannot review (her role), nor can a researcher release.
[[ $(code alice POST /v1/releases/1/votes '{"path":"output/clean.csv","vote":"approve"}') == 403 ]] && ok || fail "author voted"
[[ $(code alice POST /v1/releases/1/release) == 403 ]] && ok || fail "author released"

# A checker who is not a member of the project sees no request; a checker
# cannot act for the author.
[[ $(code erin GET /v1/releases/1) == 404 ]] && ok || fail "erin (not a member) saw it"
[[ $(code erin POST /v1/releases/1/votes '{"path":"output/clean.csv","vote":"approve"}') == 404 ]] && ok || fail "erin voted"
[[ $(code carol POST /v1/releases/1/withdraw) == 403 ]] && ok || fail "a checker withdrew"
[[ $(code carol POST /v1/releases/1/votes '{"path":"output/other.csv","vote":"approve"}') == 409 ]] && ok || fail "vote on no file"

# Carol approves and submits her review: blind to Dave, and one review
# cannot release.
as carol review 1 --approve output/clean.csv >/dev/null; expect_rc "carol votes" 0 $?
as carol review 1 --request-changes output/clean.csv >/dev/null 2>&1; expect_rc "changes without comment" 2 $?
as carol review 1 --submit --json >"$tmp/c.json"; expect_rc "carol submits" 0 $?
[[ $(jq_ "$tmp/c.json" 'd["state"]') == partially_reviewed ]] && ok || fail "partially: $(cat "$tmp/c.json")"
as dave release show 1 --json >"$tmp/d.json"
[[ $(jq_ "$tmp/d.json" 'd["files"][0]["votes"]') == "[]" ]] && ok || fail "dave saw carol's vote: $(cat "$tmp/d.json")"
as alice release show 1 --json >"$tmp/a.json"
[[ $(jq_ "$tmp/a.json" 'd["files"][0]["votes"], d["reviews"]') == "([], [])" ]] && ok || fail "alice saw votes: $(cat "$tmp/a.json")"
as carol review 1 --release >"$tmp/out" 2>&1; expect_rc "one review releases" 1 $?
grep -q "only an approved request can be released" "$tmp/out" && ok || fail "one review: $(cat "$tmp/out")"
[[ $(code carol POST /v1/releases/1/approve) == 409 ]] && ok || fail "approve after one review"

# Dave's review: both in, votes visible to checkers; Carol releases.
as dave review 1 --approve output/clean.csv >/dev/null && as dave review 1 --submit >/dev/null; expect_rc "dave" 0 $?
as carol release show 1 --json >"$tmp/c.json"
[[ $(jq_ "$tmp/c.json" 'd["state"], len(d["files"][0]["votes"])') == "('reviewed', 2)" ]] && ok || fail "reviewed: $(cat "$tmp/c.json")"
as carol review 1 --release --json >"$tmp/c.json"; expect_rc "release" 0 $?
[[ $(jq_ "$tmp/c.json" 'd["state"]') == released ]] && ok || fail "released: $(cat "$tmp/c.json")"
as carol review 1 --reject --comment late >/dev/null 2>&1; expect_rc "reject after release" 1 $?

# Downloads: members only, byte for byte what was requested.
[[ $(code bob GET /v1/releases/1/files/output%2Fclean.csv) == 404 ]] && ok || fail "bob downloaded: $(cat "$tmp/body")"
[[ $(code admin GET /v1/releases/1/files/output%2Fclean.csv) == 403 ]] && ok || fail "admin (not a member) downloaded"
as alice release download 1 -o "$tmp/dl" >"$tmp/out"; expect_rc "download" 0 $?
cmp "$tmp/dl/output/clean.csv" "$tmp/clean.orig" && ok || fail "download differs"
as carol release download 1 -o "$tmp/dl2" >/dev/null; expect_rc "a checker member downloads" 0 $?
[[ ! -e $tmp/dl/output/table1.csv ]] && ok || fail "a removed file was downloaded"

# The run's RO-Crate gains the release: its file, hash, reviewers, times.
as alice provenance 1 >"$tmp/crate.json"; expect_rc "provenance" 0 $?
python3 - "$tmp/crate.json" "$(sha256sum "$tmp/clean.orig" | cut -c1-64)" "$(stat -c %s "$tmp/clean.orig")" <<'EOF' && ok || fail "crate: $(head -c 2000 "$tmp/crate.json")"
import json, sys
g = {e["@id"]: e for e in json.load(open(sys.argv[1]))["@graph"]}
r = g["#release-1"]
assert r["object"] == [{"@id": "outputs/tables/output/clean.csv"}] and "outputs/tables/output/clean.csv" in g, r
assert r["releasedFiles"] == [{"path": "output/clean.csv", "sha256": sys.argv[2], "size": int(sys.argv[3]), "verdict": "pass"}], r
assert sorted(a["@id"] for a in r["agent"]) == ["#checker-carol@example.org", "#checker-dave@example.org"], r
states = [d["state"] for d in r["decisions"]]
assert states == ["pending", "submitted", "partially_reviewed", "reviewed", "approved", "released"], states
assert r["endTime"] == r["decisions"][-1]["at"], r
EOF

# A new request may be opened now; a file changed before it is refused.
cp "$tmp/clean.orig" "$live/clean.csv"
printf 'group,n\nunder 40,1\n' >>"$live/table1.csv"
as alice release create --project study --json >/dev/null; expect_rc "second request" 0 $?
as alice release add 2 output/table1.csv --job 1 --exception "x" >"$tmp/out" 2>&1; expect_rc "changed live file" 1 $?
grep -q "changed after its job recorded it" "$tmp/out" && ok || fail "changed: $(cat "$tmp/out")"
as alice release add 2 output/clean.csv --job 1 >/dev/null; expect_rc "add to 2" 0 $?

# Two submits at once: one wins, one is refused, one audit record.
code alice POST /v1/releases/2/submit >"$tmp/s1" & p1=$!
code alice POST /v1/releases/2/submit >"$tmp/s2" & p2=$!
wait $p1 $p2
[[ $(sort "$tmp/s1" "$tmp/s2" | tr '\n' ' ') == "200 409 " ]] && ok || fail "two submits: $(cat "$tmp/s1" "$tmp/s2")"

# Returned with comments, which the author then sees; the file changed by
# a new run loses its votes.
as carol review 2 --request-changes output/clean.csv --comment "round the total too" >/dev/null && as carol review 2 --submit >/dev/null
as dave review 2 --request-changes output/clean.csv --comment "same" >/dev/null && as dave review 2 --submit >/dev/null
as carol review 2 --return --comment "see the file comments" >/dev/null; expect_rc "return" 0 $?
as alice release show 2 >"$tmp/out"
grep -q "comment by carol@example.org on output/clean.csv: round the total too" "$tmp/out" && ok || fail "comments after return: $(cat "$tmp/out")"
sed -i 's/15\\n/20\\n/' "$work/make.py"
git -C "$work" commit -qam "rounded" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
wait_run 2
job2=$("$SLUSS" run show 2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
as alice release add 2 output/clean.csv --job "$job2" --json >"$tmp/a.json"; expect_rc "re-add" 0 $?
as carol release show 2 --json >"$tmp/c.json"
[[ $(jq_ "$tmp/c.json" 'd["files"][0]["votes"], d["files"][0]["job"]') == "([], $job2)" ]] && ok || fail "votes kept: $(cat "$tmp/c.json")"
as alice release withdraw 2 >/dev/null; expect_rc "withdraw" 0 $?
[[ $(code alice POST /v1/releases/2/submit) == 409 ]] && ok || fail "submit after withdraw"

# Logs as a controlled channel: a researcher reads the last 5 lines (the
# config's logs.tail_lines), each cut at 100 bytes on a character, with a
# note; a steward and an admin read it all; every read is audited.
as alice logs 1 >"$tmp/log.txt"; expect_rc "logs as alice" 0 $?
python3 - "$tmp/log.txt" <<'EOF' && ok || fail "alice's log: $(cat "$tmp/log.txt")"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[0].startswith("[sluss: withheld: ") and "last 5 lines" in lines[0], lines[0]
assert "the ends of 1 lines longer than 100 bytes" in lines[0], lines[0]
assert lines[1:4] == ["PATIENT-17 row 17", "PATIENT-18 row 18", "PATIENT-19 row 19"], lines
assert lines[4] == "é" * 50, lines[4]
assert lines[5:] == ["last line", ""], lines
EOF
curl -s -D "$tmp/h" -o /dev/null -H "Authorization: Bearer $alice" "http://$SLUSS_SERVER/v1/jobs/1/logs?follow=1"
grep -qi "^x-sluss-log-withheld: [1-9]" "$tmp/h" && ok || fail "follow=1 gave more: $(cat "$tmp/h")"
for who in steward admin; do
  as $who logs 1 >"$tmp/log.txt"
  [[ $(wc -l <"$tmp/log.txt") == 22 && $(head -1 "$tmp/log.txt") == "PATIENT-0 row 0" ]] && ok || fail "$who's log: $(head -3 "$tmp/log.txt")"
done
reads=$("$SLUSS" audit list --limit 1000 --json | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d["records"] if isinstance(d,dict) else d; print(sorted({r["actor"] for r in d if r["action"]=="api.read" and r["subject"].startswith("/v1/jobs/1/logs")}))')
[[ $reads == "['admin@example.org', 'alice@example.org', 'sam@example.org']" ]] && ok || fail "log reads audited: $reads"

# Lists and tables.
as carol release list >"$tmp/out"; expect_rc "list" 0 $?
grep -Eq "^1 +study +alice@example.org +released +1" "$tmp/out" && ok || fail "list: $(cat "$tmp/out")"
as bob release list --json >"$tmp/b.json"
[[ $(jq_ "$tmp/b.json" 'len(d["releases"])') == 0 ]] && ok || fail "bob lists: $(cat "$tmp/b.json")"

# Every move is in the audit log.
"$SLUSS" audit list --limit 1000 --json >"$tmp/audit.json"
python3 - "$tmp/audit.json" <<'EOF' && ok || fail "audit: $(cat "$tmp/audit.json" | head -c 3000)"
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
r1 = [(r["actor"], r["action"]) for r in recs if r["subject"] == "release/1"]
want = [("alice@example.org", "release.created"), ("alice@example.org", "release.file_added"),
        ("alice@example.org", "release.file_added"), ("alice@example.org", "release.file_removed"),
        ("alice@example.org", "release.submitted"), ("carol@example.org", "release.vote"),
        ("carol@example.org", "release.review_submitted"), ("dave@example.org", "release.vote"),
        ("dave@example.org", "release.review_submitted"), ("carol@example.org", "release.approved"),
        ("carol@example.org", "release.released"), ("alice@example.org", "release.download"),
        ("carol@example.org", "release.download")]
assert r1 == want, r1
r2 = [r["action"] for r in recs if r["subject"] == "release/2"]
assert r2.count("release.submitted") == 1, r2
assert r2[-1] == "release.withdrawn" and "release.returned" in r2, r2
dl = [json.loads(r["payload"]) for r in recs if r["action"] == "release.download"][0]
assert dl["path"] == "output/clean.csv" and len(dl["sha256"]) == 64, dl
EOF

# Steward defaults for the checks. Only P-1's steward sets them, within the
# checks' bounds; every change is audited. sluss.yaml may only tighten them:
# its `round: 5` is looser than the steward's 10 and is refused with a
# message; with the steward's minimum count of 20, a cell of 15 is flagged,
# and the report names who set each parameter.
tom=$("$SLUSS" token create --user tom@example.org --role steward --name t 2>/dev/null)
as tom permit set-checks P-1 --min-count 20 >"$tmp/out" 2>&1; expect_rc "another steward" 4 $?
grep -q "granted by sam@example.org; only that steward sets its checks" "$tmp/out" && ok || fail "tom: $(cat "$tmp/out")"
as alice permit set-checks P-1 --min-count 1 >/dev/null 2>&1; expect_rc "a researcher sets checks" 4 $?
as steward permit set-checks P-1 --min-count 5000 >"$tmp/out" 2>&1; expect_rc "out of bounds" 1 $?
grep -q "threshold must be a whole number from 1 to 1000" "$tmp/out" && ok || fail "bounds: $(cat "$tmp/out")"
[[ $(code steward PUT /v1/permits/P-1/checks '{"allowed_types":["exe"]}') == 400 ]] && ok || fail "a type outside the list: $(cat "$tmp/body")"
[[ $(code steward PUT /v1/permits/P-9/checks '{}') == 404 ]] && ok || fail "no permit P-9"
[[ $(code bob GET /v1/permits/P-1/checks) == 404 ]] && ok || fail "a non-member read the permit's checks"
as steward permit set-checks P-1 --min-count 20 --round 10 >"$tmp/out"; expect_rc "set checks" 0 $?
grep -Eq "^minimum count +20 +permit P-1" "$tmp/out" && ok || fail "set-checks table: $(cat "$tmp/out")"
as alice release create --project study --json >/dev/null; expect_rc "third request" 0 $?
as alice release add 3 output/clean.csv --job 1 >"$tmp/out" 2>&1; expect_rc "looser round refused" 1 $?
grep -q "sluss.yaml declares round: 5 for 'output/clean.csv', looser than permit P-1's rounding to 10" "$tmp/out" \
  && ok || fail "looser round: $(cat "$tmp/out")"
ls -A "$tmp/state/releases/3" 2>/dev/null | grep -q . && fail "a refused file left a copy" || ok
as steward permit set-checks P-1 --min-count 20 --round 5 >/dev/null; expect_rc "set checks again" 0 $?
as alice permit checks P-1 --json >"$tmp/pc.json"; expect_rc "checks as a researcher" 0 $?
[[ $(jq_ "$tmp/pc.json" 'd["checks"], d["effective"]["sources"]["threshold"]') == "({'round': 5, 'threshold': 20}, 'permit P-1')" ]] \
  && ok || fail "permit checks: $(cat "$tmp/pc.json")"
as alice outputs 1 --json >"$tmp/outputs.json"; expect_rc "outputs under the steward's checks" 0 $?
python3 - "$tmp/outputs.json" <<'EOF' && ok || fail "outputs with the steward's minimum: $(cat "$tmp/outputs.json")"
import json, sys
outs = {o["path"]: o for j in json.load(open(sys.argv[1]))["jobs"] for o in j["outputs"]}
c = outs["output/clean.csv"]["checks"]
assert c["outcome"] == "fail" and c["sources"]["threshold"] == "permit P-1", c
EOF
as alice release add 3 output/clean.csv --job 1 --json >"$tmp/add.json"; expect_rc "add under the steward's checks" 0 $?
python3 - "$tmp/add.json" <<'EOF' && ok || fail "a cell of 15 under a minimum of 20: $(cat "$tmp/add.json")"
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
c = f["checks"]
assert f["verdict"] == "fail", f
assert [x["rule"] for x in c["findings"]] == ["threshold"], c
assert "below the threshold 20" in c["findings"][0]["message"], c
assert "(threshold set by permit P-1)" in c["findings"][0]["message"], c
assert c["parameters"]["threshold"] == 20 and c["controls"]["round"] == 5, c
assert c["sources"] == {"threshold": "permit P-1", "round": "sluss.yaml", "counts": "sluss.yaml",
                        "zeros": "default", "max_file_bytes": "default", "allowed_types": "default"}, c
EOF
"$SLUSS" audit list --limit 1000 --json >"$tmp/audit.json"
python3 - "$tmp/audit.json" <<'EOF' && ok || fail "checks audited: $(head -c 3000 "$tmp/audit.json")"
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
sets = [(r["actor"], json.loads(r["payload"])) for r in recs if r["action"] == "permit.checks_set"]
assert [a for a, _ in sets] == ["sam@example.org", "sam@example.org"], sets
assert sets[0][1]["before"] == {} and sets[0][1]["after"] == {"threshold": 20, "round": 10}, sets
assert sets[1][1]["before"] == {"threshold": 20, "round": 10}, sets
EOF

# A full log in a request: added like a file (named log/job-1/stdout.log),
# frozen, checked as text; the checkers read it whole in review, the
# author only after release. Added twice it is one file; the live log
# growing after it was frozen changes nothing.
as alice release remove 3 output/clean.csv >/dev/null; expect_rc "remove the flagged table" 0 $?
as alice release add 3 --log stdout --job 1 --json >"$tmp/add.json"; expect_rc "add a log" 0 $?
as alice release add 3 --log stdout --job 1 --json >"$tmp/add.json"; expect_rc "add the log twice" 0 $?
livelog=$(ls "$tmp"/state/jobs/1-1-*/stdout.log)
cp "$livelog" "$tmp/log.orig"
python3 - "$tmp/add.json" "$(sha256sum "$tmp/log.orig" | cut -c1-64)" <<'EOF' && ok || fail "the log in the request: $(cat "$tmp/add.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert [f["path"] for f in d["files"]] == ["log/job-1/stdout.log"], d["files"]
f = d["files"][0]
assert f["verdict"] == "pass" and f["sha256"] == sys.argv[2] and f["job"] == 1, f
assert f["checks"]["type"] == "log", f["checks"]
EOF
grep -q "PATIENT" "$tmp/add.json" && fail "the log's contents in the request" || ok
echo "PATIENT-99 written after the freeze" >>"$livelog"
[[ $(code alice POST /v1/releases/3/files '{"job":1,"log":"syslog"}') == 400 ]] && ok || fail "log syslog: $(cat "$tmp/body")"
[[ $(code alice POST /v1/releases/3/files '{"job":1,"log":"stdout","path":"output/clean.csv"}') == 400 ]] && ok || fail "log and path"
[[ $(code alice POST /v1/releases/3/files '{"job":99,"log":"stdout"}') == 404 ]] && ok || fail "log of no job"
[[ $(code alice GET /v1/releases/3/files/log%2Fjob-1%2Fstdout.log) == 409 ]] && ok || fail "the author read the log before release"
as alice release submit 3 >/dev/null; expect_rc "submit the log" 0 $?
[[ $(code alice GET /v1/releases/3/files/log%2Fjob-1%2Fstdout.log) == 409 ]] && ok || fail "the author read the log in review"
as carol release download 3 -o "$tmp/dlc" >/dev/null; expect_rc "a checker reads the log in review" 0 $?
cmp "$tmp/dlc/log/job-1/stdout.log" "$tmp/log.orig" && ok || fail "the checker's log differs"
[[ $(wc -l <"$tmp/dlc/log/job-1/stdout.log") == 22 ]] && ok || fail "the checker's log is not whole"
[[ $(code erin GET /v1/releases/3/files/log%2Fjob-1%2Fstdout.log) == 404 ]] && ok || fail "a checker of another project read it"
for c in carol dave; do
  as $c review 3 --approve log/job-1/stdout.log >/dev/null && as $c review 3 --submit >/dev/null; expect_rc "$c reviews the log" 0 $?
done
as carol review 3 --release >/dev/null; expect_rc "release the log" 0 $?
as alice release download 3 -o "$tmp/dl3" >/dev/null; expect_rc "the author downloads the log" 0 $?
cmp "$tmp/dl3/log/job-1/stdout.log" "$tmp/log.orig" && ok || fail "the released log is not the frozen one"
"$SLUSS" audit list --limit 1000 --json >"$tmp/audit.json"
python3 - "$tmp/audit.json" <<'EOF' && ok || fail "log reads audited: $(head -c 3000 "$tmp/audit.json")"
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
r3 = [(r["actor"], r["action"]) for r in recs if r["subject"] == "release/3"]
assert ("carol@example.org", "release.review_read") in r3, r3
assert r3[-1] == ("alice@example.org", "release.download"), r3
added = [json.loads(r["payload"]) for r in recs if r["subject"] == "release/3" and r["action"] == "release.file_added"]
assert [a["kind"] for a in added] == ["output", "log", "log"], added
EOF

finish release_test
