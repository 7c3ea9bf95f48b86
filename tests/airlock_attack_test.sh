#!/usr/bin/env bash
# Attacks on the airlock that once worked, through the real slussd and runc
# (each was a way for a job's data to reach its researcher around the two
# reviews):
#   - a running job's log tail, read again and again, was the whole log;
#   - the checks' column summaries (a CSV header made of patient rows, a
#     column's min and max) and a "did you mean" naming a header were shown
#     to researchers in `sluss outputs` and in their release request;
#   - a PNG with a table appended after its image, and a zip named .txt,
#     passed the checks;
#   - with the author's permit revoked, the request could still be
#     submitted to the checkers.
# Needs root (the sandbox); exit 77 otherwise.
#   airlock_attack_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin airlock-attack
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-airlock-attack, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s, max_workspace: 1M}
logs: {tail_lines: 3, line_chars: 100}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1

"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
for u in alice carol; do "$SLUSS" member add study $u@example.org >/dev/null; done
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name t 2>/dev/null)
carol=$("$SLUSS" token create --user carol@example.org --role checker --name t 2>/dev/null)
steward=$("$SLUSS" token create --user sam@example.org --role steward --name t 2>/dev/null)
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-1 --project study --datasets prescriptions \
  --persons alice@example.org --purpose "a study" --from 2026-01-01 --until 2099-01-01 >/dev/null
expect_rc "permit" 0 $?

work=$tmp/work
mkdir -p "$work"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  files:
    image: python-3.11
    run: python3 make.py
    code: [make.py]
    outputs:
      releasable:
        - output/hidden.png
        - output/tagged.png
        - output/plot.png
        - output/notes.txt
        - {path: output/leak.csv, counts: [count]}
  ticker:
    image: python-3.11
    run: python3 -u -c "import time; [print(f'PATIENT-{i} row {i}') for i in range(8)]; time.sleep(600)"
YAML
cat >"$work/make.py" <<'PY'
import os, struct, zipfile, zlib
os.makedirs("output", exist_ok=True)
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
def png(extra=b""):
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
open("output/plot.png", "wb").write(png())
open("output/hidden.png", "wb").write(png() + b"PATIENT-7731,44\n")
open("output/tagged.png", "wb").write(png(chunk(b"tEXt", b"Comment\x00PATIENT-7731")))
with zipfile.ZipFile("output/notes.txt", "w") as z: z.writestr("cohort.csv", "PATIENT-7731,44\n")
open("output/leak.csv", "w").write("count PATIENT-4242 born,=PATIENT-4242 C50\n19417731,=x\n")
PY
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm "attacks" && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
expect_rc "push" 0 $?
as() { local who=$1; shift; SLUSS_TOKEN=${!who} "$SLUSS" "$@"; }

# 1. The tail of a running job's log: withheld until the attempt ends.
ticker=$(job_field 1 ticker id)
wait_status 1 ticker executing || fail "ticker did not start: $(job_field 1 ticker reason)"
for _ in $(seq 300); do
  [[ $("$SLUSS" logs "$ticker" | grep -c PATIENT) == 8 ]] && break
  sleep 0.1
done
[[ $("$SLUSS" logs "$ticker" | grep -c PATIENT) == 8 ]] && ok || fail "the admin's log: $("$SLUSS" logs "$ticker")"
as alice logs "$ticker" >"$tmp/live.txt"; expect_rc "alice's logs while it runs" 0 $?
grep -q PATIENT "$tmp/live.txt" && fail "a running job's tail reached alice: $(cat "$tmp/live.txt")" || ok
grep -q "^\[sluss: withheld: [1-9][0-9]* bytes; the job is running" "$tmp/live.txt" && ok || fail "the note: $(cat "$tmp/live.txt")"
[[ $(wc -l <"$tmp/live.txt") == 1 ]] && ok || fail "the note twice: $(cat "$tmp/live.txt")"
curl -s -D "$tmp/h" -o "$tmp/live.http" -H "Authorization: Bearer $alice" "http://$SLUSS_SERVER/v1/jobs/$ticker/logs?follow=1"
grep -q PATIENT "$tmp/live.http" && fail "follow=1 while it runs: $(cat "$tmp/live.http")" || ok
grep -qi "^x-sluss-log-withheld: [1-9]" "$tmp/h" && ok || fail "withheld header: $(cat "$tmp/h")"
# Ended, its tail is there: the last 3 lines.
as alice cancel "$ticker" >/dev/null; expect_rc "cancel" 0 $?
wait_status 1 ticker cancelled_by_user || fail "ticker: $(job_field 1 ticker status_code)"
as alice logs "$ticker" >"$tmp/ended.txt"
[[ $(grep -c PATIENT "$tmp/ended.txt") == 3 && $(tail -1 "$tmp/ended.txt") == "PATIENT-7 row 7" ]] && ok ||
  fail "the ended tail: $(cat "$tmp/ended.txt")"

