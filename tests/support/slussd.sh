# Starting slussd in the shell integration tests: source it after
# assert.sh. Needs SLUSSD and tmp; slussd reads $tmp/slussd.yaml and appends
# its log to $tmp/log.
# The tests' slussd listens on port 0, any free port, which its "ready" line
# names: a fixed or random port may be taken by another test running alongside.
# slussd_port LOG: the port in the last "ready" line of LOG.
slussd_port() { sed -n 's|.* ready listen=[a-z]*://.*:\([0-9][0-9]*\) .*|\1|p' "$1" | tail -1; }
# slussd_start [N]: starts slussd and waits until the log holds N lines
# saying "ready" (N-1 from earlier starts; default 1); sets pid, port and
# SLUSS_SERVER.
slussd_start() {
  "$SLUSSD" --config "$tmp/slussd.yaml" 2>>"$tmp/log" &
  pid=$!
  for _ in $(seq 600); do
    if [[ $(grep -c " ready " "$tmp/log") -ge ${1:-1} ]]; then
      port=$(slussd_port "$tmp/log")
      export SLUSS_SERVER=127.0.0.1:$port
      return
    fi
    sleep 0.05
  done
  fail "slussd did not start: $(tail -5 "$tmp/log")"
}
# slussd_stop: SIGTERM, and waits for it to exit.
slussd_stop() {
  kill -TERM "$pid"
  wait "$pid"
  pid=
}
