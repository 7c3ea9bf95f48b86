# For the shell tests that run slussd with real containers: source it after
# setting `tmp` (the test's directory, with slussd's state in $tmp/state) and
# `pid` (slussd's, or empty).
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
