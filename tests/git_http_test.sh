#!/usr/bin/env bash
# git over HTTPS with sluss tokens, end to end: real git (its credential
# helper set up by `sluss auth setup-git`), slussd's TLS listener running
# `git http-backend`, the hooks, the intake, and the audit log. Clone and
# push with a token; pushes with no token, another project's member's
# token, an auditor's token and a revoked token are refused, store nothing
# and leave an audit record; a push by bob of a commit authored by alice is
# bob's run, refused where only alice holds the permit; an untracked branch
# says so and how to track it; an oversized push and a push over the file
# path (no git.local_pusher) are refused with the reason.
# Needs root (the sandbox); exit 77 otherwise.
#   git_http_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
source "$(dirname "$0")/support/assert.sh"
if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null; then
  echo "SKIP: needs root and runc"
  exit 77
fi
tmp=$(mktemp -d /tmp/sluss-githttp-XXXXXX)
pid=
source "$(dirname "$0")/support/jobs.sh"
source "$(dirname "$0")/support/permit.sh"
trap stop_everything EXIT
# git's global config (the credential helper) goes to this test's HOME.
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || fail "openssl"
export GIT_SSL_CAINFO=$tmp/cert.pem SLUSS_CA_CERT=$tmp/cert.pem
mkdir -p "$tmp/data/rx"
seq 1 100 >"$tmp/data/rx/rows.csv"
chmod -R a+rX "$tmp/data"
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
tls: {cert: $tmp/cert.pem, key: $tmp/key.pem}
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-githttp, output_fs: none}
git: {poll_interval: 1h, max_push: 1M}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
export SLUSS_SERVER=https://127.0.0.1:$port
token() { "$SLUSS" token create --user "$1" --role "$2" --name test 2>/dev/null; }
alice=$(token alice@example.org researcher)
bob=$(token bob@example.org researcher)
carol=$(token carol@example.org researcher)
auditor=$(token auditor@example.org auditor)
dave=$(token dave@example.org researcher)
"$SLUSS" project create p1 --hosted --json >"$tmp/p1.json"; expect_rc "hosted project" 0 $?
"$SLUSS" project create p2 --hosted >/dev/null; expect_rc "second project" 0 $?
for who in alice bob dave auditor; do "$SLUSS" member add p1 "$who@example.org" >/dev/null; done
"$SLUSS" member add p2 carol@example.org >/dev/null
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["push_url"])' "$tmp/p1.json")
[[ $url == "https://127.0.0.1:$port/git/p1.git" ]] && ok || fail "push_url: $url"
"$SLUSS" project show p1 | grep -q "^clone URL: *$url " && ok || fail "project show: $("$SLUSS" project show p1)"
permit_setup p1 alice@example.org "$tmp/data/rx"
bare=$tmp/state/repos/p1.git
audit() {  # audit ACTION ACTOR: how many records
  curl -sf --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" "$SLUSS_SERVER/v1/audit?limit=10000" |
    python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["records"] if r["action"] == sys.argv[1] and r["actor"] == sys.argv[2]))' "$1" "$2"
}
stored() { git -C "$bare" for-each-ref | wc -l; }

# 1. Researchers set git up once: the credential helper answers with their token.
SLUSS_TOKEN=$alice "$SLUSS" auth setup-git >"$tmp/setup.out"; expect_rc "auth setup-git" 0 $?
helpers=$(git config --global --get-all "credential.$SLUSS_SERVER.helper")
[[ $helpers == *"auth git-credential"* ]] && ok || fail "credential helper: $helpers"
printf 'protocol=https\nhost=127.0.0.1:%s\n\n' "$port" | SLUSS_TOKEN=$alice "$SLUSS" auth git-credential get >"$tmp/cred"
grep -qx "password=$alice" "$tmp/cred" && ok || fail "git-credential get: $(cat "$tmp/cred")"

work=$tmp/work
mkdir -p "$work"
git -C "$work" init -q -b main
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  count:
    image: python-3.11
    run: python3 -c "print(len(open('/data/prescriptions/rows.csv').readlines()))"
    datasets: [prescriptions]
YAML
git -C "$work" add -A && git -C "$work" commit -qm "count"
commit1=$(git -C "$work" rev-parse HEAD)

