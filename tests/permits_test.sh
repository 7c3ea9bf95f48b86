#!/usr/bin/env bash
# Datasets, permits, provenance and the audit log, end to end: a steward
# registers a dataset (hashed), pushes are refused outside a valid permit
# with the permit named, a revoked permit stops a running job, a changed
# dataset stops jobs from starting, a run's RO-Crate names what was really
# used, and tampering with the audit database is found offline. Real git,
# runc, SQLite and HTTP. Needs root (the sandbox); exit 77 otherwise.
#   permits_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
source "$(dirname "$0")/support/assert.sh"
if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null || ! command -v sqlite3 >/dev/null; then
  echo "SKIP: needs root, runc and sqlite3"
  exit 77
fi
tmp=$(mktemp -d /tmp/sluss-permits-XXXXXX)
pid=
source "$(dirname "$0")/support/jobs.sh"
trap stop_everything EXIT
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

mkdir -p "$tmp/data/rx/2026"
for i in 1 2 3; do seq 1 $((i * 1000)) | sed 's/^/row,/' >"$tmp/data/rx/2026/part-$i.csv"; done
echo "id,drug" >"$tmp/data/rx/README.csv"
chmod -R a+rX "$tmp/data"
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
git: {local_pusher: alice@example.org}   # pushes over the file path are credited to this person
images: {python-3.11: {host: true}}
node: {cpus: 4, memory: 8G}
sandbox: {cgroup_parent: /sluss-test-permits, output_fs: none}
audit: {checkpoint_every: 20, checkpoint_interval: 1s}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
steward=$("$SLUSS" token create --user steward@example.org --role steward --name test 2>/dev/null)
auditor=$("$SLUSS" token create --user auditor@example.org --role auditor --name test 2>/dev/null)
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name test 2>/dev/null)
"$SLUSS" project create p1 --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add p1 alice@example.org >/dev/null
work=$tmp/work
mkdir -p "$work"
git -C "$work" init -q -b main
push() {  # push MESSAGE: prints what the remote said
  git -C "$work" add -A && git -C "$work" commit -qm "$1" && git -C "$work" push -q "$push_url" main 2>&1
}

# 1. A steward registers the dataset: hashed into a BagIt manifest, an id.
SLUSS_TOKEN=$steward "$SLUSS" dataset add prescriptions 2026-06 "$tmp/data/rx" >"$tmp/add.out"
expect_rc "dataset add" 0 $?
grep -q "^dataset prescriptions 2026-06: sha256:[0-9a-f]\{64\} (4 files" "$tmp/add.out" && ok || fail "dataset add: $(cat "$tmp/add.out")"
manifest=$tmp/state/datasets/prescriptions/2026-06/manifest-sha256.txt
want="sha256:$(sha256sum <"$manifest" | cut -d' ' -f1)"
grep -q "$want" "$tmp/add.out" && ok || fail "the id is not the SHA-256 of the manifest"
(cd "$tmp/data/rx" && sha256sum -c --quiet "$manifest") && ok || fail "the manifest is not a valid sha256sum/BagIt manifest"
SLUSS_TOKEN=$steward "$SLUSS" dataset add prescriptions 2026-06 "$tmp/data/rx" 2>"$tmp/err"; expect_rc "same version twice" 1 $?
grep -q "a version never changes" "$tmp/err" && ok || fail "re-register: $(cat "$tmp/err")"
SLUSS_TOKEN=$admin "$SLUSS" dataset add x 1 /nonexistent 2>"$tmp/err"; expect_rc "missing directory" 1 $?
grep -q "path: /nonexistent is not a directory" "$tmp/err" && ok || fail "bad path: $(cat "$tmp/err")"
SLUSS_TOKEN=$admin "$SLUSS" permit grant P-0 --project p1 --datasets prescriptions --persons a --purpose x --from 2026-01-01 --until 2027-01-01 2>/dev/null
expect_rc "an admin may not grant permits" 4 $?

# 2. A job naming the dataset without a permit, and with an expired one.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  extract:
    image: python-3.11
    run: python3 -c "import os; n = sum(len(open('/data/prescriptions/2026/'+f).readlines()) for f in os.listdir('/data/prescriptions/2026')); open('output/n.txt','w').write(str(n))"
    datasets: [prescriptions]
    outputs: {releasable: [output/n.txt]}
YAML
push "no permit" >"$tmp/push1"
grep -q "sluss.yaml:6:16: action extract: dataset prescriptions is not in any valid permit of project p1 *$" "$tmp/push1" \
  && ok || fail "no permit: $(cat "$tmp/push1")"
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-7 --project p1 --datasets prescriptions --persons alice@example.org \
  --purpose "cohort study" --from 2025-01-01 --until 2026-10-01 >/dev/null; expect_rc "grant an expired permit" 0 $?
echo "# again" >>"$work/sluss.yaml"
push "expired permit" >"$tmp/push2"
grep -q "action extract: dataset prescriptions is not in any valid permit of project p1 (permit P-7 expired 2026-10-01)" "$tmp/push2" \
  && ok || fail "expired permit: $(cat "$tmp/push2")"
