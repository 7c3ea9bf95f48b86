#!/usr/bin/env bash
# What an image holds, as a researcher asks before pushing: a small image
# made here from a few files (a dpkg status, Python dist-info and egg-info,
# R DESCRIPTION files, a python3 in /usr/bin), approved in slussd's config
# and through the API, listed by `sluss image show` through the real API;
# symlinks out of the image are not followed; `sluss check` against the
# server warns where an action's interpreter is not in its image.
# Usage: image_show_test.sh SLUSS SLUSSD
set -uo pipefail
SLUSS=$1
SLUSSD=$2
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
source "$(dirname "$0")/support/assert.sh"
source "$(dirname "$0")/support/slussd.sh"

# make_image DIR: a root file system as scripts/build-image lays it out,
# with three Debian packages (one removed, config files left), numpy and
# pandas, R's survival and data.table, and python3 but no R.
make_image() {
  local r=$1
  mkdir -p "$r"/{proc,dev,sys,tmp,workspace,data,etc,var/lib/dpkg,usr/bin}
  mkdir -p "$r/usr/lib/python3/dist-packages/numpy-1.24.2.dist-info" \
           "$r/usr/lib/python3/dist-packages/pandas-1.5.3.egg-info" \
           "$r/usr/lib/python3/dist-packages/broken-0.dist-info" \
           "$r/usr/lib/R/library/survival" "$r/usr/lib/R/site-library/data.table" \
           "$r/usr/lib/R/library/translations"
  cat >"$r/var/lib/dpkg/status" <<'STATUS'
Package: python3-numpy
Status: install ok installed
Version: 1:1.24.2-1
Description: Fast array facility
 Package: not-a-package

Package: python3-minimal
Status: install ok installed
Version: 3.11.2-1+b1

Package: r-cran-survival
Status: deinstall ok config-files
Version: 3.5-3-1
STATUS
  printf 'Metadata-Version: 2.1\nName: numpy\nVersion: 1.24.2\n\nName: evil\nVersion: 9\n' \
    >"$r/usr/lib/python3/dist-packages/numpy-1.24.2.dist-info/METADATA"
  printf 'Metadata-Version: 1.2\nName: pandas\nVersion: 1.5.3\n' \
    >"$r/usr/lib/python3/dist-packages/pandas-1.5.3.egg-info/PKG-INFO"
  printf 'Metadata-Version: 2.1\nSummary: no name\n' >"$r/usr/lib/python3/dist-packages/broken-0.dist-info/METADATA"
  printf 'Package: survival\nVersion: 3.5-3\nTitle: Survival Analysis\n  continued\nPriority: recommended\n' \
    >"$r/usr/lib/R/library/survival/DESCRIPTION"
  printf 'Package: data.table\nVersion: 1.14.8\n' >"$r/usr/lib/R/site-library/data.table/DESCRIPTION"
  printf '#!/bin/sh\n' >"$r/usr/bin/python3.11"
  ln -s python3.11 "$r/usr/bin/python3"
}
make_image "$tmp/tiny"
# The same, but its R library is a link to the host's and its dpkg status a
# link to the host's: neither may be read (they are not the image's).
make_image "$tmp/linked"
rm -rf "$tmp/linked/usr/lib/R/library" "$tmp/linked/var/lib/dpkg/status"
ln -s /usr/lib/R/library "$tmp/linked/usr/lib/R/library"
ln -s /var/lib/dpkg/status "$tmp/linked/var/lib/dpkg/status"
chmod -R a+rX "$tmp"

cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images:
  tiny: {rootfs: $tmp/tiny}
  python-3.11: {host: true}
YAML
ADMIN=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
slussd_start 1
export SLUSS_TOKEN=$ADMIN
ALICE=$("$SLUSS" token create --user alice@example.org --role researcher 2>/dev/null)

# A researcher lists an image configured by the admin.
SLUSS_TOKEN=$ALICE "$SLUSS" image show tiny >"$tmp/show.out" 2>"$tmp/show.err"
expect_rc "image show tiny" 0 $?
for want in "deb  *python3-numpy  *1:1.24.2-1" "deb  *python3-minimal  *3.11.2-1+b1" \
            "python  *numpy  *1.24.2" "python  *pandas  *1.5.3" "r  *survival  *3.5-3" \
            "r  *data.table  *1.14.8" "^interpreters: python3$" "^6 packages$"; do
  grep -q -- "$want" "$tmp/show.out" && ok || fail "image show: no '$want' in: $(cat "$tmp/show.out")"
done
for unwanted in r-cran-survival not-a-package evil translations; do
  grep -q -- "$unwanted" "$tmp/show.out" && fail "image show lists $unwanted" || ok
done
grep -q "note: /usr/lib/python3/dist-packages/broken-0.dist-info: no Name and Version" "$tmp/show.out" &&
  ok || fail "a broken METADATA is named: $(cat "$tmp/show.out")"

