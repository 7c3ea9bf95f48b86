#!/usr/bin/env bash
# Private remotes: a repository behind HTTP Basic authentication (git's own
# http-backend, as a GitLab or Gitea remote with an access token), fetched
# with the token file that slussd's config names for its URL; a wrong token
# and no token say so in the project's sync status; a remote that accepts
# the connection and never answers is cut at git.fetch_timeout while slussd
# goes on serving (fetches run on a pool of their own, answered 202). With sshd installed, the same over SSH with a deploy key
# and a pinned host key.
# Usage: gitsync_remote_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
tmp=$(mktemp -d)
pid=
pids=()
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org
server=$(dirname "$0")/support/git_http_server.py
wait_file() { for _ in $(seq 100); do [[ -s $1 ]] && return; sleep 0.05; done; fail "no $1"; }

# The upstream repository, served with Basic authentication, and a remote
# that never answers.
mkdir -p "$tmp/srv" && git init -q --bare "$tmp/srv/study.git"
work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work" && rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main && git -C "$work" add . && git -C "$work" commit -qm "the study"
git -C "$work" push -q "$tmp/srv/study.git" main
python3 "$server" serve "$tmp/srv" "$tmp/http.port" reader "s3cret-token" 2>"$tmp/http.log" &
pids+=($!)
python3 "$server" hang "$tmp/hang.port" &
pids+=($!)
wait_file "$tmp/http.port"
wait_file "$tmp/hang.port"
http=http://127.0.0.1:$(cat "$tmp/http.port")
hang=http://127.0.0.1:$(cat "$tmp/hang.port")
echo "s3cret-token" >"$tmp/good.token"
echo "not-the-token" >"$tmp/bad.token"
chmod 600 "$tmp"/*.token

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
git:
  poll_interval: 1h
  fetch_timeout: 5s
  credentials:
    - {url: "$http/study", username: reader, token_file: $tmp/good.token}
    - {url: "$http/study-wrong", username: reader, token_file: $tmp/bad.token}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
"$SLUSS" queue pause --reason "intake test" >/dev/null
hook() {  # project -> HTTP status of the webhook route (202: the fetch is queued)
  curl -s -m 30 -o "$tmp/hook.$1" -w '%{http_code}' -X POST -H "Authorization: Bearer $SLUSS_TOKEN" \
    "http://127.0.0.1:$port/v1/hooks/git/$1"
}
request_status() {  # request id -> queued, running, done or failed
  curl -s -m 30 -H "Authorization: Bearer $SLUSS_TOKEN" "http://127.0.0.1:$port/v1/git/requests/$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}
synced() {  # project -> how its sync through the webhook ended: done or failed
  local code id st
  code=$(hook "$1")
  [[ $code == 202 ]] || { echo "answered $code: $(cat "$tmp/hook.$1")"; return; }
  id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["request"]["id"])' <"$tmp/hook.$1")
  for _ in $(seq 300); do
    st=$(request_status "$id")
    [[ $st == done || $st == failed ]] && { echo "$st"; return; }
    sleep 0.1
  done
  echo "still $st"
}
runs() { "$SLUSS" runs --json --project "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))'; }
sync_error() { "$SLUSS" project show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sync"]["error"])'; }

# 1. The token file that the config names for the URL: fetched, run made.
"$SLUSS" project create private --repo "$http/study.git" >/dev/null; expect_rc "private project" 0 $?
st=$(synced private); [[ $st == done ]] && ok || fail "private sync: $st: $(sync_error private)"
[[ $(runs private) == 1 ]] && ok || fail "no run from the private remote"
grep -q "^200 POST /study.git/git-upload-pack reader" "$tmp/http.log" && ok || fail "server log: $(cat "$tmp/http.log")"

# 2. No credentials for the URL, and refused credentials: each says so.
mkdir -p "$tmp/srv/other" && cp -r "$tmp/srv/study.git" "$tmp/srv/other/study.git"
"$SLUSS" project create nocreds --repo "$http/other/study.git" >/dev/null
[[ $(synced nocreds) == failed ]] && ok || fail "nocreds synced"
[[ $(sync_error nocreds) == *"asks for credentials and none are configured for this URL"* ]] && ok ||
  fail "no-credentials error: $(sync_error nocreds)"
cp -r "$tmp/srv/study.git" "$tmp/srv/study-wrong.git"
"$SLUSS" project create wrong --repo "$http/study-wrong.git" >/dev/null
[[ $(synced wrong) == failed ]] && ok || fail "wrong token synced"
[[ $(sync_error wrong) == *"refused the configured credentials"* ]] && ok || fail "refused error: $(sync_error wrong)"
# The token never shows: not in the status, the log or the API.
"$SLUSS" project show wrong --json | grep -q "not-the-token\|s3cret" && fail "a token in the status" || ok
grep -q "not-the-token\|s3cret" "$tmp/log" && fail "a token in slussd's log" || ok
# A token inside the URL is refused: it would be stored and shown with it.
"$SLUSS" project create leaky --repo "http://reader:s3cret-token@127.0.0.1:1/study.git" 2>"$tmp/leaky" >/dev/null
expect_rc "token in the URL" 1 $?
grep -q "repo_url: holds a password or token" "$tmp/leaky" && ok || fail "leaky: $(cat "$tmp/leaky")"

# 3. A remote that never answers: cut at fetch_timeout (5 s). Fetches run
# on slussd's git pool, never on the API's workers: twice as many requests
# as there are workers are each answered 202 at once, and slussd serves
# meanwhile (client timeouts are generous; nothing here times slussd).
"$SLUSS" project create stuck --repo "$hang/study.git" >/dev/null
# (Six pushes while one fetch runs are one more fetch, not five.)
for i in 1 2 3 4 5 6; do
  [[ $(hook stuck) == 202 ]] && ok || fail "stuck hook $i: $(cat "$tmp/hook.stuck")"
done
for i in 1 2; do
  code=$(curl -s -m 30 -o "$tmp/run.stuck" -w '%{http_code}' -X POST -H "Authorization: Bearer $SLUSS_TOKEN" \
    -H 'Content-Type: application/json' -d '{"project": "stuck"}' "http://127.0.0.1:$port/v1/runs")
  [[ $code == 202 ]] && ok || fail "stuck run $i: $code $(cat "$tmp/run.stuck")"
done
# A project's requests run in order: the last run request ends last.
stuck_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["request"]["id"])' <"$tmp/run.stuck")
for _ in 1 2 3; do
  curl -sf -m 30 "http://127.0.0.1:$port/healthz" >/dev/null; expect_rc "serving during a stuck fetch" 0 $?
done
"$SLUSS" runs --project private >/dev/null; expect_rc "reads during a stuck fetch" 0 $?
# Another project syncs meanwhile: only the stuck project waits.
echo "# another change" >>"$work/analysis/extract.py"
git -C "$work" commit -qam "second" && git -C "$work" push -q "$tmp/srv/study.git" main
st=$(synced private); [[ $st == done ]] && ok || fail "private sync during a stuck fetch: $st"
st=$(request_status "$stuck_id"); [[ $st == queued || $st == running ]] && ok ||
  fail "the stuck fetch ended before the other project's sync (no overlap tested)"
[[ $(runs private) == 2 ]] && ok || fail "no second run for private"
for _ in $(seq 600); do [[ $(request_status "$stuck_id") == failed ]] && break; sleep 0.1; done
[[ $(request_status "$stuck_id") == failed ]] && ok || fail "stuck request: $(request_status "$stuck_id")"
[[ $(sync_error stuck) == *"timed out after 5 s"* ]] && ok || fail "timeout error: $(sync_error stuck)"
pgrep -f "sluss-fetch --url $hang" >/dev/null && fail "sluss-fetch left running" || ok

# 4. SSH with a deploy key and a pinned host key, where sshd is installed
# (scripts/install-deps installs it for the tests).
if [[ -x /usr/sbin/sshd && $(id -u) == 0 ]]; then
  mkdir -p "$tmp/ssh" /run/sshd
  ssh-keygen -q -t ed25519 -N "" -f "$tmp/ssh/host_key"
  ssh-keygen -q -t ed25519 -N "" -f "$tmp/ssh/deploy_key"
  ssh-keygen -q -t ed25519 -N "" -f "$tmp/ssh/other_key"
  cp "$tmp/ssh/deploy_key.pub" "$tmp/ssh/authorized_keys"
  # sshd cannot listen on port 0: a port the kernel just gave out as free.
  sshport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$tmp/ssh/sshd_config" <<CONF
Port $sshport
ListenAddress 127.0.0.1
HostKey $tmp/ssh/host_key
AuthorizedKeysFile $tmp/ssh/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
PidFile $tmp/ssh/sshd.pid
CONF
  /usr/sbin/sshd -D -e -f "$tmp/ssh/sshd_config" 2>"$tmp/ssh/log" &
  pids+=($!)
  for _ in $(seq 100); do ssh-keyscan -p "$sshport" 127.0.0.1 >"$tmp/ssh/known_hosts" 2>/dev/null && [[ -s $tmp/ssh/known_hosts ]] && break; sleep 0.1; done
  echo "127.0.0.1 $(cut -d' ' -f1,2 "$tmp/ssh/other_key.pub")" >"$tmp/ssh/wrong_hosts"
  user=$(id -un)
  ssh_url="ssh://$user@127.0.0.1:$sshport$tmp/srv"
  cat >>"$tmp/slussd.yaml" <<YAML
    - {url: "$ssh_url/study.git", ssh_key: $tmp/ssh/deploy_key, known_hosts: $tmp/ssh/known_hosts}
    - {url: "$ssh_url/other", ssh_key: $tmp/ssh/deploy_key, known_hosts: $tmp/ssh/wrong_hosts}
    - {url: "$ssh_url/study-wrong.git", ssh_key: $tmp/ssh/other_key, known_hosts: $tmp/ssh/known_hosts}
YAML
  slussd_stop
  slussd_start 2
  "$SLUSS" project create viassh --repo "$ssh_url/study.git" >/dev/null
  st=$(synced viassh); [[ $st == done ]] && ok || fail "ssh sync: $st; $(sync_error viassh); $(tail -3 "$tmp/ssh/log")"
  [[ $(runs viassh) == 1 ]] && ok || fail "no run over ssh"
  "$SLUSS" project create badhost --repo "$ssh_url/other/study.git" >/dev/null
  [[ $(synced badhost) == failed ]] && ok || fail "an unknown host key was accepted"
  [[ $(sync_error badhost) == *"host key of 127.0.0.1 is not in $tmp/ssh/wrong_hosts"* ]] && ok ||
    fail "host key error: $(sync_error badhost)"
  "$SLUSS" project create badkey --repo "$ssh_url/study-wrong.git" >/dev/null
  [[ $(synced badkey) == failed ]] && ok || fail "a key not authorized was accepted"
  [[ $(sync_error badkey) == *"refused the configured credentials"* || $(sync_error badkey) == *"authentication"* ]] && ok ||
    fail "refused key error: $(sync_error badkey)"
else
  echo "# ssh part skipped: no /usr/sbin/sshd (scripts/install-deps installs openssh-server) or not root"
fi

slussd_stop
finish gitsync_remote
