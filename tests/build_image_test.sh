#!/usr/bin/env bash
# scripts/build-image without building a full image (make test must stay
# quick): bad names refused; --if-changed skips an image built from the same
# recipe and rebuilds one whose recipe changed; a build that fails (here: a
# mirror that refuses connections) says why and leaves the image that was
# there, and no half-built directory. Needs root and mmdebstrap (skipped
# without them).
# Usage: build_image_test.sh REPO_ROOT
set -uo pipefail
ROOT=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/support/assert.sh"
build() { IMAGES_DIR=$tmp/images MIRROR=http://127.0.0.1:1/debian "$ROOT/scripts/build-image" "$@"; }

build 'Bad' python3 2>"$tmp/err"; expect_rc "bad image name" 2 $?
build tiny 'python3;rm' 2>"$tmp/err"; expect_rc "bad package name" 2 $?
grep -q "bad package name 'python3;rm'" "$tmp/err" && ok || fail "bad package message: $(cat "$tmp/err")"
build no-such-recipe 2>"$tmp/err"; expect_rc "no recipe" 2 $?
# The shipped recipes parse, and a recipe's id is its package set.
for r in python-3.11 r-4.2; do
  id=$(build --recipe-id "$r") && [[ $id =~ ^[0-9a-f]{64}$ ]] && ok || fail "recipe $r: '$id'"
done
[[ $(build --recipe-id tiny python3 jq) == "$(build --recipe-id tiny jq python3)" ]] && ok ||
  fail "the recipe id depends on the packages' order"
[[ $(build --recipe-id tiny python3) != "$(build --recipe-id tiny python3 jq)" ]] && ok ||
  fail "the recipe id ignores a package"

if [[ $(id -u) != 0 ]] || ! command -v mmdebstrap >/dev/null; then
  echo "build-image: root and mmdebstrap needed for the rest; skipped"
  finish "build-image"
  exit
fi
# An image "built" from the recipe tiny=python3: --if-changed leaves it.
mkdir -p "$tmp/images/tiny/etc"
echo "kept" >"$tmp/images/tiny/marker"
printf 'name: tiny\nrecipe: %s\n' "$(build --recipe-id tiny python3)" >"$tmp/images/tiny/etc/sluss-image"
build --if-changed tiny python3 >"$tmp/out" 2>&1; expect_rc "--if-changed, same recipe" 0 $?
grep -q "is up to date" "$tmp/out" && ok || fail "up to date: $(cat "$tmp/out")"
# Another package: rebuilt, which fails here (no mirror), saying why; the
# image that was there stays whole, and nothing half-built is left.
build --if-changed tiny python3 jq >"$tmp/out" 2>&1; expect_rc "--if-changed, changed recipe" 1 $?
grep -q "mmdebstrap failed" "$tmp/out" && ok || fail "failure message: $(tail -5 "$tmp/out")"
[[ -f $tmp/images/tiny/marker ]] && ok || fail "the old image was removed by a failed build"
[[ -z $(find "$tmp/images" -maxdepth 1 -name '.tiny*') ]] && ok ||
  fail "left behind: $(ls -a "$tmp/images")"
finish "build-image"
