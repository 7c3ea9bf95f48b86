# Starting slussd in the shell integration tests: source it after
# assert.sh. Needs SLUSSD and tmp; slussd reads $tmp/slussd.yaml and appends
# its log to $tmp/log.
# slussd_start [N]: starts slussd and waits until the log holds N lines
# saying "ready" (N-1 from earlier starts; default 1); sets pid.
slussd_start() {
  "$SLUSSD" --config "$tmp/slussd.yaml" 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 600); do [[ $(grep -c " ready " "$tmp/log") -ge ${1:-1} ]] && return; sleep 0.05; done
  fail "slussd did not start: $(tail -5 "$tmp/log")"
}
# slussd_stop: SIGTERM, and waits for it to exit.
slussd_stop() {
  kill -TERM "$pid"
  wait "$pid"
  pid=
}
