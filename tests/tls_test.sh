#!/usr/bin/env bash
# HTTPS: slussd with a certificate and key serves TLS only; the CLI verifies
# the certificate against SLUSS_CA_CERT.
# Usage: tls_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || fail "openssl"
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
tls: {cert: $tmp/cert.pem, key: $tmp/key.pem}
YAML
TOKEN=$("$SLUSSD" token create --user admin@x --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
[[ $port -gt 0 ]] && grep -q "listen=https://127.0.0.1:$port " "$tmp/log" && ok || fail "ready line: $(cat "$tmp/log")"

curl -sf --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/healthz" | grep -q '"status":"ok"'
expect_rc "https healthz" 0 $?
curl -sf --max-time 5 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1
[[ $? != 0 ]] && ok || fail "plain HTTP was answered on the TLS port"
curl -sf --tlsv1.1 --tls-max 1.1 --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1
[[ $? != 0 ]] && ok || fail "TLS 1.1 was accepted"

SLUSS_SERVER=https://127.0.0.1:$port SLUSS_TOKEN=$TOKEN SLUSS_CA_CERT=$tmp/cert.pem "$SLUSS" whoami >"$tmp/out"
expect_rc "cli over https" 0 $?
grep -q "^admin@x (admin)" "$tmp/out" && ok || fail "whoami over https"
SLUSS_SERVER=https://127.0.0.1:$port SLUSS_TOKEN=$TOKEN "$SLUSS" whoami 2>"$tmp/err"
expect_rc "cli refuses an unknown CA" 1 $?
kill -TERM "$pid"; wait "$pid"; expect_rc "stop" 0 $?
pid=

# A key that cannot be read stops slussd at start, naming the key.
sed -i "s|key: $tmp/key.pem|key: $tmp/missing.pem|" "$tmp/slussd.yaml"
"$SLUSSD" --config "$tmp/slussd.yaml" 2>"$tmp/log2"
expect_rc "missing key" 1 $?
grep -q "tls.key $tmp/missing.pem" "$tmp/log2" && ok || fail "missing key message: $(cat "$tmp/log2")"

finish tls