"$SLUSS" run show 2 | grep -q "permit P-7 expired 2026-10-01" && ok || fail "sluss run show lacks the refusal"

# 3. A valid permit: the job runs, and reads the dataset.
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-8 --project p1 --datasets prescriptions --persons alice@example.org,bob@example.org \
  --purpose "cohort study" --from 2026-01-01 --until 2099-01-01 >/dev/null; expect_rc "grant" 0 $?
echo "# permitted" >>"$work/sluss.yaml"
push "permitted" >"$tmp/push3"
wait_status 3 extract succeeded && ok || fail "extract: $(job_field 3 extract status_code) $(job_field 3 extract reason)"
[[ $(job_field 3 extract result.outputs) == *n.txt* ]] && ok || fail "extract's outputs"

# 4. The RO-Crate of the run names the commit, the image digest and the dataset id.
commit=$(git -C "$work" rev-parse HEAD)
"$SLUSS" provenance 3 -o "$tmp/crate" >"$tmp/prov.out"; expect_rc "provenance -o" 0 $?
(cd "$tmp/crate" && sha256sum -c --quiet manifest-sha256.txt && sha256sum -c --quiet tagmanifest-sha256.txt) && ok || fail "the bag's manifests"
python3 - "$tmp/crate/data/ro-crate-metadata.json" "$commit" "$want" "$(job_field 3 extract result.image_digest)" <<'PY' && ok || fail "RO-Crate content"
import json, sys
crate, commit, dataset_id, image = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
g = {e["@id"]: e for e in crate["@graph"]}
assert g["ro-crate-metadata.json"]["about"]["@id"] == "./"
root = g["./"]
assert root["conformsTo"]["@id"].startswith("https://w3id.org/ro/wfrun/process/"), root
actions = [g[m["@id"]] for m in root["mentions"]]
assert len(actions) == 1
a = actions[0]
for k in ("instrument", "agent", "object", "result", "startTime", "endTime", "actionStatus", "containerImage"):
    assert k in a, k
assert a["actionStatus"] == "http://schema.org/CompletedActionStatus"
assert g[a["instrument"]["@id"]]["version"] == commit
assert g[a["agent"]["@id"]]["name"] == "alice@example.org"
assert [o["@id"] for o in a["object"]] == [dataset_id]
assert g[dataset_id]["identifier"] == dataset_id
img = g[a["containerImage"]["@id"]]
assert img["@type"] == "ContainerImage" and "sha256:" + img["sha256"] == image, (img, image)
out = g[a["result"][0]["@id"]]
assert len(out["sha256"]) == 64 and out["contentSize"] > 0
PY
"$SLUSS" provenance --job "$(job_field 3 extract id)" >"$tmp/jobprov.json"
python3 - "$tmp/jobprov.json" "$commit" <<'PY' && ok || fail "job provenance record"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["commit"] == sys.argv[2] and len(p["tree"]) == 40 and len(p["pipeline_sha256"]) == 64
assert p["datasets"][0]["permit"] == "P-8" and p["person"] == "alice@example.org"
assert p["runtime"]["name"] == "runc" and p["config_sha256"] and p["seccomp_sha256"]
assert p["outputs"][0]["level"] == "releasable" and p["cache_key"].startswith("sha256:")
assert p["resources"]["used"]["cpu_seconds"] >= 0
PY

# The record is also in the job's directory, beside spec.json and result.json.
# The attempt's directory is <job>-<attempt>-<key>.
extract_dir=$(echo "$tmp/state/jobs/$(job_field 3 extract id)-1-"*)
for _ in $(seq 50); do [[ -f $extract_dir/provenance.json ]] && break; sleep 0.1; done
grep -q "$want" "$extract_dir/provenance.json" && ok || fail "no provenance.json in the job's directory"

# 5. The kill switch: revoking the permit stops a running job at once.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  long:
    image: python-3.11
    run: python3 -c "import time; time.sleep(600)"
    datasets: [prescriptions]
YAML
push "long" >/dev/null
wait_status 4 long executing && ok || fail "long did not start: $(job_field 4 long reason)"
long_id=$(job_field 4 long id)
container=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$tmp/state/jobs/$long_id-1-"*/spec.json)
SLUSS_TOKEN=$steward "$SLUSS" permit revoke P-8 --reason "data breach at the partner" >/dev/null; expect_rc "revoke" 0 $?
wait_status 4 long permit_revoked && ok || fail "long after the revocation: $(job_field 4 long status_code)"
[[ $(job_field 4 long reason) == *"permit P-8 was revoked"*"data breach"* ]] && ok || fail "revoked reason: $(job_field 4 long reason)"
for _ in $(seq 50); do container_runs "$container" || break; sleep 0.1; done  # KILL at once: no grace
container_runs "$container" && fail "the revoked job's container still runs" || ok
echo "# after revoke" >>"$work/sluss.yaml"
push "after revoke" >"$tmp/push5"
grep -q "not in any valid permit of project p1 (permit P-8 was revoked" "$tmp/push5" && ok || fail "push after revoke: $(cat "$tmp/push5")"

