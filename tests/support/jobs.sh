# For the shell tests that run slussd with real containers: source it, then
# call job_test_begin NAME (or set `tmp`, the test's directory with slussd's
# state in $tmp/state, and `pid`, slussd's or empty, yourself).
# stop_everything: kills slussd, deletes the test's containers, unmounts the
# jobs' output file systems, and removes $tmp (kept with KEEP=1). Run it on
# EXIT: `trap stop_everything EXIT`.
stop_everything() {
  [[ -n $pid ]] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null
  for c in $(runc list -q 2>/dev/null); do
    grep -q "$tmp" "/run/runc/$c/state.json" 2>/dev/null && runc delete -f "$c" >/dev/null 2>&1
  done
  for d in "$tmp"/state/jobs/*/output-mnt; do mountpoint -q "$d" 2>/dev/null && umount -l "$d"; done
  [[ -n ${KEEP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
}

source "$(dirname "${BASH_SOURCE[0]}")/slussd.sh"  # slussd_start, slussd_stop

# job_test_begin NAME: the start every job test shares. Without root and
# runc the test is skipped (exit 77); otherwise sets `tmp` (a new
# /tmp/sluss-NAME-XXXXXX) and `pid` (empty), traps stop_everything on EXIT,
# and makes git commit as Alice.
job_test_begin() {
  if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null; then
    echo "SKIP: running jobs needs root and runc"
    exit 77
  fi
  tmp=$(mktemp -d "/tmp/sluss-$1-XXXXXX")
  pid=
  trap stop_everything EXIT
  export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
  export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org
}

# job_field RUN ACTION FIELD: a field of a run's job ("result.status").
job_field() {
  "$SLUSS" run show "$1" --json | python3 -c '
import json, sys
jobs = {j["action"]: j for j in json.load(sys.stdin)["jobs"]}
v = jobs[sys.argv[1]]
for k in sys.argv[2].split("."): v = v[k] if v is not None else None
print("" if v is None else v)' "$2" "$3"
}

# wait_status RUN ACTION STATUS: until the job has that status (30 s at most).
wait_status() {
  for _ in $(seq 300); do [[ $(job_field "$1" "$2" status_code) == "$3" ]] && return 0; sleep 0.1; done
  return 1
}

# container_runs ID: whether runc runs that container. Asks for the one
# container: `runc list` reads every container's state and fails or skips
# lines while other tests create and delete theirs.
container_runs() {
  runc state "$1" 2>/dev/null | grep -q '"status": "running"'
}
