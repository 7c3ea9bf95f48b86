#!/usr/bin/env bash
# Hostile pushes: commits whose trees hold names that git's own commands
# refuse to make ("../../../x", "..", ".GIT", "git~1", ".g<ZWNJ>it"),
# crafted with `git hash-object -t tree --literally` and `git commit-tree`
# and pushed with the real git CLI. A hosted project refuses the push and
# names the path; a mirrored remote that holds such a commit gets a failed
# run that names it. Nothing is written outside the state directory, and
# nothing of the commit reaches the hosted repository.
# Usage: hostile_push_test.sh SLUSS SLUSSD REPO_ROOT
set -uo pipefail
SLUSS=$1
SLUSSD=$2
ROOT=$3
# Three levels of directories above the state directory, so that a path
# that climbs out of a workspace (state/workspaces/N-1) lands in $tmp.
tmp=$(mktemp -d)
base=$tmp/a/b
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"
evil_tree=$(cd "$(dirname "$0")" && pwd)/support/evil_tree.py
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org
mkdir -p "$base"

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $base/state
listen: 127.0.0.1:0   # any free port: slussd_start reads it from the ready line
images: {python-3.11: {host: true}, r-4.2: {host: true}}
git: {local_pusher: alice@example.org, poll_interval: 1h}
YAML
export SLUSS_TOKEN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
"$SLUSS" queue pause --reason "intake test" >/dev/null
"$SLUSS" project create study --hosted --json >"$tmp/project.json"; expect_rc "hosted project" 0 $?
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
[[ -x $push_url/hooks/pre-receive ]] && ok || fail "no pre-receive hook in $push_url"
[[ $(git -C "$push_url" config receive.fsckObjects) == true ]] && ok || fail "receive.fsckObjects is not set"

work=$tmp/work
cp -r "$ROOT/examples/cohort-study" "$work" && rm -rf "$work/data" "$work/output"
git -C "$work" init -q -b main && git -C "$work" add . && git -C "$work" commit -qm "the study"
git -C "$work" push -q "$push_url" main 2>"$tmp/push0"; expect_rc "a good push" 0 $?
good=$(git -C "$work" rev-parse HEAD)

# evil NAME MODE: a commit on top of the good one whose tree adds NAME
# (a file saying "pwned", or with MODE 40000 a directory holding PWNED-dir).
evil() {
  local blob obj
  blob=$(echo pwned | git -C "$work" hash-object -w --stdin)
  obj=$blob
  if [[ $2 == 40000 ]]; then
    obj=$(printf '100644 blob %s\tPWNED-dir\n' "$blob" | git -C "$work" mktree)
  fi
  local tree
  tree=$(cd "$work" && python3 "$evil_tree" "$good" "$1" "$2" "$obj") || fail "crafting $1"
  git -C "$work" commit-tree "$tree" -p "$good" -m "evil $1"
}
untouched() {  # nothing named PWNED* was written anywhere under $tmp but in git's objects
  local found
  found=$(find "$tmp" -name 'PWNED*' -not -path "$work/*" 2>/dev/null)
  [[ -z $found ]] && ok || fail "$1: written on the host: $found"
}

# 1. Hosted: each push is refused, the path named, the branch unchanged and
#    the commit not in the repository.
i=0
for name in "../../../PWNED-tree" "..:40000" ".GIT:40000" ".git:40000" "git~1:40000" \
            $'.g\u200cit:40000' ".git. :40000" "a/../../PWNED-slash"; do
  mode=100644
  if [[ $name == *:40000 ]]; then mode=40000; name=${name%:40000}; fi
  i=$((i + 1))
  sha=$(evil "$name" "$mode")
  git -C "$work" push -q "$push_url" "$sha:refs/heads/main" 2>"$tmp/evil$i"
  expect_rc "push of $name" 1 $?
  grep -qF "remote: sluss: push to refs/heads/main refused: commit ${sha:0:10}: tree entry '$name' refused" "$tmp/evil$i" &&
    ok || fail "push of $name says: $(cat "$tmp/evil$i")"
  [[ $(git -C "$push_url" rev-parse refs/heads/main) == "$good" ]] && ok || fail "$name: branch moved"
  git -C "$push_url" cat-file -e "$sha" 2>/dev/null && fail "$name: commit kept in the hosted repository" || ok
  untouched "hosted $name"
done
# On a new branch too, and buried under a good commit.
sha=$(evil "../../../PWNED-tree" 100644)
git -C "$work" update-ref refs/heads/evil "$sha"
git -C "$work" checkout -q evil 2>/dev/null
on_top=$(git -C "$work" commit-tree "$good^{tree}" -p "$sha" -m "looks fine")
git -C "$work" push -q "$push_url" "$on_top:refs/heads/topic" 2>"$tmp/evil-topic"
expect_rc "push of a new branch hiding the commit" 1 $?
grep -qF "commit ${sha:0:10}: tree entry '../../../PWNED-tree' refused" "$tmp/evil-topic" && ok ||
  fail "new branch: $(cat "$tmp/evil-topic")"
[[ $("$SLUSS" runs --json --project study | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))') == 1 ]] &&
  ok || fail "a refused push made a run"

# 2. Mirrored: the remote holds the commit (a plain repository checks
#    nothing); the run fails and names the path.
git init -q --bare "$tmp/upstream.git"
git -C "$work" push -q "$tmp/upstream.git" "$sha:refs/heads/main" 2>/dev/null; expect_rc "upstream accepts" 0 $?
"$SLUSS" project create mirrored --repo "$tmp/upstream.git" >/dev/null; expect_rc "mirrored project" 0 $?
# The sync of a remote runs in the background (202 with a git request);
# the run appears when it is done.
curl -s -o "$tmp/hook.out" -X POST -H "Authorization: Bearer $SLUSS_TOKEN" \
  "http://127.0.0.1:$port/v1/hooks/git/mirrored?format=text"
grep -q "fetched in the background" "$tmp/hook.out" && ok || fail "mirror sync says: $(cat "$tmp/hook.out")"
for _ in $(seq 100); do
  [[ $("$SLUSS" runs --json --project mirrored | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))') != 0 ]] && break
  sleep 0.1
done
"$SLUSS" runs --json --project mirrored | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
assert len(runs) == 1 and runs[0]["state"] == "failed", runs
' && ok || fail "mirrored run: $("$SLUSS" runs --project mirrored)"
"$SLUSS" run show "$("$SLUSS" runs --json --project mirrored | python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["id"])')" >"$tmp/show"
grep -qF "commit ${sha:0:10}: tree entry '../../../PWNED-tree' refused: a '/' in the name" "$tmp/show" &&
  ok || fail "run show: $(cat "$tmp/show")"
untouched "mirrored"

# 3. A repository made before slussd checked pushes gets the checks at start.
rm "$push_url/hooks/pre-receive" && git -C "$push_url" config --unset receive.fsckObjects
slussd_stop
slussd_start 2
[[ -x $push_url/hooks/pre-receive && $(git -C "$push_url" config receive.fsckObjects) == true ]] &&
  ok || fail "checks not reinstalled at start"
sha=$(evil "../../../PWNED-tree" 100644)
git -C "$work" push -q "$push_url" "$sha:refs/heads/main" 2>/dev/null; expect_rc "push after restart" 1 $?
untouched "after restart"
finish hostile_push_test