# 6. A changed dataset stops jobs from starting; a full check names the file.
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-9 --project p1 --datasets prescriptions@2026-06 --persons alice@example.org \
  --purpose "cohort study" --from 2026-01-01 --until 2099-01-01 >/dev/null
echo "9999,extra" >>"$tmp/data/rx/2026/part-2.csv"
echo "# changed data" >>"$work/sluss.yaml"
push "changed data" >/dev/null
wait_status 6 long internal_error && ok || fail "a job on changed data: $(job_field 6 long status_code)"
[[ $(job_field 6 long reason) == *"has changed since it was registered (2026/part-2.csv: size"* ]] && ok || fail "changed reason: $(job_field 6 long reason)"
SLUSS_TOKEN=$steward "$SLUSS" dataset verify prescriptions 2026-06 2>"$tmp/err"; expect_rc "verify a changed dataset" 1 $?
grep -q "2026/part-2.csv: content changed" "$tmp/err" && ok || fail "verify: $(cat "$tmp/err")"

# 7. The audit log: what happened is in it, and it verifies.
curl -s -H "Authorization: Bearer slu_forged" "http://$SLUSS_SERVER/v1/runs" >/dev/null
SLUSS_TOKEN=$auditor "$SLUSS" audit list --limit 1000 --json >"$tmp/audit.json"; expect_rc "audit list" 0 $?
python3 - "$tmp/audit.json" <<'PY' && ok || fail "audit records"
import json, sys
recs = json.load(open(sys.argv[1]))["records"]
actions = {r["action"] for r in recs}
for a in ("token.created", "dataset.registered", "dataset.ready", "dataset.verified", "permit.granted", "permit.revoked",
          "run.refused", "run.created", "job.status", "api.request", "api.denied", "api.read"):
    assert a in actions, (a, sorted(actions))
assert recs[0]["seq"] == 1, recs[0]
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
for r in recs:
    assert "row," not in (r["payload"] or ""), r  # ids and hashes only, never data
PY
sleep 1.5  # a checkpoint (every 1 s when records were added)
SLUSS_TOKEN=$auditor "$SLUSS" audit verify --public-key "$tmp/state/audit/ed25519.pub" >"$tmp/verify.out"; expect_rc "audit verify" 0 $?
grep -q "^audit log: ok, [0-9]* records, chain intact, [1-9][0-9]* signed checkpoints verified" "$tmp/verify.out" && ok || fail "verify: $(cat "$tmp/verify.out")"
SLUSS_TOKEN=$auditor "$SLUSS" audit proof 5 >"$tmp/proof.out"; expect_rc "inclusion proof" 0 $?
grep -q "^record 5 (.*) is in the tree of" "$tmp/proof.out" && ok || fail "proof: $(cat "$tmp/proof.out")"
SLUSS_TOKEN=$alice "$SLUSS" audit list 2>/dev/null; expect_rc "a researcher may not read the audit log" 4 $?

# 8. Offline, on copies of the database: a clean copy verifies; an edited,
# deleted or reordered record is named.
kill -TERM "$pid"; wait "$pid"; pid=
pub=$tmp/state/audit/ed25519.pub
"$SLUSS" audit verify --db "$tmp/state/sluss.db" --public-key "$pub" >"$tmp/offline.out"; expect_rc "offline verify" 0 $?
grep -q "0 newest records not signed\|signed checkpoints verified$" "$tmp/offline.out" && ok || fail "offline: $(cat "$tmp/offline.out")"
drop="DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER audit_payloads_no_update;"
tamper() {  # tamper NAME SQL EXPECTED_SEQ
  cp "$tmp/state/sluss.db" "$tmp/copy.db"
  sqlite3 "$tmp/copy.db" "$drop $2" || { fail "$1: sqlite3"; return; }
  "$SLUSS" audit verify --db "$tmp/copy.db" --public-key "$pub" 2>"$tmp/tamper.err"
  expect_rc "$1: verify fails" 1 $?
  grep -q "record $3\b" "$tmp/tamper.err" && ok || fail "$1: $(cat "$tmp/tamper.err")"
}
tamper "edited" "UPDATE audit SET actor = 'mallory' WHERE seq = 7;" 7
tamper "payload edited" "UPDATE audit_payloads SET payload = '{}' WHERE seq = 9;" 9
tamper "deleted" "DELETE FROM audit_payloads WHERE seq = 4; DELETE FROM audit WHERE seq = 4;" 4
tamper "reordered" "UPDATE audit SET seq = -1 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = -1;" 5
sqlite3 -cmd ".timeout 5000" "$tmp/state/sluss.db" "UPDATE audit SET actor = 'x' WHERE seq = 1" 2>"$tmp/err"
grep -q "append-only" "$tmp/err" && ok || fail "the triggers did not refuse an UPDATE"

grep " ERROR " "$tmp/log" && fail "errors in slussd's log"
finish "permits"
