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
