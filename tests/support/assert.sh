# Assertions for the shell integration tests: source it, check, then end with
# `finish NAME`, which prints "NAME: N passed, N failed" and fails the script
# when anything failed.
pass=0
failures=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect_rc NAME EXPECTED ACTUAL: an exit code.
expect_rc() { [[ $2 == "$3" ]] && ok || fail "$1: exit $3, expected $2"; }
# same NAME EXPECTED_FILE ACTUAL_FILE: identical contents (diff shown if not).
same() { if diff -u "$2" "$3"; then ok; else fail "$1: output differs from $2"; fi; }
finish() {
  echo "$1: $pass passed, $failures failed"
  [[ $failures == 0 ]]
}
