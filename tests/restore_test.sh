#!/usr/bin/env bash
# A restored backup repeats job ids: the new jobs must run in containers of
# their own, with results of their own, never adopt what the jobs that had
# those ids before the restore left in STATE/jobs. Real slussd, git push,
# runc. Needs root; exit 77 otherwise.
#   restore_test.sh SLUSS SLUSSD SLUSS_RUN
set -uo pipefail
SLUSS=$1
SLUSSD=$2
RUN=$3
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin restore
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-restore, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
"$SLUSS" project create p --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
slussd_stop
# The backup: a project, no runs yet.
sqlite3 "$tmp/state/sluss.db" ".backup '$tmp/backup.db'"; expect_rc "backup" 0 $?

slussd_start 2
work=$tmp/work
mkdir -p "$work"
git -C "$work" init -q -b main
# Each run of the job prints the code it was given (marker.txt) and writes
# something no other run can: a fresh nonce.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  a:
    image: python-3.11
    run: python3 -c "import os; n = os.urandom(16).hex(); print('nonce', n, open('marker.txt').read()); open('output/n.txt', 'w').write(n)"
    outputs: {sensitive: [output/n.txt]}
YAML
echo first >"$work/marker.txt"
git -C "$work" add -A && git -C "$work" commit -qm one && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
wait_status 1 a succeeded && ok || fail "run 1: $(job_field 1 a status_code) $(job_field 1 a reason)"
before=$(job_field 1 a result.outputs)
before_log=$("$SLUSS" logs "$(job_field 1 a id)")
slussd_stop

# Restore the backup over the state directory; jobs/ keeps the later job.
rm -f "$tmp/state/sluss.db-wal" "$tmp/state/sluss.db-shm"
cp "$tmp/backup.db" "$tmp/state/sluss.db"
# New code is pushed while slussd is down (its hook cannot reach it).
echo second >"$work/marker.txt"
git -C "$work" commit -qam two && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
# The database is behind its high-water mark: slussd refuses it until the
# loss is accepted, which sets aside the job directories it does not know.
timeout 60 "$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/refused"
[[ $? == 1 ]] && grep -q "is behind what it held" "$tmp/refused" && ok ||
  fail "slussd started on the restored backup: $(cat "$tmp/refused")"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover"
expect_rc "recover --accept-loss" 0 $?
grep -q "job directory 1-1-[0-9a-f]* is not the database's: set aside" "$tmp/recover" && ok ||
  fail "recover did not report the old job 1's directory: $(cat "$tmp/recover")"