# 2. Refused, each with nothing stored and an audit record: no token, a
# token of another project's member (the same 404 as no project), an
# auditor's token, a revoked token.
SLUSS_TOKEN= git -C "$work" push "$url" main >"$tmp/none" 2>&1; expect_rc "push without a token" 128 $?
grep -q "Authentication failed\|could not read Username" "$tmp/none" && ok || fail "no token: $(cat "$tmp/none")"
SLUSS_TOKEN=$carol git -C "$work" push "$url" main >"$tmp/carol" 2>&1; expect_rc "push by another project's member" 128 $?
grep -q "not found" "$tmp/carol" && ok || fail "carol: $(cat "$tmp/carol")"
SLUSS_TOKEN=$carol git ls-remote "https://127.0.0.1:$port/git/nosuch.git" >"$tmp/nosuch" 2>&1
[[ $(grep -c "not found" "$tmp/nosuch") -ge 1 ]] && ok || fail "nonexistent project: $(cat "$tmp/nosuch")"
SLUSS_TOKEN=$auditor git -C "$work" push "$url" main >"$tmp/aud" 2>&1; expect_rc "push by an auditor" 128 $?
grep -q "403" "$tmp/aud" && ok || fail "auditor: $(cat "$tmp/aud")"
dave_id=$(SLUSS_TOKEN=$dave "$SLUSS" token list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"][0]["id"])')
SLUSS_TOKEN=$dave "$SLUSS" token revoke "$dave_id" >/dev/null; expect_rc "revoke" 0 $?
SLUSS_TOKEN=$dave git -C "$work" push "$url" main >"$tmp/dave" 2>&1; expect_rc "push with a revoked token" 128 $?
grep -q "Authentication failed" "$tmp/dave" && ok || fail "revoked: $(cat "$tmp/dave")"
[[ $(stored) == 0 ]] && ok || fail "a refused push stored refs: $(git -C "$bare" for-each-ref)"
[[ $(ls "$bare/objects/pack" 2>/dev/null | wc -l) == 0 && -z $(find "$bare/objects" -type f -path '*/[0-9a-f][0-9a-f]/*') ]] &&
  ok || fail "a refused push stored objects"
[[ $(audit git.denied -) -ge 1 ]] && ok || fail "no audit record of the push without a token"
[[ $(audit git.denied carol@example.org) -ge 1 ]] && ok || fail "no audit record of carol's push"
[[ $(audit git.denied auditor@example.org) -ge 1 ]] && ok || fail "no audit record of the auditor's push"
[[ $(audit git.denied dave@example.org) -ge 1 ]] && ok || fail "no audit record of the revoked token's push"
# Over the file path, with no git.local_pusher: refused, with the reason.
git -C "$work" push "$bare" main >"$tmp/local" 2>&1; expect_rc "push over the file path" 1 $?
grep -q "pushes over the file path are not credited" "$tmp/local" && ok || fail "file path: $(cat "$tmp/local")"
[[ $(stored) == 0 ]] && ok || fail "the file-path push stored refs"

# 3. bob pushes alice's commit: the run is bob's, and bob is not in the
# permit, which the push says (dataset and permit named).
SLUSS_TOKEN=$bob git -C "$work" push "$url" main >"$tmp/bob" 2>&1; expect_rc "bob's push" 0 $?
grep -q "remote: sluss: run 1 for ${commit1:0:10} failed" "$tmp/bob" && ok || fail "bob's push: $(cat "$tmp/bob")"
grep -q "remote: sluss: sluss.yaml:6:16: .*bob@example.org is not a person named in permit P-1, which covers dataset prescriptions" "$tmp/bob" &&
  ok || fail "bob's refusal: $(cat "$tmp/bob")"
run_json() { "$SLUSS" run show "$1" --json; }
[[ $(run_json 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["submitted_by"])') == bob@example.org ]] &&
  ok || fail "run 1 is not bob's: $(run_json 1)"
[[ $(audit git.push bob@example.org) == 1 ]] && ok || fail "no git.push audit record for bob"

# 4. alice pushes a commit (HTTPS, her token from the credential helper):
# her run, with its job; she clones it back; protocol v2 for fetch.
echo "# tidy" >>"$work/sluss.yaml"
git -C "$work" commit -qam "tidy"
commit2=$(git -C "$work" rev-parse HEAD)
SLUSS_TOKEN=$alice git -C "$work" push "$url" main >"$tmp/alice" 2>&1; expect_rc "alice's push" 0 $?
grep -q "remote: sluss: run 2 for ${commit2:0:10}: 1 jobs (0 cached), pending" "$tmp/alice" && ok || fail "alice's push: $(cat "$tmp/alice")"
[[ $(run_json 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["submitted_by"])') == alice@example.org ]] &&
  ok || fail "run 2 is not alice's"
wait_status 2 count succeeded && ok || fail "run 2: $(run_json 2)"
SLUSS_TOKEN=$alice git clone -q "$url" "$tmp/clone" 2>"$tmp/clone.err"; expect_rc "clone" 0 $?
[[ $(git -C "$tmp/clone" rev-parse HEAD) == "$commit2" ]] && ok || fail "clone: $(cat "$tmp/clone.err")"
SLUSS_TOKEN=$alice GIT_TRACE_PACKET=1 git -C "$tmp/clone" -c protocol.version=2 fetch -q origin 2>"$tmp/v2"
expect_rc "fetch over protocol v2" 0 $?
grep -q "git< version 2" "$tmp/v2" && ok || fail "no protocol v2: $(head -5 "$tmp/v2")"
# git gzips a fetch's requests over 1 KiB (here the second round of 100
# haves slussd has never seen): inflated by http-backend.
for i in $(seq 100); do git -C "$tmp/clone" commit -q --allow-empty -m "local $i"; done
git -C "$work" commit -q --allow-empty -m "[skip sluss] new on the server"
SLUSS_TOKEN=$alice git -C "$work" push -q "$url" main 2>/dev/null; expect_rc "push for the fetch" 0 $?
SLUSS_TOKEN=$alice GIT_TRACE_CURL=1 git -C "$tmp/clone" -c protocol.version=0 fetch -q origin 2>"$tmp/gz"
expect_rc "fetch with gzipped requests" 0 $?
grep -qi "Send header: Content-Encoding: gzip" "$tmp/gz" && ok || fail "no gzipped request was sent"
[[ $(git -C "$tmp/clone" rev-parse origin/main) == "$(git -C "$work" rev-parse HEAD)" ]] && ok || fail "the gzipped fetch got nothing"
# A bearer token works as well as Basic.
git -c http.extraHeader="Authorization: Bearer $alice" -c credential.helper= ls-remote "$url" >"$tmp/bearer" 2>&1
grep -q "$(git -C "$work" rev-parse HEAD)" "$tmp/bearer" && ok || fail "bearer: $(cat "$tmp/bearer")"

# 5. An untracked branch says so, and how to track it; then tracked, it runs.
git -C "$work" commit -q --allow-empty -m "on dev"
SLUSS_TOKEN=$alice git -C "$work" push "$url" main:dev >"$tmp/dev" 2>&1; expect_rc "push to dev" 0 $?
grep -q "remote: sluss: branch dev is not tracked by project p1 (tracked: main), so this push makes no run; an admin tracks it with 'sluss project set p1 --branches main,dev'" "$tmp/dev" &&
  ok || fail "untracked: $(cat "$tmp/dev")"
grep -q "run 2" "$tmp/dev" && fail "the untracked push spoke of main's run: $(cat "$tmp/dev")" || ok
"$SLUSS" project set p1 --branches main,dev >"$tmp/set"; expect_rc "project set --branches" 0 $?
SLUSS_TOKEN=$alice "$SLUSS" project set p1 --branches main 2>/dev/null; expect_rc "a researcher may not" 4 $?
git -C "$work" commit -q --allow-empty -m "on dev again"
SLUSS_TOKEN=$alice git -C "$work" push "$url" main:dev >"$tmp/dev2" 2>&1; expect_rc "push to tracked dev" 0 $?
grep -q "remote: sluss: run 3 for" "$tmp/dev2" && ok || fail "tracked dev: $(cat "$tmp/dev2")"

# 6. A refused pipeline: each error at sluss.yaml:LINE:COL.
printf 'version: 1\nactions:\n  count:\n    imag: python-3.11\n' >"$work/sluss.yaml"
git -C "$work" commit -qam "broken"
SLUSS_TOKEN=$alice git -C "$work" push "$url" main >"$tmp/broken" 2>&1; expect_rc "broken push" 0 $?
grep -q "remote: sluss: sluss.yaml:4:5: " "$tmp/broken" && ok || fail "broken: $(cat "$tmp/broken")"

# Attacks. A terminal escape in sluss.yaml reaches the pusher escaped.
printf 'version: 1\nactions:\n  count:\n    "\033]0;pwned\007\033[2J": 1\n' >"$work/sluss.yaml"
git -C "$work" commit -qam "escape"
SLUSS_TOKEN=$alice git -C "$work" push "$url" main >"$tmp/esc" 2>&1; expect_rc "escape push" 0 $?
grep -q "remote: sluss: sluss.yaml:" "$tmp/esc" && ok || fail "escape: $(cat -v "$tmp/esc")"
grep -q $'\033' "$tmp/esc" && fail "a raw ESC reached the pusher: $(cat -v "$tmp/esc")" || ok
grep -q $'\007' "$tmp/esc" && fail "a raw BEL reached the pusher: $(cat -v "$tmp/esc")" || ok
# The dumb protocol, and paths beside the smart ones, are not served.
for path in p1.git/HEAD p1.git/info/refs p1.git/objects/info/packs ../repos/p1.git/info/refs?service=git-upload-pack; do
  code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$alice" "$SLUSS_SERVER/git/$path")
  [[ $code == 404 ]] && ok || fail "/git/$path answered $code"
done
# A local pusher cannot name someone else: the hook believes slussd's key only.
git -C "$work" commit -q --allow-empty -m "forged"
SLUSS_PUSHER=alice@example.org SLUSS_PUSH_KEY=guess SLUSS_PUSH_KEY_FILE=/dev/null \
  git -C "$work" push "$bare" main:forged >"$tmp/forged" 2>&1; expect_rc "a forged pusher" 1 $?
grep -q "pushes over the file path are not credited" "$tmp/forged" && ok || fail "forged: $(cat "$tmp/forged")"
git -C "$bare" rev-parse -q --verify refs/heads/forged >/dev/null && fail "the forged push stored a branch" || ok
git -C "$work" reset -q --hard HEAD~1
# A push its pre-receive hook refuses (a tree entry "..") is audited as
# refused, with the hook's reason, as slussd's own refusals are.
blob=$(echo pwned | git -C "$work" hash-object -w --stdin)
sub=$(printf '100644 blob %s\tPWNED\n' "$blob" | git -C "$work" mktree)
evil=$(git -C "$work" commit-tree "$(printf '040000 tree %s\t..\n' "$sub" | git -C "$work" mktree)" \
  -p HEAD -m "evil")
alice_denied=$(audit git.denied alice@example.org)
SLUSS_TOKEN=$alice git -C "$work" push "$url" "$evil:refs/heads/main" >"$tmp/evil" 2>&1
[[ $? != 0 ]] && ok || fail "a push with a tree entry '..' was taken"
grep -q "remote: sluss: push to refs/heads/main refused: commit ${evil:0:10}: tree entry '..' refused" "$tmp/evil" &&
  ok || fail "the hook's refusal: $(cat "$tmp/evil")"
[[ $(audit git.denied alice@example.org) == $((alice_denied + 1)) ]] && ok ||
  fail "the hook's refusal left $(( $(audit git.denied alice@example.org) - alice_denied )) git.denied records, not 1"
curl -sf --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" "$SLUSS_SERVER/v1/audit?limit=10000" |
  python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin)["records"] if r["action"] == "git.denied" and r["actor"] == "alice@example.org"][-1]
print(r["subject"], json.loads(r["payload"])["reason"])' >"$tmp/evil.audit"
grep -q "^/git/p1.git/git-receive-pack pre-receive hook: push to refs/heads/main refused: commit ${evil:0:10}: tree entry '..' refused" "$tmp/evil.audit" &&
  ok || fail "the hook's refusal's audit record: $(cat "$tmp/evil.audit")"
[[ -z $(ls "$tmp/state/tmp") ]] && ok || fail "refusal files left: $(ls "$tmp/state/tmp")"

# 7. Over git.max_push (1M): refused with the reason; nothing moves.
before=$(git -C "$bare" rev-parse main)
head -c 1500000 /dev/urandom >"$work/big.bin"
git -C "$work" add big.bin && git -C "$work" commit -qm "big"
SLUSS_TOKEN=$alice git -C "$work" push "$url" main >"$tmp/big" 2>&1
[[ $? != 0 ]] && ok || fail "an oversized push was taken"
grep -q "pack exceeds maximum allowed size\|git.max_push" "$tmp/big" && ok || fail "oversized: $(cat "$tmp/big")"
[[ $(git -C "$bare" rev-parse main) == "$before" ]] && ok || fail "the oversized push moved main"
head -c 3000000 /dev/urandom >"$work/big.bin"
git -C "$work" commit -qam "bigger"
alice_denied=$(audit git.denied alice@example.org)
SLUSS_TOKEN=$alice git -C "$work" push "$url" main >"$tmp/bigger" 2>&1
[[ $? != 0 ]] && ok || fail "a push over the request limit was taken"
[[ $(audit git.denied alice@example.org) -gt $alice_denied ]] && ok || fail "the push over the request limit was not audited as refused"
grep -q "413" "$tmp/bigger" && ok || fail "over the request limit: $(cat "$tmp/bigger")"
[[ $(git -C "$bare" rev-parse main) == "$before" ]] && ok || fail "the push over the request limit moved main"
[[ -z $(ls "$tmp/state/tmp") ]] && ok || fail "spooled bodies left: $(ls "$tmp/state/tmp")"

# 8. The hook's token is in a file of its own, not in the hook's script.
grep -q "slu_" "$bare/hooks/post-receive" && fail "the hook's script holds its token" || ok
[[ $(stat -c %a "$bare/hooks/sluss-token") == 600 ]] && ok || fail "hooks/sluss-token mode"

# 9. A hook made by an older slussd, its token in the script: moved to
# hooks/sluss-token at start, and pushes still reach slussd.
secret=$(sed -n 's/^Authorization: Bearer //p' "$bare/hooks/sluss-token")
printf '#!/bin/sh\ncurl -H %s "$SLUSS_API/v1/hooks/git/p1"\n' "'Authorization: Bearer $secret'" >"$bare/hooks/post-receive"
rm "$bare/hooks/sluss-token"
slussd_stop
slussd_start 2
[[ $(cat "$bare/hooks/sluss-token") == "Authorization: Bearer $secret" ]] && ok || fail "the old hook's token was not moved"
grep -q "slu_" "$bare/hooks/post-receive" && fail "the old hook's token is still in its script" || ok
url2="https://127.0.0.1:$port/git/p1.git"
git -C "$work" reset -q --hard "$(git -C "$bare" rev-parse main)"   # the oversized commits go
git -C "$work" commit -q --allow-empty -m "after restart"
git -C "$work" -c http.extraHeader="Authorization: Bearer $alice" push "$url2" main >"$tmp/after" 2>&1
expect_rc "push after restart" 0 $?
grep -q "remote: sluss: run [0-9]* for $(git -C "$work" rev-parse --short=10 HEAD)" "$tmp/after" && ok || fail "after restart: $(cat "$tmp/after")"

# 10. Attacks on the git service's resources.
base=https://127.0.0.1:$port
export SLUSS_SERVER=$base
denied_before=$(audit git.denied auditor@example.org)
# A gzip bomb: 1 MB of gzip that inflates to 64 MiB of `have` lines (git
# http-backend would inflate it unbounded, and upload-pack keep every line):
# slussd inflates it itself, within the fetch request limit (16 MiB).
python3 - "$tmp/bomb.gz" <<'PY'
import gzip, sys
line = b"0032have " + b"1" * 40 + b"\n"
with gzip.open(sys.argv[1], "wb", compresslevel=9) as f:
    f.write(b"0014command=fetch\n0001" + line * (64 * 1024 * 1024 // len(line)))
PY
code=$(curl -s -o "$tmp/bomb.out" -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$auditor" \
  -H 'Git-Protocol: version=2' -H 'Content-Type: application/x-git-upload-pack-request' \
  -H 'Content-Encoding: gzip' --data-binary @"$tmp/bomb.gz" "$base/git/p1.git/git-upload-pack")
[[ $code == 413 ]] && ok || fail "a gzip bomb got $code: $(head -c 300 "$tmp/bomb.out")"
grep -q "inflated, is larger than" "$tmp/bomb.out" && ok || fail "the bomb's answer: $(cat "$tmp/bomb.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$auditor" \
  -H 'Content-Type: application/x-git-upload-pack-request' -H 'Content-Encoding: br' \
  --data-binary 'x' "$base/git/p1.git/git-upload-pack")
[[ $code == 415 ]] && ok || fail "an unknown content encoding got $code"
# Refused after their authorization, both are audited as refusals.
[[ $(audit git.denied auditor@example.org) == $((denied_before + 2)) ]] && ok ||
  fail "the bomb and the encoding left $(( $(audit git.denied auditor@example.org) - denied_before )) git.denied records, not 2"
# Expect: 100-continue is answered where the body is read (curl would
# wait a second for it), and a request refused on its header gets its
# answer instead: its body is never asked for.
head -c 300000 /dev/urandom >"$tmp/body.bin"
curl -sv -o /dev/null --cacert "$tmp/cert.pem" -u "x:$alice" -H 'Expect: 100-continue' \
  -H 'Content-Type: application/x-git-upload-pack-request' --data-binary @"$tmp/body.bin" \
  "$base/git/p1.git/git-upload-pack" 2>"$tmp/cont.git"
grep -q "< HTTP/1.1 100 Continue" "$tmp/cont.git" && ok || fail "git: no 100 Continue: $(grep '^[<*]' "$tmp/cont.git" | head -20)"
grep -q "Done waiting for 100-continue" "$tmp/cont.git" && fail "git: curl waited for 100 Continue" || ok
curl -sv -o /dev/null --cacert "$tmp/cert.pem" -u "x:$auditor" -H 'Expect: 100-continue' \
  -H 'Content-Type: application/x-git-receive-pack-request' --data-binary @"$tmp/body.bin" \
  "$base/git/p1.git/git-receive-pack" 2>"$tmp/cont.refused"
grep -q "< HTTP/1.1 403" "$tmp/cont.refused" && ok || fail "git refused: $(grep '^[<*]' "$tmp/cont.refused" | head -20)"
grep -q "100 Continue\|Done waiting for 100-continue\|We are completely uploaded" "$tmp/cont.refused" &&
  fail "git: the refused request's body was asked for or sent: $(grep '^[<*]' "$tmp/cont.refused" | head -20)" || ok
printf '{"name": "p3", "description": "%0300000d"}' 0 >"$tmp/project.json"
curl -sv -o "$tmp/cont.api.out" --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" \
  -H 'Expect: 100-continue' -H 'Content-Type: application/json' --data-binary @"$tmp/project.json" \
  "$base/v1/projects" 2>"$tmp/cont.api"
grep -q "< HTTP/1.1 100 Continue" "$tmp/cont.api" && ok || fail "API: no 100 Continue: $(grep '^[<*]' "$tmp/cont.api" | head -20)"
grep -q "< HTTP/1.1 [24]" "$tmp/cont.api" && ok || fail "API: no answer after 100 Continue: $(cat "$tmp/cont.api.out")"
head -c 20000000 /dev/zero >"$tmp/huge.bin"
curl -sv -o /dev/null --cacert "$tmp/cert.pem" -H "Authorization: Bearer $admin" \
  -H 'Expect: 100-continue' -H 'Content-Type: application/json' --data-binary @"$tmp/huge.bin" \
  "$base/v1/projects" 2>"$tmp/cont.huge"
grep -q "< HTTP/1.1 413" "$tmp/cont.huge" && ok || fail "API: an oversized body: $(grep '^[<*]' "$tmp/cont.huge" | head -20)"
grep -q "100 Continue\|We are completely uploaded" "$tmp/cont.huge" &&
  fail "API: the oversized body was asked for or sent: $(grep '^[<*]' "$tmp/cont.huge" | head -20)" || ok
# One person cannot take every git slot: bodies that never come hold at
# most 4 of the 16; a fifth is refused, and others are still served.
python3 - "$base" "$tmp/cert.pem" "$auditor" >"$tmp/stall.out" 2>&1 <<'PY' &
import base64, socket, ssl, sys, time
url, ca, token = sys.argv[1:4]
host, port = url.split("//")[1].split(":")
ctx = ssl.create_default_context(cafile=ca)
auth = base64.b64encode(b"x:" + token.encode()).decode()
held = []
for i in range(6):
    s = ctx.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
    s.sendall(("POST /git/p1.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth +
               "\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000000\r\n\r\n").encode())
    held.append(s)
    time.sleep(0.3)
print("held", flush=True)
time.sleep(8)
PY
stall=$!
for _ in $(seq 50); do grep -q held "$tmp/stall.out" && break; sleep 0.2; done
code=$(curl -s -o "$tmp/own.out" -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$auditor" "$base/git/p1.git/info/refs?service=git-upload-pack")
[[ $code == 503 ]] && ok || fail "a fifth request of one person got $code"
grep -q "you already have 4 git requests" "$tmp/own.out" && ok || fail "the fifth's answer: $(cat "$tmp/own.out")"
[[ $(audit git.denied auditor@example.org) -ge $((denied_before + 3)) ]] && ok || fail "the refused fifth request was not audited"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$alice" "$base/git/p1.git/info/refs?service=git-upload-pack")
[[ $code == 200 ]] && ok || fail "another member was not served while one stalled: $code"
kill $stall 2>/dev/null; wait $stall 2>/dev/null
for _ in $(seq 50); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -u "x:$auditor" "$base/git/p1.git/info/refs?service=git-upload-pack")
  [[ $code == 200 ]] && break; sleep 0.2
done
[[ $code == 200 ]] && ok || fail "the stalled person's slots were not given back: $code"

# 11. The default branch is fixed, as on a forge: the first push to an
# empty repository sets it (here "master" to a repository made with
# "main"), and a push cannot delete it, so that no other branch (and no
# other pusher's tip) becomes the one that runs.
"$SLUSS" project create p4 --hosted >/dev/null; expect_rc "project p4" 0 $?
for who in alice bob; do "$SLUSS" member add p4 "$who@example.org" >/dev/null; done
url4=$base/git/p4.git
bare4=$tmp/state/repos/p4.git
w4=$tmp/w4
# The credential helper was set up for the first start's port: a header.
push4() { local token=$1; shift; git -C "$w4" -c http.extraHeader="Authorization: Bearer $token" push "$url4" "$@"; }
mkdir -p "$w4" && git -C "$w4" init -q -b master
printf 'version: 1\nactions:\n  hello:\n    image: python-3.11\n    run: echo hello\n' >"$w4/sluss.yaml"
git -C "$w4" add -A && git -C "$w4" commit -qm hello
push4 "$alice" master >"$tmp/p4.first" 2>&1; expect_rc "first push to p4" 0 $?
grep -q "remote: sluss: run [0-9]* for $(git -C "$w4" rev-parse --short=10 HEAD)" "$tmp/p4.first" && ok ||
  fail "the first push made no run: $(cat "$tmp/p4.first")"
[[ $(git -C "$bare4" symbolic-ref HEAD) == refs/heads/master ]] && ok || fail "HEAD: $(git -C "$bare4" symbolic-ref HEAD)"
git -C "$w4" commit -q --allow-empty -m "bob's"
push4 "$bob" HEAD:dev >"$tmp/p4.dev" 2>&1; expect_rc "bob's push to dev" 0 $?
grep -q "branch dev is not tracked by project p4 (tracked: master)" "$tmp/p4.dev" && ok || fail "dev: $(cat "$tmp/p4.dev")"
alice_denied=$(audit git.denied alice@example.org)
push4 "$alice" :master >"$tmp/p4.delete" 2>&1
[[ $? != 0 ]] && ok || fail "the default branch was deleted by a push"
grep -q "remote: sluss: push refused: master is this repository's default branch" "$tmp/p4.delete" && ok ||
  fail "deleting the default branch: $(cat "$tmp/p4.delete")"
git -C "$bare4" rev-parse -q --verify refs/heads/master >/dev/null && ok || fail "master was deleted"
[[ $(audit git.denied alice@example.org) == $((alice_denied + 1)) ]] && ok || fail "the refused deletion was not audited"
# Deleted in the same push that makes another branch: all of it refused.
push4 "$alice" :master HEAD:other >"$tmp/p4.swap" 2>&1
[[ $? != 0 ]] && ok || fail "a push deleting master and making other was taken"
git -C "$bare4" rev-parse -q --verify refs/heads/master >/dev/null && ok || fail "master was deleted in a swap"
git -C "$bare4" rev-parse -q --verify refs/heads/other >/dev/null && fail "the swap made branch other" || ok
git -C "$w4" commit -q --allow-empty -m "bob's again"
push4 "$bob" HEAD:dev >"$tmp/p4.dev2" 2>&1; expect_rc "bob's second push to dev" 0 $?
grep -q "branch dev is not tracked" "$tmp/p4.dev2" && ok || fail "dev after the refused deletion: $(cat "$tmp/p4.dev2")"
[[ $("$SLUSS" runs --json --project p4 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))') == 1 ]] &&
  ok || fail "p4's runs: $("$SLUSS" runs --project p4)"

finish git_http
