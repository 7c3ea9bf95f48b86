#!/usr/bin/env bash
# slussd refuses to start on a past it cannot account for: a lost -wal, a
# WAL damaged in the middle, a zero-length database, a truncated one, and an
# older backup put back, each against the high-water mark beside the
# database. Each refusal names what is wrong and what to do; `slussd
# recover --accept-loss` goes on and records the loss in the audit log.
# Real slussd, real SQLite files, the sluss CLI.
#   state_damage_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
tmp=$(mktemp -d /tmp/sluss-damage-XXXXXX)
pid=
source "$(dirname "$0")/support/slussd.sh"
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  mountpoint -q "$tmp/small" 2>/dev/null && umount -l "$tmp/small"
  rm -rf "$tmp"
}
trap cleanup EXIT
db=$tmp/state/sluss.db
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
YAML
starts=0
start() { starts=$((starts + 1)); slussd_start $starts; }
# kill9: as a crash or a power cut would.
kill9() { kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=; }
# wait_mark: until the mark holds the database's last audit record.
wait_mark() {
  local want
  want=$(sqlite3 "$db" 'SELECT max(seq) FROM audit')
  for _ in $(seq 200); do
    [[ $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["audit_seq"])' "$db.mark" 2>/dev/null) == "$want" ]] && return 0
    sleep 0.05
  done
  fail "the mark did not reach audit record $want: $(cat "$db.mark")"
}
# refused NAME PATTERN: slussd exits non-zero at start, saying PATTERN and
# what to do.
refused() {
  timeout 60 "$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/refused"
  local rc=$?
  [[ $rc != 0 && $rc != 124 ]] && ok || fail "$1: slussd started (exit $rc)"
  grep -q "$2" "$tmp/refused" && ok || fail "$1: the refusal does not say '$2': $(cat "$tmp/refused")"
  grep -q "slussd recover --accept-loss\|restore the newest backup" "$tmp/refused" && ok ||
    fail "$1: the refusal does not say what to do: $(cat "$tmp/refused")"
  grep -q "WAL journal mode" "$tmp/refused" && fail "$1: blames WAL: $(cat "$tmp/refused")"
  grep -q " ready " "$tmp/refused" && fail "$1: said ready"
  [[ -n ${SHOW:-} ]] && cat "$tmp/refused"
}
# accept_loss NAME: recover refuses without the flag, then records the loss.
accept_loss() {
  "$SLUSSD" recover --config "$tmp/slussd.yaml" 2>"$tmp/recover"
  expect_rc "$1: recover without --accept-loss" 1 $?
  "$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover"
  expect_rc "$1: recover --accept-loss" 0 $? 
  grep -q "loss accepted" "$tmp/recover" && ok || fail "$1: recover says: $(cat "$tmp/recover")"
}
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin

# A first life: the state the damage will hit.
start
"$SLUSS" project create p1 >/dev/null; expect_rc "project p1" 0 $?
slussd_stop
[[ -s $db.mark ]] && ok || fail "no high-water mark beside the database"
cp "$db" "$tmp/clean.db"; cp "$db.mark" "$tmp/clean.mark"

# 1. A lost -wal: what was committed since the last checkpoint is gone.
start
"$SLUSS" project create p2 >/dev/null; expect_rc "project p2" 0 $?
wait_mark
kill9
[[ -s $db-wal ]] && ok || fail "no WAL after the kill"
rm -f "$db-wal" "$db-shm"
refused "lost WAL" "is behind what it held"
accept_loss "lost WAL"
start
"$SLUSS" projects --json >"$tmp/projects"
grep -q '"p1"' "$tmp/projects" && ok || fail "lost WAL: p1 is gone after the recovery"
sqlite3 "$db" "SELECT action FROM audit" >"$tmp/audit"
grep -q "state.loss_accepted" "$tmp/audit" && ok || fail "lost WAL: no state.loss_accepted in the audit log"
slussd_stop

# 2. A WAL damaged in the middle: SQLite replays up to the damage and drops
# the rest without a word.
start
for p in p3 p4 p5 p6; do "$SLUSS" project create $p >/dev/null; done
wait_mark
kill9
size=$(stat -c %s "$db-wal")
printf 'garbage in the middle of the WAL' | dd of="$db-wal" bs=1 seek=$((size / 2)) conv=notrunc status=none
refused "damaged WAL" "is behind what it held\|another audit record"
accept_loss "damaged WAL"
start; slussd_stop

# 3. A zero-length database.
cp "$db" "$tmp/before-zero.db"
: >"$db"
rm -f "$db-wal" "$db-shm"
refused "zero-length database" "is empty (zero bytes)"
# 4. A missing one.
rm -f "$db"
refused "missing database" "is missing"
# 5. A truncated one: named as damaged, not as a WAL problem.
cp "$tmp/before-zero.db" "$db"
truncate -s $(($(stat -c %s "$db") / 2)) "$db"
refused "truncated database" "is damaged"
# recover cannot mend a damaged file: it says to restore or move it aside.
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover"
expect_rc "recover on a damaged database" 1 $?
grep -q "restore the newest backup" "$tmp/recover" && ok || fail "recover on damage says: $(cat "$tmp/recover")"
cp "$tmp/before-zero.db" "$db"
start; slussd_stop

# 6. An older backup put back: the start is refused, and only the recover
# path accepts it. The backup is made while slussd runs and writes.
start
"$SLUSSD" backup "$tmp/backup" --config "$tmp/slussd.yaml" 2>"$tmp/backup.log"
expect_rc "slussd backup" 0 $?
for f in sluss.db sluss.db.mark audit-ed25519.pub; do
  [[ -s $tmp/backup/$f ]] && ok || fail "the backup has no $f: $(cat "$tmp/backup.log")"
done
[[ $(ls "$tmp/backup" | sort | tr '\n' ' ') == "audit-ed25519.pub sluss.db sluss.db.mark " ]] && ok ||
  fail "the backup holds more than its three files: $(ls "$tmp/backup")"
# What the state directory keeps private, its backup does too.
[[ -z $(find "$tmp/backup" -perm /077) ]] && ok ||
  fail "the backup is readable by others: $(find "$tmp/backup" -perm /077 -printf '%m %p\n')"
"$SLUSSD" backup "$tmp/backup" --config "$tmp/slussd.yaml" 2>/dev/null
expect_rc "backup into a used directory" 1 $?
"$SLUSS" project create later >/dev/null; expect_rc "project later" 0 $?
slussd_stop
cp "$tmp/backup/sluss.db" "$db"
rm -f "$db-wal" "$db-shm"
refused "restored older backup" "is behind what it held"
accept_loss "restored older backup"
start
"$SLUSS" projects --json >"$tmp/projects"
grep -q '"p3"' "$tmp/projects" && ok || fail "restore: the backup's projects are not back"
grep -q '"later"' "$tmp/projects" && fail "restore: a project made after the backup is there"
"$SLUSS" status >/dev/null; expect_rc "restore: the backup's admin token works" 0 $?
"$SLUSS" audit verify >"$tmp/verify" 2>&1; expect_rc "restore: audit verify" 0 $?
slussd_stop

# 7. Another installation's database is refused too.
cp "$tmp/clean.db" "$db"
rm -f "$db-wal" "$db-shm"
sqlite3 "$db" "UPDATE settings SET value = '{\"id\":\"0000\"}' WHERE key = 'instance'" 2>/dev/null
refused "another installation's database" "another installation\|is behind"

# A removed mark: the start goes on (it cannot know better) but warns.
rm -f "$db.mark"
cp "$tmp/clean.db" "$db"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>/dev/null  # nothing to recover
start
grep -q "WARN the high-water mark beside $db is missing" "$tmp/log" && ok || fail "no warning for a removed mark"
slussd_stop
[[ -s $db.mark ]] && ok || fail "no new mark"
# 8. An older database put back with its own mark, or after the mark was
# removed: the mark agrees, but the directory of a job the database never
# had shows the loss (restore_test.sh does it with real jobs).
fake_job=$tmp/state/jobs/99-1-0123456789abcdef
mkdir -p "$fake_job" && echo '{}' >"$fake_job/result.json"
refused "an unknown job directory" "does not know the job directory 99-1-0123456789abcdef"
rm -f "$db.mark"
refused "an unknown job directory, the mark removed" "does not know the job directory 99-1-"
accept_loss "an unknown job directory"
aside=("$tmp"/state/jobs-set-aside/*/99-1-0123456789abcdef)
[[ -f ${aside[0]}/result.json && ! -e $fake_job ]] && ok || fail "the unknown job directory was not set aside whole"
[[ -z $(find "$tmp/state/jobs-set-aside" -maxdepth 1 -perm /077) ]] && ok ||
  fail "the set-aside directory is readable by others: $(find "$tmp/state/jobs-set-aside" -maxdepth 1 -perm /077)"
start; slussd_stop

# 9. A backup into a file system that fills, wherever the room runs out:
# it fails saying so, and leaves nothing that passes for a backup.
if [[ $(id -u) == 0 ]]; then
  start
  mkdir -p "$tmp/small"
  need=$(( ($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)) / 1024 ))
  whole=0 refused_full=0
  for kb in $(seq 8 8 $((need + 64))); do
    mount -t tmpfs -o size=${kb}k tmpfs "$tmp/small" || { fail "cannot mount a tmpfs"; break; }
    "$SLUSSD" backup "$tmp/small/b" --config "$tmp/slussd.yaml" 2>"$tmp/backup.full"
    if [[ $? == 0 ]]; then
      whole=$((whole + 1))
      [[ $(ls "$tmp/small/b" | tr '\n' ' ') == "audit-ed25519.pub sluss.db sluss.db.mark " ]] && ok ||
        fail "a ${kb}K backup said ok with: $(ls "$tmp/small/b")"
    else
      refused_full=$((refused_full + 1))
      [[ -z $(ls -A "$tmp/small") ]] && ok ||
        fail "a ${kb}K backup failed but left $(ls -AR "$tmp/small"): $(cat "$tmp/backup.full")"
      grep -q "bytes free on its file system" "$tmp/backup.full" && ok ||
        fail "a ${kb}K backup's failure does not say how much room there was: $(cat "$tmp/backup.full")"
    fi
    umount "$tmp/small"
  done
  [[ $whole -gt 0 && $refused_full -gt 0 ]] && ok || fail "backups on a small tmpfs: $whole whole, $refused_full refused"
  slussd_stop
fi

# 10. A backup killed wherever it is (SIGKILL, as a power cut would) is
# whole or absent: no sluss.db.mark unless every file is whole, and a
# second backup into the folder removes the leftovers and makes a whole
# one. A database large enough that the copy takes a while: each kill
# point is seen (the process stopped with SIGSTOP there), then killed.
mkdir -p "$tmp/big"
cp "$db" "$tmp/big/sluss.db"
sqlite3 "$tmp/big/sluss.db" "PRAGMA journal_mode=DELETE; CREATE TABLE pad(b);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 96)
  INSERT INTO pad SELECT randomblob(1048576) FROM n" >/dev/null || fail "cannot pad the database"
printf 'state_dir: %s\nlisten: 127.0.0.1:0\n' "$tmp/big" >"$tmp/big.yaml"
whole_or_absent() {  # DIR WHEN
  if [[ -e $1/sluss.db.mark ]]; then
    [[ $(ls "$1" | tr '\n' ' ') == "sluss.db sluss.db.mark " &&
       $(sqlite3 "$1/sluss.db" 'PRAGMA quick_check') == ok ]] && ok ||
      fail "$2: a mark beside what is not a whole backup: $(ls "$1")"
  else
    ok
  fi
}
seen=0
for point in sluss.db.partial sluss.db.mark.partial sluss.db 0 50 200 1000; do
  b=$tmp/killed-$point
  "$SLUSSD" backup "$b" --config "$tmp/big.yaml" 2>"$tmp/killed.log" &
  bpid=$!
  if [[ $point == [0-9]* ]]; then
    for ((i = 0; i < point; i++)); do :; done
    kill -STOP "$bpid" 2>/dev/null
  else
    until [[ -e $b/$point ]] || ! kill -0 "$bpid" 2>/dev/null; do :; done
    kill -STOP "$bpid" 2>/dev/null && [[ -e $b/$point ]] && seen=$((seen + 1))
  fi
  whole_or_absent "$b" "stopped at $point"
  if [[ $point == sluss.db.partial && -e $b/$point ]]; then
    # A second backup into the folder meanwhile takes nothing for leftovers.
    "$SLUSSD" backup "$b" --config "$tmp/big.yaml" 2>"$tmp/again.log"
    expect_rc "a backup into a folder another backup is writing" 1 $?
    grep -q "another backup is writing into $b" "$tmp/again.log" && [[ -e $b/$point ]] && ok ||
      fail "a second backup meddled with a running one: $(cat "$tmp/again.log")"
  fi
  kill -KILL "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null
  whole_or_absent "$b" "killed at $point"
  [[ -e $b/sluss.db.mark ]] && continue  # it had finished: a whole backup
  if [[ -d $b ]]; then
    "$SLUSSD" backup "$b" --config "$tmp/big.yaml" 2>"$tmp/again.log"
    expect_rc "a backup over what one killed at $point left" 0 $?
    [[ -z $(ls -A "$b" | grep -vx 'sluss.db\|sluss.db.mark') ]] && ok || fail "again after $point: $(ls -A "$b")"
    whole_or_absent "$b" "again after $point"
    [[ -e $b/sluss.db.mark ]] && ok || fail "no whole backup after $point: $(cat "$tmp/again.log")"
    if [[ $point == sluss.db.partial ]]; then
      grep -q "removed what an interrupted backup left in $b: sluss.db.partial" "$tmp/again.log" && ok ||
        fail "the leftovers were not named: $(cat "$tmp/again.log")"
    fi
  fi
done
[[ $seen -ge 1 ]] && ok || fail "no kill point was reached while the backup ran"
# A folder with a whole backup, or with something else, is still refused.
"$SLUSSD" backup "$tmp/killed-sluss.db.partial" --config "$tmp/big.yaml" 2>"$tmp/again.log"
expect_rc "a backup into a whole backup" 1 $?
mkdir -p "$tmp/other" && echo x >"$tmp/other/sluss.db.partial" && echo y >"$tmp/other/notes"
"$SLUSSD" backup "$tmp/other" --config "$tmp/big.yaml" 2>"$tmp/again.log"
expect_rc "a backup into a folder with other files" 1 $?
[[ -e $tmp/other/sluss.db.partial && -e $tmp/other/notes ]] && ok || fail "a refused backup removed files"

# A damaged mark is named, not ignored.
echo "{not json" >"$db.mark"
refused "damaged mark" "high-water mark .* is damaged" 
grep " ERROR " "$tmp/log" | grep -v "refusing to start" && fail "errors in slussd's log"
finish "state damage"
