#!/usr/bin/env bash
# Disk full is a known state: on a small file system that holds slussd's
# state and job directories, filled below node.disk_reserve, a pushed job
# waits with a reason that names the free space and the reserve (no job
# is launched onto a full disk), slussd logs it once; freed, the job runs.
# A job whose result cannot be written on a disk that filled while it ran
# ends disk_full, saying so, and is not retried; SQLITE_FULL and ENOSPC are logged once per episode.
# Real slussd, git push, runc, a 64 MiB tmpfs. Needs root; exit 77 otherwise.
#   disk_full_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/jobs.sh"
job_test_begin disk
# The state directory is a tmpfs of its own: unmount it after the jobs.
cleanup() {
  stop_everything_keep=${KEEP:-}
  KEEP=1 stop_everything >/dev/null
  umount -l "$tmp/state" 2>/dev/null
  [[ -n $stop_everything_keep ]] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/state"
mount -t tmpfs -o size=64m,mode=0700 sluss-disk-test "$tmp/state" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G, disk_reserve: 16M}
sandbox: {cgroup_parent: /sluss-test-disk, output_fs: none}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
"$SLUSS" project create p --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
work=$tmp/work
mkdir -p "$work"
git -C "$work" init -q -b main
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  a:
    image: python-3.11
    run: python3 -c "open('output/x.txt', 'w').write('x')"
    outputs: {sensitive: [output/x.txt]}
YAML
git -C "$work" add -A && git -C "$work" commit -qm one
# Fill the file system to 8 MiB under... above nothing: 8 MiB free, under
# the 16 MiB reserve.
free_kib=$(df -k --output=avail "$tmp/state" | tail -1)
fallocate -l $(( (free_kib - 8 * 1024) * 1024 )) "$tmp/state/filler" || fail "fallocate"
git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"; expect_rc "push onto a full disk" 0 $?
for _ in $(seq 100); do [[ $(job_field 1 a reason 2>/dev/null) == waiting_on_disk* ]] && break; sleep 0.1; done
reason=$(job_field 1 a reason)
[[ $reason =~ ^waiting_on_disk:\ [0-9.]+[KM]\ free\ on\ $tmp/state,\ 16M\ reserved$ ]] && ok ||
  fail "the job's reason: $reason"
[[ $(job_field 1 a status_code) == waiting_on_resources ]] && ok || fail "status $(job_field 1 a status_code)"
[[ -z $(ls "$tmp/state/jobs") ]] && ok || fail "a job was launched onto the full disk: $(ls "$tmp/state/jobs")"
sleep 3  # a few cycles: still one line in the log for the episode
[[ $(grep -c "no job starts: waiting_on_disk" "$tmp/log") == 1 ]] && ok ||
  fail "the full disk is not logged once: $(grep -c waiting_on_disk "$tmp/log")"
# Freed: the job runs.
rm -f "$tmp/state/filler"
"$SLUSS" queue resume >/dev/null 2>&1  # a change wakes the scheduler at once
for _ in $(seq 60); do [[ $(job_field 1 a status_code) == succeeded ]] && break; sleep 1; done
[[ $(job_field 1 a status_code) == succeeded ]] && ok ||
  fail "after freeing space: $(job_field 1 a status_code) $(job_field 1 a reason)"
grep -q " INFO disk space is back above the reserve" "$tmp/log" && ok || fail "the end of the episode is not logged"

# A disk that fills while a job runs: its result cannot be written, and the
# job ends saying so, not as a lost host.
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  b:
    image: python-3.11
    run: python3 -c "import time; time.sleep(4); open('output/y.txt', 'w').write('y' * 100000)"
    outputs: {sensitive: [output/y.txt]}
    retries: 2
YAML
git -C "$work" commit -qam two && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log"
for _ in $(seq 100); do [[ $(job_field 2 b status_code 2>/dev/null) == executing ]] && break; sleep 0.1; done
[[ $(job_field 2 b status_code) == executing ]] && ok || fail "job b did not start: $(job_field 2 b reason)"
free_kib=$(df -k --output=avail "$tmp/state" | tail -1)
fallocate -l $((free_kib * 1024)) "$tmp/state/filler" 2>/dev/null
head -c 100M /dev/zero >"$tmp/state/filler2" 2>/dev/null
sleep 10  # the job ends on the full disk (not an assertion: the wait for it)
rm -f "$tmp/state/filler" "$tmp/state/filler2"
for _ in $(seq 60); do [[ $(job_field 2 b status_code) != executing ]] && break; sleep 1; done
reason=$(job_field 2 b reason)
[[ $reason == *"could not be written: No space left on device"* ]] && ok ||
  fail "job b on the full disk: $(job_field 2 b status_code) $reason"
# Its own status, not node_lost: `retries` (2 here, on nonzero_exit and
# node_lost) does not rerun a job whose outputs the full disk lost.
[[ $(job_field 2 b status_code) == disk_full ]] && ok || fail "job b's status: $(job_field 2 b status_code)"
[[ $reason == disk_full:* ]] && ok || fail "job b's reason: $reason"
sleep 2  # a few scheduler cycles (not an assertion: the time a retry would take)
[[ $(job_field 2 b attempt) == 1 && $(job_field 2 b status_code) == disk_full ]] && ok ||
  fail "job b was retried: attempt $(job_field 2 b attempt), $(job_field 2 b status_code)"
# Each failure is logged once for the episode, not once a cycle.
for what in "job ends failed" "high-water mark: cannot write"; do
  [[ $(grep -c "$what" "$tmp/log") -le 1 ]] && ok || fail "'$what' logged $(grep -c "$what" "$tmp/log") times"
done
[[ -n ${SHOW:-} ]] && grep -i "disk\|ERROR" "$tmp/log"
finish "disk full"
