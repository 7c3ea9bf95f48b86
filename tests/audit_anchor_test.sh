#!/usr/bin/env bash
# The audit anchor (audit.anchor_dir): a whole state directory put back from
# an older copy (database, its high-water mark and jobs/ together) agrees
# with its own mark and job directories, and only the anchor kept apart
# notices. Attacked as someone with root on the state directory but not on
# the anchor directory would: roll it back, remove or replace the audit key,
# append a well-chained forged tail to reach the anchor's size; and a forged
# anchor, a missing or unwritable anchor directory, one inside state_dir.
# Real slussd, real SQLite files, the sluss CLI.
#   audit_anchor_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
tmp=$(mktemp -d /tmp/sluss-anchor-XXXXXX)
pid=
source "$(dirname "$0")/support/slussd.sh"
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  mountpoint -q "$tmp/ro" 2>/dev/null && umount -l "$tmp/ro"
  rm -rf "$tmp"
}
trap cleanup EXIT
state=$tmp/state
db=$state/sluss.db
anchor=$tmp/anchor/audit-anchor.json
mkdir -m 700 "$tmp/anchor"
# config ANCHOR_DIR: slussd.yaml with that anchor_dir ("" for none).
config() {
  printf 'state_dir: %s\nlisten: 127.0.0.1:0\n' "$state" >"$tmp/slussd.yaml"
  [[ -n $1 ]] && printf 'audit:\n  anchor_dir: %s\n' "$1" >>"$tmp/slussd.yaml"
}
config "$tmp/anchor"
starts=0
start() { starts=$((starts + 1)); slussd_start $starts; }
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d" + sys.argv[2]))' "$@"; }
# refused NAME PATTERN [TODO]: slussd exits non-zero at start, saying
# PATTERN and what to do (TODO, by default a restore or the recover path).
refused() {
  timeout 60 "$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/refused"
  local rc=$?
  [[ $rc != 0 && $rc != 124 ]] && ok || fail "$1: slussd started (exit $rc)"
  grep -q "refusing to start: .*$2" "$tmp/refused" && ok ||
    fail "$1: the refusal does not say '$2': $(cat "$tmp/refused")"
  grep -q "${3:-slussd recover --accept-loss}" "$tmp/refused" && ok ||
    fail "$1: the refusal does not say what to do: $(cat "$tmp/refused")"
  grep -q " ready " "$tmp/refused" && fail "$1: said ready"
  [[ -n ${SHOW:-} ]] && cat "$tmp/refused"
}
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin

# T1: a first life, then a copy of the whole state directory.
start
"$SLUSS" project create p1 >/dev/null; expect_rc "project p1" 0 $?
slussd_stop
[[ -s $anchor ]] && ok || fail "no audit anchor in $tmp/anchor"
[[ $(stat -c %a "$anchor") == 600 ]] && ok || fail "the anchor is $(stat -c %a "$anchor"), not 0600"
t1_size=$(json_get "$anchor" '["checkpoint"]["tree_size"]')
[[ $t1_size -gt 0 && $t1_size == $(sqlite3 "$db" 'SELECT count(*) FROM audit') ]] && ok ||
  fail "the anchor's checkpoint covers $t1_size records, the database holds $(sqlite3 "$db" 'SELECT count(*) FROM audit')"
cp -a "$state" "$tmp/t1"

# T2: more work; the anchor moves with it.
start
for p in p2 p3; do "$SLUSS" project create $p >/dev/null; expect_rc "project $p" 0 $?; done
slussd_stop
t2_size=$(json_get "$anchor" '["checkpoint"]["tree_size"]')
[[ $t2_size -gt $t1_size ]] && ok || fail "the anchor did not move: $t1_size, then $t2_size"
cp -a "$state" "$tmp/t2"
cp "$anchor" "$tmp/t2.anchor"

