#!/usr/bin/env bash
# scripts/install-deps as a fresh machine runs it, against stand-ins for
# dpkg-query, apt-get and id on PATH (CI cannot see the install path: its
# packages are already there). Checks the exit status, what it says, and
# that /usr/sbin/policy-rc.d (here a file of the test's) is left as found.
#   install_deps_test.sh REPO_ROOT
set -uo pipefail
ROOT=$1
source "$(dirname "$0")/support/assert.sh"
tmp=$(mktemp -d /tmp/sluss-install-deps-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
# dpkg-query -W -f='${Status}' PKG: installed when listed in $tmp/installed.
cat >"$tmp/bin/dpkg-query" <<'SH'
#!/bin/sh
pkg=$(eval echo "\${$#}")
grep -qx "$pkg" "$FAKE/installed" && printf 'install ok installed' && exit 0
exit 1
SH
# apt-get update | install -y -qq --no-install-recommends PKG...: records
# the call and whether the service policy was in place; installs unless
# told to fail ($FAKE/fail) or to lose a package ($FAKE/lose).
cat >"$tmp/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE/calls"
[ "$1" = update ] && exit 0
[ -x "$SLUSS_POLICY_RC_D" ] && "$SLUSS_POLICY_RC_D"; echo "policy: $?" >>"$FAKE/calls"
[ -e "$FAKE/fail" ] && { echo "E: Unable to locate package" >&2; exit 100; }
for a in "$@"; do
  case $a in -*|install) ;; *) [ "$a" = "$(cat "$FAKE/lose" 2>/dev/null)" ] || echo "$a" >>"$FAKE/installed" ;; esac
done
SH
printf '#!/bin/sh\n[ "$1" = -u ] && echo 0 || /usr/bin/id "$@"\n' >"$tmp/bin/id"
chmod +x "$tmp/bin"/*
export FAKE=$tmp SLUSS_POLICY_RC_D=$tmp/policy-rc.d PATH=$tmp/bin:$PATH
all() { "$ROOT/scripts/install-deps" --list; }
run() { "$ROOT/scripts/install-deps" --demo >"$tmp/out" 2>&1; }
reset() { rm -f "$tmp/calls" "$tmp/fail" "$tmp/lose" "$SLUSS_POLICY_RC_D"; all >"$tmp/installed"; }

# 1. Everything there: nothing installed, no network call.
reset
run; expect_rc "all present" 0 $?
grep -q "all .* packages present" "$tmp/out" && ok || fail "all present said: $(cat "$tmp/out")"
[[ ! -e $tmp/calls ]] && ok || fail "apt-get called with everything present: $(cat "$tmp/calls")"

# 2. A package missing, no policy-rc.d (a bare machine): installed, exit 0,
# services kept from starting meanwhile, and no policy left behind.
reset
grep -vx wrk "$tmp/installed" >"$tmp/i" && mv "$tmp/i" "$tmp/installed"
run; expect_rc "wrk missing, no policy" 0 $?
grep -qx "apt-get install -y -qq --no-install-recommends wrk" "$tmp/calls" && ok || fail "calls: $(cat "$tmp/calls")"
grep -qx "policy: 101" "$tmp/calls" && ok || fail "services were not kept from starting: $(cat "$tmp/calls")"
[[ ! -e $SLUSS_POLICY_RC_D ]] && ok || fail "policy-rc.d left behind"
grep -q "installed wrk" "$tmp/out" && ok || fail "did not say what it installed: $(cat "$tmp/out")"

# 3. A package missing, policy-rc.d already there (this kind of machine):
# exit 0 (the first round exited 2 here), the policy untouched.
reset
grep -vx wrk "$tmp/installed" >"$tmp/i" && mv "$tmp/i" "$tmp/installed"
printf '#!/bin/sh\n# the site'"'"'s own\nexit 101\n' >"$SLUSS_POLICY_RC_D"
chmod 755 "$SLUSS_POLICY_RC_D"
cp "$SLUSS_POLICY_RC_D" "$tmp/policy.before"
run; expect_rc "wrk missing, policy present" 0 $?
cmp -s "$SLUSS_POLICY_RC_D" "$tmp/policy.before" && ok || fail "the site's policy-rc.d was changed"
[[ -x $SLUSS_POLICY_RC_D ]] && ok || fail "the site's policy-rc.d lost its mode"

# 4. apt-get fails: a non-zero exit, and the policy it made is gone.
reset
grep -vx wrk "$tmp/installed" >"$tmp/i" && mv "$tmp/i" "$tmp/installed"
touch "$tmp/fail"
run; rc=$?
[[ $rc != 0 ]] && ok || fail "a failed apt-get exited 0"
[[ ! -e $SLUSS_POLICY_RC_D ]] && ok || fail "policy-rc.d left behind after a failure"

# 5. apt-get claims success but a package is still missing: said, exit 1.
reset
grep -vx wrk "$tmp/installed" >"$tmp/i" && mv "$tmp/i" "$tmp/installed"
echo wrk >"$tmp/lose"
run; expect_rc "a package still missing" 1 $?
grep -q "still not installed: wrk" "$tmp/out" && ok || fail "said: $(cat "$tmp/out")"

# 6. Twice in a row on a bare machine: the second run installs nothing.
reset
grep -vx wrk "$tmp/installed" >"$tmp/i" && mv "$tmp/i" "$tmp/installed"
run && run; expect_rc "second run" 0 $?
grep -q "all .* packages present" "$tmp/out" && ok || fail "second run said: $(cat "$tmp/out")"
finish "install-deps"
