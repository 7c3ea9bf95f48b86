#!/usr/bin/env bash
# The web page in a real browser: Debian's chromium, headless, driven over
# the DevTools protocol (tests/support/browser.py, standard library only)
# against the real slussd running a real job in runc. Screenshots go to
# SHOTS. Chromium missing is a failure, not a skip: install it with
# `scripts/install-deps --demo`. Needs root and runc for the job (exit 77
# otherwise, as the other job tests).
#   web_test.sh SLUSS SLUSSD SHOTS
set -uo pipefail
SLUSS=$1
SLUSSD=$2
SHOTS=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/support/assert.sh"
if ! command -v chromium >/dev/null; then
  echo "FAIL: chromium is not installed; the web page's browser test needs it" \
       "('scripts/install-deps --demo' or 'apt-get install chromium')" >&2
  exit 1
fi
if [[ $(id -u) != 0 ]] || ! command -v runc >/dev/null; then
  echo "SKIP: running jobs needs root and runc"
  exit 77
fi
tmp=$(mktemp -d /tmp/sluss-web-XXXXXX)
pid=
source "$here/support/jobs.sh"
trap stop_everything EXIT
# die WHY: a step the browser part needs failed; no point going on.
die() { fail "$*"; finish web; exit 1; }
export GIT_AUTHOR_NAME=Alice GIT_AUTHOR_EMAIL=alice@example.org
export GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.org
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-web, output_limit: 16M}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
[[ $failures == 0 ]] || die "slussd did not start"

# Two hosted projects: alice is a member of "study" only. "other" has a
# run of its own that she must not see.
hosted() {  # hosted PROJECT: prints its push URL
  "$SLUSS" project create "$1" --hosted --json >"$tmp/$1.json" || die "project create $1"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/$1.json"
}
study_url=$(hosted study)
other_url=$(hosted other)
"$SLUSS" member add study alice@example.org >/dev/null || die "member add"
alice=$("$SLUSS" token create --user alice@example.org --role researcher --name web 2>/dev/null)
"$SLUSS" member add other bob@example.org >/dev/null || die "member add bob"
bob=$("$SLUSS" token create --user bob@example.org --role researcher --name web 2>/dev/null)

# A steward's dataset and permits: P-1 for the other project (bob), P-2
# for the study (alice); the tokens of a steward and an auditor.
source "$here/support/permit.sh"
mkdir -p "$tmp/data/rx"
seq 1 1000 | sed 's/^/row,/' >"$tmp/data/rx/part-1.csv"
chmod -R a+rX "$tmp/data"
permit_setup other bob@example.org "$tmp/data/rx"
steward=$("$SLUSS" token create --user steward@example.org --role steward --name web 2>/dev/null)
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-2 --project study --datasets prescriptions \
  --persons alice@example.org --purpose "web study" --from 2026-01-01 --until 2099-01-01 >/dev/null \
  || die "permit grant P-2"
auditor=$("$SLUSS" token create --user auditor@example.org --role auditor --name web 2>/dev/null)

# Two jobs, report after hello (a DAG to draw). hello prints a long log
# ending in a marker and markup that must show as text, never as HTML;
# report prints REPORT_LINES lines slowly, for its log to be followed live.
push() {  # push URL MARKER [REPORT_LINES]
  local work=$tmp/work-$2
  mkdir -p "$work"
  git -C "$work" init -q -b main
  cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  hello:
    image: python-3.11
    run: python3 hello.py
    resources: {cpus: 1, memory: 512M, time: 10m}
    outputs:
      sensitive: [output/hello.txt]
      releasable: [{path: output/table1.csv, counts: [n], round: 5}]
  report:
    needs: [hello]
    image: python-3.11
    run: python3 report.py
    resources: {cpus: 1, memory: 256M, time: 10m}
YAML
  cat >"$work/report.py" <<PY
import sys, time
for i in range(${3:-1}):
    print("report line %d" % i, flush=True)
    time.sleep(0.5)
print("report done", flush=True)
PY
  # 150 KB before the marker: the page must show the log's end, not its start.
  cat >"$work/hello.py" <<PY
for i in range(1500): print("filler %04d " % i + "." * 88)
print("hello from $2")
print('<img src=x onerror="document.title=1"><b id="injected">bold</b>')
open("output/hello.txt", "w").write("$2")
open("output/table1.csv", "w").write("group,n\\nunder 40,3\\nover 40,120\\n")
PY
  git -C "$work" add -A && git -C "$work" commit -qm "$2" && git -C "$work" push -q "$1" main 2>>"$tmp/push.log"
}
# The other project's run first (run 1), to the end.
push "$other_url" other-run || die "push other: $(cat "$tmp/push.log")"
wait_status 1 report succeeded || die "other run: $(job_field 1 report status_code) $(job_field 1 report reason)"
# Alice's run (run 2) waits in a paused project, so that the browser sees
# it pending and then, once resumed, succeed without a reload.
"$SLUSS" quota set study max.cpus=2 budget.gpu_hours=0.5 budget.period=month >/dev/null || die "quota set"
"$SLUSS" project pause study >/dev/null || die "pause"
push "$study_url" study-run 60 || die "push study: $(cat "$tmp/push.log")"
# What the admin's queue page pushes while the queue is paused (run 3).
cat >"$tmp/push-again.sh" <<SH
set -e
echo 'print("again")' >>"$tmp/work-other-run/hello.py"
git -C "$tmp/work-other-run" commit -qam again
git -C "$tmp/work-other-run" push -q "$other_url" main
SH

mkdir -p "$SHOTS"
python3 "$here/web_test.py" --base "http://$SLUSS_SERVER" --token "$alice" --admin-token "$admin" --bob-token "$bob" --run 2 --other-run 1 \
  --steward-token "$steward" --auditor-token "$auditor" --push-more "bash $tmp/push-again.sh" \
  --shots "$SHOTS" --resume "$SLUSS project resume study" && ok || fail "browser scenario"
finish web