# 2. The checks: the hidden bytes fail, the text chunk is for a checker, the
# renamed zip fails; a plain image passes.
wait_status 1 files succeeded || fail "files: $(job_field 1 files status_code) $(job_field 1 files reason)"
files=$(job_field 1 files id)
as alice outputs 1 --json >"$tmp/outputs.json"; expect_rc "outputs" 0 $?
python3 - "$tmp/outputs.json" <<'EOF' && ok || fail "verdicts: $(cat "$tmp/outputs.json")"
import json, sys
d = json.load(open(sys.argv[1]))
out = {o["path"]: o["checks"] for j in d["jobs"] for o in j["outputs"]}
def rules(p): return {f["rule"]: f["outcome"] for f in out[p]["findings"]}
assert out["output/plot.png"]["outcome"] == "pass", out["output/plot.png"]
assert out["output/hidden.png"]["outcome"] == "fail" and rules("output/hidden.png") == {"hidden_data": "fail"}, out["output/hidden.png"]
assert out["output/tagged.png"]["outcome"] == "review" and rules("output/tagged.png") == {"hidden_data": "review"}, out["output/tagged.png"]
assert out["output/notes.txt"]["outcome"] == "fail" and rules("output/notes.txt") == {"signature": "fail"}, out["output/notes.txt"]
# The researcher gets no column summary, and no header name in a reason.
assert all("columns" not in c for c in out.values()), out
EOF
grep -q "PATIENT\|19417731" "$tmp/outputs.json" && fail "the job's data in alice's listing" || ok

# 3. The same in a release request: the researcher's view of it has no
# summaries; the checker's has them.
as alice release create --project study --json >/dev/null; expect_rc "create" 0 $?
as alice release add 1 output/leak.csv --job "$files" --exception "a test" >/dev/null; expect_rc "add leak.csv" 0 $?
as alice release add 1 output/hidden.png --job "$files" --json >"$tmp/add.json"; expect_rc "add hidden.png" 0 $?
python3 -c 'import json,sys; f={x["path"]: x for x in json.load(open(sys.argv[1]))["files"]}; assert f["output/hidden.png"]["verdict"] == "fail", f' \
  "$tmp/add.json" && ok || fail "hidden.png in the request: $(cat "$tmp/add.json")"
as alice release submit 1 >"$tmp/out" 2>&1; expect_rc "submit with a hidden PNG" 1 $?
grep -q "fails the automatic checks" "$tmp/out" && ok || fail "submit: $(cat "$tmp/out")"
as alice release show 1 --json >"$tmp/alice.json"; expect_rc "show as alice" 0 $?
grep -q "PATIENT\|19417731\|\"columns\"" "$tmp/alice.json" && fail "the job's data in alice's request: $(cat "$tmp/alice.json")" || ok
as carol release show 1 --json >"$tmp/carol.json"; expect_rc "show as carol" 0 $?
grep -q "PATIENT-4242" "$tmp/carol.json" && ok || fail "the checker's summaries: $(cat "$tmp/carol.json")"

# 4. The permit revoked (the kill switch): the request is not sent to the
# checkers any more; the author can still withdraw it.
as alice release remove 1 output/hidden.png >/dev/null; expect_rc "remove hidden.png" 0 $?
SLUSS_TOKEN=$steward "$SLUSS" permit revoke P-1 --reason "attack test" >/dev/null; expect_rc "revoke" 0 $?
as alice release submit 1 >"$tmp/out" 2>&1; expect_rc "submit after the revocation" 4 $?
grep -q "not named on a valid permit" "$tmp/out" && ok || fail "submit after revoke: $(cat "$tmp/out")"
as alice release withdraw 1 >/dev/null; expect_rc "withdraw after the revocation" 0 $?

finish airlock_attack_test