# 1. The T1 copy put back whole (database, mark, jobs/, audit key): the
# mark and the job directories agree with it; the anchor does not. The
# refusal names both values.
rm -rf "$state"; cp -a "$tmp/t1" "$state"
refused "state directory rolled back" "holds $t1_size audit records, but the audit anchor $anchor holds a checkpoint .* over audit records 1 to $t2_size"
grep -q "rolled back" "$tmp/refused" && ok || fail "the refusal does not say rolled back: $(cat "$tmp/refused")"
# Without the anchor the same rollback starts, with the warning that says so.
config ""
start
grep -q "WARN audit.anchor_dir is not set" "$tmp/log" && ok || fail "no warning without an anchor_dir"
slussd_stop
rm -rf "$state"; cp -a "$tmp/t1" "$state"
config "$tmp/anchor"
# recover says what is wrong, and only with --accept-loss goes on, records
# the loss with both values, and moves the anchor.
"$SLUSSD" recover --config "$tmp/slussd.yaml" 2>"$tmp/recover"
expect_rc "recover without --accept-loss" 1 $?
grep -q "audit anchor" "$tmp/recover" && ok || fail "recover does not name the anchor: $(cat "$tmp/recover")"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover"
expect_rc "recover --accept-loss" 0 $?
grep -q "loss accepted" "$tmp/recover" && grep -q "the audit anchor $anchor now holds" "$tmp/recover" && ok ||
  fail "recover says: $(cat "$tmp/recover")"
loss=$(sqlite3 "$db" "SELECT p.payload FROM audit a JOIN audit_payloads p USING (seq) WHERE a.action = 'state.loss_accepted'")
python3 - "$loss" "$t2_size" "$t1_size" <<'EOF' && ok || fail "the loss record lacks both values: $loss"
import json, sys
p = json.loads(sys.argv[1])
assert p["anchor"]["checkpoint"]["tree_size"] == int(sys.argv[2]), p
assert p["database"]["audit_seq"] == int(sys.argv[3]), p
assert p["database"]["audit_root"] and p["anchor"]["checkpoint"]["root"], p
EOF
[[ $(json_get "$anchor" '["checkpoint"]["tree_size"]') -gt $t1_size ]] && ok || fail "recover did not move the anchor"
start
"$SLUSS" projects --json >"$tmp/projects"
grep -q '"p1"' "$tmp/projects" && ok || fail "p1 is gone after the recovery"
grep -q '"p2"' "$tmp/projects" && fail "p2, made after the copy, is there"
"$SLUSS" audit verify >"$tmp/verify" 2>&1; expect_rc "audit verify after the recovery" 0 $?
slussd_stop

# 2. A forged anchor: a changed signature, or a checkpoint of more records
# than the database holds with the old signature, does not verify.
good=$tmp/good.anchor; cp "$anchor" "$good"
python3 - "$anchor" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
s = a["checkpoint"]["signature"]
a["checkpoint"]["signature"] = s[:-1] + ("0" if s[-1] != "0" else "1")
json.dump(a, open(sys.argv[1], "w"))
EOF
refused "a forged signature" "does not verify with the audit key's public half" "put back its copy"
python3 - "$anchor" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
a["checkpoint"]["tree_size"] += 100
json.dump(a, open(sys.argv[1], "w"))
EOF
refused "a forged checkpoint size" "does not verify"
echo '{"checkpoint": 1' >"$anchor"
refused "a damaged anchor" "audit anchor $anchor is damaged"
cp "$good" "$anchor"
start; slussd_stop
good_size=$(json_get "$anchor" '["checkpoint"]["tree_size"]')
cp "$anchor" "$good"
cp -a "$state" "$tmp/t3"

# 3. The attacker removes the audit key (a new one would sign anything), or
# puts one of their own in its place.
key=$state/audit/ed25519.key
mv "$key" "$tmp/key.saved"
refused "the audit key removed" "the audit key is missing" "put the key back"
[[ ! -e $key ]] && ok || fail "a refused start made a new audit key"
openssl genpkey -algorithm ed25519 -out "$key" 2>/dev/null
refused "the audit key replaced" "but the audit key is now key" "put the key back"
mv "$tmp/key.saved" "$key"

