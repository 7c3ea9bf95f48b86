#!/usr/bin/env bash
# Signed commits: each run's provenance records the commit's author,
# committer, message and whether its signature verified (git's own SSH and
# OpenPGP signatures, checked with ssh-keygen and gpgv against the keys in
# slussd's config); with git.require_signed, a commit not signed by its
# author's registered key makes a failed run that says so.
# Usage: gitsync_signed_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/permit.sh"
source "$(dirname "$0")/support/slussd.sh"
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org
for tool in ssh-keygen gpg gpgv; do
  command -v $tool >/dev/null || { echo "no $tool: scripts/install-deps installs it"; exit 1; }
done

# Keys: alice's and bob's are registered; mallory's is not.
mkdir -p "$tmp/keys"
for who in alice bob mallory; do ssh-keygen -q -t ed25519 -N "" -C "$who" -f "$tmp/keys/$who"; done
for who in alice bob; do echo "$who@example.org $(cut -d' ' -f1,2 "$tmp/keys/$who.pub")"; done >"$tmp/allowed_signers"
export GNUPGHOME=$tmp/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --passphrase "" --quick-gen-key "Alice <alice@example.org>" ed25519 sign never 2>/dev/null
gpg -q --export 2>/dev/null >"$tmp/trusted.gpg"
gpg_key=$(gpg --list-secret-keys --with-colons 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')

config() {  # require_signed
  cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
git: {local_pusher: alice@example.org, poll_interval: 1h, allowed_signers: $tmp/allowed_signers, gpg_keyring: $tmp/trusted.gpg, require_signed: $1}
YAML
}
config false
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
"$SLUSS" queue pause --reason "intake test" >/dev/null
"$SLUSS" project create study --hosted --json >"$tmp/project.json"
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
"$SLUSS" member add study alice@example.org >/dev/null
mkdir -p "$tmp/data/rx" && echo "id,drug" >"$tmp/data/rx/rx.csv"
permit_setup study alice@example.org "$tmp/data/rx"
work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work" && rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main && git -C "$work" add .

# commit_and_push NAME [git -c options for signing...]: a new commit, pushed;
# prints the newest run's first job's commit_info.signature as
# "status|format|signer|detail".
n=0
commit_and_push() {
  local name=$1
  shift
  n=$((n + 1))
  echo "# change $n" >>"$work/analysis/extract.py"
  git -C "$work" add . && git -C "$work" "$@" commit -qm "$name" 2>"$tmp/commit.$name" ||
    fail "commit $name: $(cat "$tmp/commit.$name")"
  git -C "$work" push -q "$push_url" main 2>"$tmp/push.$name" || fail "push $name: $(cat "$tmp/push.$name")"
  run=$("$SLUSS" runs --json --project study --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')
  "$SLUSS" run show "$run" --json >"$tmp/run.$name"
}
signature() {  # run name -> status|format|signer|detail, from the first job's provenance
  job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["id"])' "$tmp/run.$1")
  "$SLUSS" provenance --job "$job" --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["commit_info"]
s = c["signature"]
print("|".join([s["status"], s["format"], s["signer"], s["detail"], c["author"], c["message"].strip()]))'
}
ssh_sign() { echo -c gpg.format=ssh -c user.signingkey="$tmp/keys/$1" -c commit.gpgsign=true; }

# 1. Unsigned: recorded as such, with author and message.
commit_and_push unsigned
[[ $(signature unsigned) == "none||||Alice <alice@example.org>|unsigned" ]] && ok || fail "unsigned: $(signature unsigned)"
# 2. Signed over SSH by the author's registered key: good, with the key.
commit_and_push alice-ssh $(ssh_sign alice)
alice_fp=$(ssh-keygen -lf "$tmp/keys/alice.pub" | cut -d' ' -f2)
s=$(signature alice-ssh)
[[ $s == "good|ssh|$alice_fp|Good \"git\" signature for alice@example.org"* ]] && ok || fail "alice ssh: $s"
# 3. A key nobody registered: unknown_key.
commit_and_push mallory-ssh $(ssh_sign mallory)
s=$(signature mallory-ssh)
[[ $s == "unknown_key|ssh|SHA256:"*"is not in $tmp/allowed_signers"* ]] && ok || fail "mallory: $s"
# 4. Bob's registered key on Alice's commit: bad, and says whose key it is.
commit_and_push bob-ssh $(ssh_sign bob)
s=$(signature bob-ssh)
[[ $s == "bad|ssh|"*"signed with a key of bob@example.org, not of alice@example.org"* ]] && ok || fail "bob: $s"
# 5. OpenPGP, by Alice's key in the keyring.
commit_and_push alice-gpg -c gpg.format=openpgp -c user.signingkey="$gpg_key" -c commit.gpgsign=true
s=$(signature alice-gpg)
[[ $s == "good|openpgp|$gpg_key|good signature from Alice <alice@example.org>"* ]] && ok || fail "alice gpg: $s"
# The run's RO-Crate carries the check too.
"$SLUSS" provenance "$run" >"$tmp/crate.json"
python3 - "$tmp/crate.json" <<'PY' && ok || fail "crate: no commit signature"
import json, sys
g = {e["@id"]: e for e in json.load(open(sys.argv[1]))["@graph"]}
assert g["#commit-signature"]["value"] == "good", g["#commit-signature"]
code = [e for e in g.values() if e.get("@type") == "SoftwareSourceCode"][0]
assert code["identifier"] == {"@id": "#commit-signature"} and code["author"] == "Alice <alice@example.org>", code
PY

# 6. require_signed: an unsigned commit, or one signed by someone else,
# makes a failed run with the reason; a good signature runs.
slussd_stop
config true
slussd_start 2
commit_and_push unsigned-required
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["state"]=="failed" and not r["jobs"], r; print(r["errors"][0])' \
  "$tmp/run.unsigned-required" >"$tmp/err" && ok || fail "unsigned run not failed: $(cat "$tmp/run.unsigned-required")"
grep -q "is not signed by a registered key of its author alice@example.org (signature: none): sign it with 'git commit -S'" "$tmp/err" &&
  ok || fail "require_signed error: $(cat "$tmp/err")"
grep -q "is not signed by a registered key" "$tmp/push.unsigned-required" && ok || fail "push output: $(cat "$tmp/push.unsigned-required")"
commit_and_push bob-required $(ssh_sign bob)
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["state"]=="failed", r' "$tmp/run.bob-required" && ok || fail "bob's key ran alice's commit"
commit_and_push alice-required $(ssh_sign alice)
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["state"]!="failed" and r["jobs"], r' "$tmp/run.alice-required" && ok ||
  fail "a good signature did not run: $(cat "$tmp/run.alice-required")"

slussd_stop
finish gitsync_signed
