#!/usr/bin/env bash
# Outputs as metadata through the real slussd: a job run in a runc container
# writes a table with a count of 3, a clean table, a spreadsheet formula, a
# binary and a sensitive file; `sluss outputs` and GET /v1/runs/1/outputs
# show each file's level, size and SHA-256 and the disclosure checks'
# verdicts with their reasons, never a cell, and only to the project's
# members. Needs root (the sandbox); exit 77 otherwise.
#   outputs_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin outputs
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-outputs, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name test 2>/dev/null)
bob=$("$SLUSS" token create --user bob@example.org --role researcher --name test 2>/dev/null)

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
        - path: output/table1.csv
          counts: [n]
          round: 5
        - {path: output/clean.csv, counts: [n], round: 5}
        - output/names.csv
        - output/model.bin
        - {path: output/leak.csv, counts: [count]}
YAML
cat >"$work/make.py" <<'PY'
import os
os.makedirs("output", exist_ok=True)
open("output/table1.csv", "w").write("group,n\nunder 40,3\n40 to 60,25\nover 60,120\n")
open("output/clean.csv", "w").write("group,n\nunder 40,15\nover 40,140\n")
open("output/names.csv", "w").write("name,note\nPATIENT-7731,\"=cmd|' /C calc'!A0\"\n")
open("output/model.bin", "wb").write(b"\x00\x01binary")
# A header made of a patient's row, and a year as a column's only value.
open("output/leak.csv", "w").write("count PATIENT-4242 born,=PATIENT-4242 C50\n19417731,=x\n")
open("output/cohort.csv", "w").write("id,age\nPATIENT-7731,44\n")
PY
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm "tables" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
expect_rc "push" 0 $?
for _ in $(seq 450); do
  s=$("$SLUSS" run show 1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
  [[ $s != pending && $s != running && -n $s ]] && break
  sleep 0.2
done
[[ $s == succeeded ]] && ok || fail "run 1: $s: $("$SLUSS" run show 1)"

# Alice, a member, sees every output's metadata and the verdicts.
SLUSS_TOKEN=$alice "$SLUSS" outputs 1 --json >"$tmp/outputs.json"; expect_rc "outputs as a member" 0 $?
python3 - "$tmp/outputs.json" <<'EOF' && ok || fail "outputs: $(cat "$tmp/outputs.json")"
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
assert d["run"] == 1 and d["project"] == "study" and len(d["commit"]) == 40, d
[job] = d["jobs"]
assert job["action"] == "tables" and job["status"] == "succeeded", job
out = {o["path"]: o for o in job["outputs"]}
assert sorted(out) == ["output/clean.csv", "output/cohort.csv", "output/leak.csv", "output/model.bin",
                       "output/names.csv", "output/table1.csv"], sorted(out)
t = out["output/table1.csv"]
body = b"group,n\nunder 40,3\n40 to 60,25\nover 60,120\n"
assert t["level"] == "releasable" and t["size"] == len(body), t
assert t["sha256"] == hashlib.sha256(body).hexdigest(), t
c = t["checks"]
assert c["tool"] == "sluss-airlock" and c["version"] and c["parameters"]["threshold"] == 10, c
assert c["outcome"] == "fail", c
rules = {f["rule"]: f for f in c["findings"]}
assert set(rules) == {"threshold", "rounding"}, rules
assert rules["threshold"]["column"] == "n" and rules["threshold"]["first_line"] == 2, rules
assert "below the threshold 10" in rules["threshold"]["message"], rules
# The column summaries (the job's names and values) are the checkers'.
assert "columns" not in c, c
assert out["output/clean.csv"]["checks"]["outcome"] == "pass", out["output/clean.csv"]
n = out["output/names.csv"]["checks"]
assert n["outcome"] == "fail" and n["findings"][0]["rule"] == "formula", n
b = out["output/model.bin"]["checks"]
assert b["outcome"] == "review" and b["findings"][0]["rule"] == "file_type", b
# Sensitive files are listed, never checked for release.
assert out["output/cohort.csv"]["level"] == "sensitive" and "checks" not in out["output/cohort.csv"]
EOF
# No cell leaves through the listing: not the patient's id, not the formula,
# not a column name or value (attack: the job writes its data as a header).
if grep -q "PATIENT-7731\|calc\|under 40\|PATIENT-4242\|19417731" "$tmp/outputs.json"; then fail "a cell in the listing"; else ok; fi
python3 -c 'import json,sys; l={o["path"]: o for o in json.load(open(sys.argv[1]))["jobs"][0]["outputs"]}["output/leak.csv"]["checks"]; assert l["outcome"] == "fail" and {f["rule"] for f in l["findings"]} == {"count_column", "formula"}, l' \
  "$tmp/outputs.json" && ok || fail "leak.csv: $(cat "$tmp/outputs.json")"
# An admin (as a checker) reads the summaries.
"$SLUSS" outputs 1 --json >"$tmp/admin.json"
python3 -c 'import json,sys; t={o["path"]: o for o in json.load(open(sys.argv[1]))["jobs"][0]["outputs"]}["output/table1.csv"]["checks"]; assert t["columns"][1]["min"] == 3 and t["columns"][1]["sum"] == 148, t' \
  "$tmp/admin.json" && ok || fail "the admin's summaries: $(cat "$tmp/admin.json")"

# The table for people, with the reason under it.
SLUSS_TOKEN=$alice "$SLUSS" outputs 1 >"$tmp/outputs.txt"; expect_rc "outputs table" 0 $?
grep -q "output/table1.csv .*releasable .*fail" "$tmp/outputs.txt" && ok || fail "table: $(cat "$tmp/outputs.txt")"
grep -q "output/table1.csv: fail: column 'n': a count below the threshold 10, first on line 2" "$tmp/outputs.txt" \
  && ok || fail "reason: $(cat "$tmp/outputs.txt")"

# The verdicts are stored beside the outputs and read back unchanged.
ls "$tmp"/state/jobs/1-1-*/checks.json >/dev/null 2>&1 && ok || fail "checks.json not stored"
SLUSS_TOKEN=$alice "$SLUSS" outputs 1 --json >"$tmp/again.json"
cmp -s "$tmp/outputs.json" "$tmp/again.json" && ok || fail "second listing differs"

# Bob is not a member: the same 404 as for a run that does not exist.
SLUSS_TOKEN=$bob "$SLUSS" outputs 1 >"$tmp/bob.txt" 2>&1; rc=$?
[[ $rc != 0 ]] && ok || fail "bob listed the outputs"
curl -s -o "$tmp/bob.json" -w '%{http_code}' -H "Authorization: Bearer $bob" \
  "http://$SLUSS_SERVER/v1/runs/1/outputs" >"$tmp/bob.code"
[[ $(cat "$tmp/bob.code") == 404 ]] && ok || fail "bob: HTTP $(cat "$tmp/bob.code")"
curl -s -o "$tmp/none.json" -H "Authorization: Bearer $bob" "http://$SLUSS_SERVER/v1/runs/99/outputs"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["error"]; b=json.load(open(sys.argv[2]))["error"]; assert a["code"]==b["code"]=="not_found", (a,b)' \
  "$tmp/bob.json" "$tmp/none.json" && ok || fail "404s differ: $(cat "$tmp/bob.json") / $(cat "$tmp/none.json")"

# The declaration is not in the cache key: a push that only drops the
# rounding reuses the job (cached) and its outputs, and the checks follow
# the new declaration: the count of 3 still fails, the rounding no longer.
sed -i '/round: 5$/d' "$work/sluss.yaml"
git -C "$work" commit -qam "no rounding" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
for _ in $(seq 450); do
  s=$("$SLUSS" run show 2 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
  [[ $s != pending && $s != running && -n $s ]] && break
  sleep 0.2
done
SLUSS_TOKEN=$alice "$SLUSS" outputs 2 --json >"$tmp/outputs2.json"; expect_rc "outputs of run 2" 0 $?
python3 - "$tmp/outputs2.json" <<'EOF' && ok || fail "run 2: $(cat "$tmp/outputs2.json")"
import json, sys
[job] = json.load(open(sys.argv[1]))["jobs"]
assert job["status"] == "cached" and job["made_by_job"] == 1, job
t = {o["path"]: o for o in job["outputs"]}["output/table1.csv"]["checks"]
assert t["outcome"] == "fail" and [f["rule"] for f in t["findings"]] == ["threshold"], t
EOF

# A retried job: when its second attempt starts, the first attempt's
# outputs go (its log and result stay), so the project's disk, which counts
# each job's latest attempt, is all the disk its outputs take. The run's
# RO-Crate names each job's outputs/MANIFEST.jsonl by its hash.
cat >>"$work/sluss.yaml" <<'YAML'
  retried:
    image: python-3.11
    run: python3 -c "open('output/big.bin', 'wb').write(b'x' * 3000000); raise SystemExit(1)"
    outputs: {sensitive: [output/big.bin]}
    retries: 1
YAML
git -C "$work" commit -qam "retried" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
for _ in $(seq 450); do
  s=$("$SLUSS" run show 3 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
  [[ $s != pending && $s != running && -n $s ]] && break
  sleep 0.2
done
[[ $(job_field 3 retried attempt) == 2 && $(job_field 3 retried status_code) == nonzero_exit ]] && ok ||
  fail "the retried job: attempt $(job_field 3 retried attempt), $(job_field 3 retried status_code)"
jid=$(job_field 3 retried id)
[[ -z $(ls -d "$tmp"/state/jobs/"$jid"-1-*/outputs 2>/dev/null) ]] && ok ||
  fail "attempt 1's outputs were kept: $(ls -R "$tmp"/state/jobs/"$jid"-1-*/outputs | head)"
ls "$tmp"/state/jobs/"$jid"-1-*/result.json >/dev/null 2>&1 && ok || fail "attempt 1's result went too"
[[ $(stat -c %s "$tmp"/state/jobs/"$jid"-2-*/outputs/output/big.bin 2>/dev/null) == 3000000 ]] && ok ||
  fail "attempt 2's outputs: $(ls -R "$tmp"/state/jobs/"$jid"-2-* | head)"
"$SLUSS" provenance 3 >"$tmp/crate3.json"; expect_rc "provenance of run 3" 0 $?
python3 - "$tmp/crate3.json" "$(sha256sum "$tmp"/state/jobs/"$jid"-2-*/outputs/MANIFEST.jsonl | cut -d' ' -f1)" <<'EOF' &&
import json, sys
crate, want = json.load(open(sys.argv[1])), sys.argv[2]
g = {e["@id"]: e for e in crate["@graph"]}
m = g["outputs/retried/MANIFEST.jsonl"]
assert m["@type"] == "File" and m["sha256"] == want, m
assert {"@id": "outputs/retried/MANIFEST.jsonl"} in g["./"]["hasPart"], g["./"]["hasPart"]
action = [e for e in crate["@graph"] if e["@type"] == "CreateAction" and e["name"].endswith(": retried")][0]
assert {"@id": "outputs/retried/MANIFEST.jsonl"} in action["result"], action
EOF
  ok || fail "the crate's manifest entity: $(grep -o '"outputs/retried/[^"]*"' "$tmp/crate3.json" | sort -u)"

finish outputs_test