# The JSON, and one ecosystem.
"$SLUSS" image show tiny --json --ecosystem r >"$tmp/show.json"; expect_rc "image show --json" 0 $?
python3 - "$tmp/show.json" <<'PY' && ok || fail "image show --json: $(cat "$tmp/show.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "tiny" and j["digest"].startswith("sha256:"), j
assert j["packages"] == [{"ecosystem": "r", "name": "data.table", "version": "1.14.8"},
                         {"ecosystem": "r", "name": "survival", "version": "3.5-3"}], j["packages"]
assert j["interpreters"] == ["python3"], j
PY
"$SLUSS" image show tiny --ecosystem go 2>/dev/null; expect_rc "image show --ecosystem go" 2 $?
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
  "http://$SLUSS_SERVER/v1/images/tiny?ecosystem=go" | grep -q 400 && ok || fail "API: bad ecosystem not 400"
"$SLUSS" image show nosuch 2>"$tmp/err"; expect_rc "image show nosuch" 3 $?
"$SLUSS" image show '../x' 2>"$tmp/err"; expect_rc "image show ../x" 1 $?

# Registered through the API: read from the image when it is registered;
# links out of the image are not followed.
"$SLUSS" image add linked "$tmp/linked" >/dev/null; expect_rc "image add linked" 0 $?
"$SLUSS" image show linked >"$tmp/linked.out"; expect_rc "image show linked" 0 $?
grep -q "python  *numpy" "$tmp/linked.out" && ok || fail "linked: numpy missing: $(cat "$tmp/linked.out")"
grep -q "r  *data.table" "$tmp/linked.out" && ok || fail "linked: its own site-library missing"
grep -qE "^deb |^r +(base|stats|survival) " "$tmp/linked.out" &&
  fail "linked: the host's packages listed: $(head -20 "$tmp/linked.out")" || ok
grep -q "note: no /var/lib/dpkg/status" "$tmp/linked.out" && ok || fail "linked: no note for the dpkg status"

# The host image: this host's /usr, so this host's packages.
"$SLUSS" image show python-3.11 --ecosystem deb --json >"$tmp/host.json"
python3 - "$tmp/host.json" <<'PY' && ok || fail "host image: $(head -c 400 "$tmp/host.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kind"] == "host"
names = {p["name"] for p in j["packages"]}
assert "libc6" in names and "python3" in names, sorted(names)[:20]
assert "python3" in j["interpreters"]
PY

# sluss check against the server: an R action on an image without R.
mkdir -p "$tmp/study"
cat >"$tmp/study/sluss.yaml" <<'YAML'
version: 1
actions:
  extract:
    image: tiny
    run: python3 extract.py
  table1:
    image: tiny
    run: Rscript table1.R
  other:
    image: not-approved
    run: python3 x.py
YAML
"$SLUSS" check "$tmp/study/sluss.yaml" >"$tmp/check.out" 2>"$tmp/check.err"
expect_rc "check with a server" 0 $?
grep -q "sluss.yaml:[0-9]*:[0-9]*: warning: action 'table1' runs Rscript, but image 'tiny' has no Rscript (it has python3; sluss image show tiny lists what it holds)" \
  "$tmp/check.err" && ok || fail "check: no Rscript warning: $(cat "$tmp/check.err")"
grep -q "action 'other': image 'not-approved' is not approved on this server" "$tmp/check.err" &&
  ok || fail "check: no warning for an unknown image: $(cat "$tmp/check.err")"
grep -q "'extract'" "$tmp/check.err" && fail "check: warned for extract: $(cat "$tmp/check.err")" || ok
"$SLUSS" check --json "$tmp/study/sluss.yaml" >"$tmp/check.json"; expect_rc "check --json" 0 $?
python3 - "$tmp/check.json" <<'PY' && ok || fail "check --json: $(cat "$tmp/check.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["valid"] and j["images_checked"] is True
assert len(j["warnings"]) == 2 and all(w["line"] > 0 for w in j["warnings"]), j["warnings"]
PY
# Offline: no server asked, no warnings.
"$SLUSS" check --offline "$tmp/study/sluss.yaml" >/dev/null 2>"$tmp/check.err"; expect_rc "check --offline" 0 $?
[[ ! -s $tmp/check.err ]] && ok || fail "check --offline printed: $(cat "$tmp/check.err")"
env -u SLUSS_SERVER "$SLUSS" check "$tmp/study/sluss.yaml" >/dev/null 2>"$tmp/check.err"
[[ ! -s $tmp/check.err ]] && ok || fail "check without a server printed: $(cat "$tmp/check.err")"
# A server that cannot be reached: valid all the same, and said.
slussd_stop
"$SLUSS" check "$tmp/study/sluss.yaml" >/dev/null 2>"$tmp/check.err"; expect_rc "check, server down" 0 $?
grep -q "sluss check: images not checked" "$tmp/check.err" && ok || fail "server down: $(cat "$tmp/check.err")"

finish "image show"