# 4. Rolled back to T1, then a well-chained forged tail appended until the
# database holds as many records as the anchor's checkpoint: the chain
# verifies record by record, the Merkle root does not.
rm -rf "$state"; cp -a "$tmp/t1" "$state"
python3 - "$db" "$good_size" <<'EOF'
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
want = int(sys.argv[2])
seq, at, prev = db.execute("SELECT seq, at, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
while seq < want:
    seq += 1; at += 1
    payload = "{}"
    ph = hashlib.sha256(payload.encode()).hexdigest()
    fields = ["sluss-audit-v1", seq, at, "admin@example.org", "api.request", "forged", ph, prev]
    h = hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()
    db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
               (seq, at, "admin@example.org", "api.request", "forged", ph, prev, h))
    db.execute("INSERT INTO audit_payloads VALUES (?,?)", (seq, payload))
    prev = h
db.commit()
EOF
[[ $(sqlite3 "$db" 'SELECT count(*) FROM audit') == "$good_size" ]] && ok || fail "the forged tail is not $good_size records long"
refused "a forged tail over a rolled-back log" "the Merkle root .* the database's past was replaced"
rm -rf "$state"; cp -a "$tmp/t3" "$state"

# 5. The anchor's mark is fresher than its checkpoint: a copy taken after
# the last checkpoint but before later changes is caught too. The copy is
# the T3 state (its checkpoint is the anchor's); then changes without a
# checkpoint (checkpoint_every and the interval not reached) move only the
# mark.
start
"$SLUSS" project create p4 >/dev/null; expect_rc "project p4" 0 $?
for _ in $(seq 200); do
  [[ $(json_get "$anchor" '["mark"]["audit_seq"]') == $(sqlite3 "$db" 'SELECT max(seq) FROM audit') ]] && break
  sleep 0.05
done
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
[[ $(json_get "$anchor" '["checkpoint"]["tree_size"]') == "$good_size" ]] && ok ||
  fail "a checkpoint was signed: the case needs one unsigned change"
rm -rf "$state"; cp -a "$tmp/t3" "$state"
refused "rolled back after the anchor's checkpoint" "is behind the audit anchor"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover"
expect_rc "recover after the unsigned rollback" 0 $?

# 6. Where the anchor lives: a missing directory, one inside state_dir, and
# one slussd cannot write, each stop the start.
config "$tmp/nowhere"
refused "a missing anchor_dir" "audit.anchor_dir $tmp/nowhere is not a directory" "make it"
mkdir -p "$state/anchor"
config "$state/anchor"
refused "an anchor_dir inside state_dir" "is inside state_dir" "give it a directory apart"
if [[ $(id -u) == 0 ]]; then
  mkdir -p "$tmp/ro"
  mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" || fail "cannot mount a tmpfs"
  config "$tmp/ro"
  refused "a read-only anchor_dir" "cannot write the audit anchor $tmp/ro/audit-anchor.json" "must be writable"
  # While running, a failed write is logged once, and its end.
  umount "$tmp/ro"
  mount -t tmpfs -o size=1m tmpfs "$tmp/ro"
  start
  mount -o remount,ro "$tmp/ro"
  "$SLUSS" project create p5 >/dev/null; expect_rc "project p5 with the anchor read-only" 0 $?
  for _ in $(seq 200); do grep -q "ERROR audit anchor: " "$tmp/log" && break; sleep 0.05; done
  grep -q "ERROR audit anchor: .*not logged again until it is written" "$tmp/log" && ok ||
    fail "a failed anchor write is not logged: $(tail -3 "$tmp/log")"
  mount -o remount,rw "$tmp/ro"
  "$SLUSS" project create p6 >/dev/null
  for _ in $(seq 200); do grep -q "audit anchor: written again" "$tmp/log" && break; sleep 0.05; done
  grep -q "INFO audit anchor: written again" "$tmp/log" && ok || fail "the anchor's recovery is not logged"
  [[ $(grep -c "ERROR audit anchor: " "$tmp/log") == 1 ]] && ok || fail "the failed anchor write was logged more than once"
  slussd_stop
fi
grep " ERROR " "$tmp/log" | grep -v "refusing to start\|audit anchor: " && fail "errors in slussd's log"
finish "audit anchor"
