#!/usr/bin/env bash
# `sluss check` as a researcher runs it: the real binary on real files.
# Usage: cli_check_test.sh SLUSS_BINARY REPO_ROOT
set -uo pipefail
SLUSS=$1
ROOT=$2
source "$(dirname "$0")/support/assert.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$ROOT"
# A valid file: exit 0 and the plan, byte for byte.
"$SLUSS" check examples/cohort-study/sluss.yaml >"$tmp/out" 2>"$tmp/err"
expect_rc "valid file" 0 $?
same "valid file plan" tests/golden/check-cohort-study.txt "$tmp/out"

# An invalid file: exit 1, every error on stderr with file:line:col.
cat >"$tmp/sluss.yaml" <<'YAML'
version: 1
actions:
  a:
    imgae: python-3.11
    run: python a.py > out.txt
  b: {image: py, run: x, needs: [c]}
  c: {image: py, run: x, needs: [b]}
YAML
(cd "$tmp" && "$SLUSS" check) >"$tmp/out" 2>"$tmp/err"
expect_rc "invalid file" 1 $?
cat >"$tmp/expected" <<'TXT'
sluss.yaml:3:3: actions.a: missing 'image' (the approved image to run in, e.g. python-3.11)
sluss.yaml:4:5: actions.a: unknown key 'imgae' (did you mean 'image'?)
sluss.yaml:5:10: actions.a.run: '>' would need a shell, but sluss runs the command without one; put the steps in a script, or quote the character
sluss.yaml:6:3: actions.b.needs: cycle: b -> c -> b
sluss.yaml: 4 errors; fix them and run 'sluss check' again before you push
TXT
same "invalid file errors" "$tmp/expected" "$tmp/err"

# --json: machine-readable, same verdict.
(cd "$tmp" && "$SLUSS" check --json) >"$tmp/json"
expect_rc "invalid file --json" 1 $?
grep -q '"line": 4' "$tmp/json" && grep -q '"valid": false' "$tmp/json"
expect_rc "json has positions" 0 $?
"$SLUSS" check --json examples/cohort-study/sluss.yaml | grep -q '"valid": true'
expect_rc "valid --json" 0 $?

# A missing file, a file over 1 MiB, usage errors.
"$SLUSS" check "$tmp/nope.yaml" 2>/dev/null
expect_rc "missing file" 1 $?
{ printf 'version: 1\nactions: {a: {image: i, run: r}}\n#'; head -c 1100000 /dev/zero | tr '\0' x; } >"$tmp/big.yaml"
"$SLUSS" check "$tmp/big.yaml" 2>"$tmp/err"
expect_rc "big file" 1 $?
grep -q "the limit is 1 MiB" "$tmp/err"
expect_rc "big file message" 0 $?
"$SLUSS" check --bogus 2>/dev/null
expect_rc "unknown option" 2 $?
"$SLUSS" 2>/dev/null
expect_rc "no command" 2 $?

finish cli_check