set_aside=("$tmp"/state/jobs-set-aside/*/1-1-*)
[[ -f ${set_aside[0]}/result.json ]] && ok || fail "the old job 1's directory is not kept aside whole"
slussd_start 3
# slussd catches up on the branch: the new commit becomes run 1, with job 1
# again. It must run anew, on its own code.
for _ in $(seq 100); do [[ -n $(job_field 1 a id 2>/dev/null) ]] && break; sleep 0.1; done
wait_status 1 a succeeded && ok || fail "run 1 after the restore: $(job_field 1 a status_code) $(job_field 1 a reason)"
after=$(job_field 1 a result.outputs)
after_log=$("$SLUSS" logs "$(job_field 1 a id)")
[[ -n $after && $after != "$before" ]] && ok || fail "the new job 1 adopted the old job 1's result: $after"
[[ $after_log == nonce* && $after_log != "$before_log" ]] && ok || fail "the new job 1 shows the old job 1's log: $after_log"
[[ $before_log == *first && $after_log == *second ]] && ok || fail "the new job 1 ran the old code: $after_log"
# Two directories for job 1, attempt 1: the old one, set aside untouched,
# and the new one.
dirs=("$tmp"/state/jobs/1-1-* "$tmp"/state/jobs-set-aside/*/1-1-*)
[[ ${#dirs[@]} == 2 ]] && ok || fail "job directories for 1-1: ${dirs[*]}"
nonces=$(for d in "${dirs[@]}"; do cat "$d/outputs/output/n.txt"; echo; done | sort -u | wc -l)
[[ $nonces == 2 ]] && ok || fail "the two attempts' outputs are not their own"

# A second commit: job 2 (the old job 2 never existed) runs too.
echo "# three" >>"$work/sluss.yaml"
git -C "$work" commit -qam three && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
wait_status 2 a succeeded && ok || fail "run 2: $(job_field 2 a status_code) $(job_field 2 a reason)"

# A backup taken while a job runs, restored after it ended: its directory
# carries the attempt key of the restored row, so recover keeps it and the
# start adopts the result it left, without running the job again.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  a:
    image: python-3.11
    run: python3 -c "import os, time; time.sleep(4); n = os.urandom(16).hex(); print('nonce', n); open('output/n.txt', 'w').write(n)"
    outputs: {sensitive: [output/n.txt]}
YAML
git -C "$work" commit -qam four && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
for _ in $(seq 100); do [[ $(job_field 3 a status_code 2>/dev/null) == executing ]] && break; sleep 0.1; done
[[ $(job_field 3 a status_code) == executing ]] && ok || fail "run 3 is not running: $(job_field 3 a status_code)"
"$SLUSSD" backup "$tmp/backup2" --config "$tmp/slussd.yaml" 2>>"$tmp/backup.log"; expect_rc "backup while a job runs" 0 $?
wait_status 3 a succeeded && ok || fail "run 3: $(job_field 3 a status_code) $(job_field 3 a reason)"
ran=$(job_field 3 a result.outputs)
slussd_stop
rm -f "$tmp/state/sluss.db-wal" "$tmp/state/sluss.db-shm"
cp "$tmp/backup2/sluss.db" "$tmp/state/sluss.db"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover2"
expect_rc "recover after the second restore" 0 $?
grep -q "job directory 3-1-" "$tmp/recover2" && fail "recover set aside the running job's own directory: $(cat "$tmp/recover2")"
slussd_start 4
wait_status 3 a succeeded && ok || fail "run 3 after the restore: $(job_field 3 a status_code) $(job_field 3 a reason)"
[[ $(job_field 3 a result.outputs) == "$ran" ]] && ok || fail "run 3's result was not adopted: $(job_field 3 a result.outputs)"
dirs3=("$tmp"/state/jobs/3-1-*)
[[ ${#dirs3[@]} == 1 ]] && ok || fail "job 3 ran again: ${dirs3[*]}"

# An older backup put back together with its own mark, as a careless
# restore would, or after the mark was removed: the mark agrees with the
# database, but the directory of a job the backup never had shows the
# loss. That job still runs (slussd was stopped, its job was not): recover
# moves nothing from under it. Once it is stopped the loss is accepted,
# and the job that gets the lost job's id runs anew.
"$SLUSSD" backup "$tmp/backup3" --config "$tmp/slussd.yaml" 2>>"$tmp/backup.log"; expect_rc "backup 3" 0 $?
cp "$work/sluss.yaml" "$tmp/nonce.yaml"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  a:
    image: python-3.11
    run: python3 -c "import time; print('long', flush=True); time.sleep(120)"
YAML
git -C "$work" commit -qam five && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
for _ in $(seq 150); do [[ $(job_field 4 a status_code 2>/dev/null) == executing ]] && break; sleep 0.2; done
[[ $(job_field 4 a status_code) == executing ]] && ok || fail "run 4 is not running: $(job_field 4 a status_code)"
slussd_stop
lost_dir=("$tmp"/state/jobs/4-1-*)
rm -f "$tmp/state/sluss.db-wal" "$tmp/state/sluss.db-shm"
cp "$tmp/backup3/sluss.db" "$tmp/backup3/sluss.db.mark" "$tmp/state/"
timeout 60 "$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/refused3"
[[ $? == 1 ]] && grep -q "does not know the job directory 4-1-[0-9a-f]*" "$tmp/refused3" && ok ||
  fail "slussd started on a backup put back with its mark: $(cat "$tmp/refused3")"
rm -f "$tmp/state/sluss.db.mark"
timeout 60 "$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/refused3"
[[ $? == 1 ]] && grep -q "does not know the job directory 4-1-" "$tmp/refused3" && ok ||
  fail "slussd started on a backup put back after its mark was removed: $(cat "$tmp/refused3")"
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover3"
expect_rc "recover while a lost job still runs" 1 $?
grep -q "job directory 4-1-[0-9a-f]* is of a job that still runs" "$tmp/recover3" && ok ||
  fail "recover does not name the running job: $(cat "$tmp/recover3")"
[[ -d ${lost_dir[0]} ]] && ok || fail "recover moved a running job's directory"
# Stopped with sluss-run, it writes its end; then the loss is accepted.
"$RUN" cancel "${lost_dir[0]}" >/dev/null
for _ in $(seq 100); do [[ -f ${lost_dir[0]}/result.json ]] && break; sleep 0.1; done
"$SLUSSD" recover --accept-loss --config "$tmp/slussd.yaml" 2>"$tmp/recover3"
expect_rc "recover after the restore with the mark" 0 $?
grep -q "job directory 4-1-[0-9a-f]* is not the database's: set aside" "$tmp/recover3" && ok ||
  fail "recover did not set aside the lost job 4: $(cat "$tmp/recover3")"
# New code while slussd is down: the job that gets id 4 runs it.
cp "$tmp/nonce.yaml" "$work/sluss.yaml"
echo "# six" >>"$work/sluss.yaml"
git -C "$work" commit -qam six && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
slussd_start 5
for _ in $(seq 100); do [[ -n $(job_field 4 a id 2>/dev/null) ]] && break; sleep 0.1; done
wait_status 4 a succeeded && ok || fail "run 4 after the restore: $(job_field 4 a status_code) $(job_field 4 a reason)"
[[ $("$SLUSS" logs "$(job_field 4 a id)") == nonce* ]] && ok || fail "the new job 4 is not its own: $("$SLUSS" logs "$(job_field 4 a id)")"
grep " ERROR " "$tmp/log" && fail "errors in slussd's log"
finish "restore"
