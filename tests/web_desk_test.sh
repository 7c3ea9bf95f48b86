#!/usr/bin/env bash
# The airlock in the web page, in headless chromium (tests/web_desk.py)
# against the real slussd: a git push runs a job in runc that writes
# releasable tables (a clean one, one with a count of 3, a <script> cell and
# a formula, a 4 MB one, one whose name is markup) and a PNG; the researcher
# requests them in the page, two checkers review them in the page (previews,
# flags, votes, blind until both are in), one releases, the researcher
# downloads. First the API's part of the desk: a checker reads the files of
# a request under review, audited; the author and non-members do not.
# Screenshots go to SHOTS. Needs root and runc (exit 77 otherwise).
#   web_desk_test.sh SLUSS SLUSSD SHOTS
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
source "$here/support/jobs.sh"
job_test_begin web-desk
die() { fail "$*"; finish web_desk; exit 1; }
cat >"$tmp/slussd.yaml" <<YAML
state_dir: $tmp/state
listen: 127.0.0.1:0
images: {python-3.11: {host: true}}
node: {cpus: 2, memory: 4G}
sandbox: {cgroup_parent: /sluss-test-web-desk, output_limit: 64M}
git: {local_pusher: alice@example.org, poll_interval: 5s}
YAML
admin=$("$SLUSSD" token create --user admin@example.org --role admin --config "$tmp/slussd.yaml" 2>/dev/null)
export SLUSS_TOKEN=$admin
slussd_start 1
[[ $failures == 0 ]] || die "slussd did not start"

"$SLUSS" project create study --hosted --json >"$tmp/project.json" || die "project create"
push_url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["repo_path"])' "$tmp/project.json")
for u in alice eve carol dave; do "$SLUSS" member add study $u@example.org >/dev/null || die "member add $u"; done
token() { "$SLUSS" token create --user "$1@example.org" --role "$2" --name web 2>/dev/null; }
alice=$(token alice researcher); eve=$(token eve researcher); bob=$(token bob researcher)
carol=$(token carol checker); dave=$(token dave checker); erin=$(token erin checker)
steward=$(token sam steward)
SLUSS_TOKEN=$steward "$SLUSS" permit grant P-1 --project study --datasets prescriptions \
  --persons alice@example.org,eve@example.org --purpose "a study" --from 2026-01-01 --until 2099-01-01 >/dev/null \
  || die "permit grant"

work=$tmp/work
mkdir -p "$work"
cat >"$work/sluss.yaml" <<'YAML'
version: 1
actions:
  tables:
    image: python-3.11
    run: python3 make.py
    code: [make.py]
    outputs:
      releasable:
        - {path: "output/*.csv", counts: [n], round: 5}
        - output/plot.png
YAML
cat >"$work/make.py" <<'PY'
import os, struct, zlib
os.makedirs("output", exist_ok=True)
open("output/table1.csv", "w").write("group,n\nunder 40,15\nover 40,140\n")
# A count of 3 (line 2), a cell of markup and a formula (line 3).
open("output/flagged.csv", "w").write(
    'group,n,note\nunder 40,3,fine\nover 40,120,"<script>document.title=\'pwned\'</script>"\n'
    'over 60,20,"=HYPERLINK(""http://evil.example/"",""click"")"\n')
# 4 MB: the preview must read a bounded part of it.
with open("output/huge.csv", "w") as f:
    f.write("row,n\n")
    for i in range(400000): f.write("%d,15\n" % i)
# A name that is markup.
open('output/<img src=x onerror="document.title=7">.csv', "w").write("group,n\nall,100\n")
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + bytes([200, 40, 40] * 16) for _ in range(16))
open("output/plot.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
                                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
git -C "$work" init -q -b main
git -C "$work" add -A && git -C "$work" commit -qm tables && git -C "$work" push -q "$push_url" main 2>>"$tmp/push.log" \
  || die "push: $(cat "$tmp/push.log")"
for _ in $(seq 600); do
  s=$("$SLUSS" run show 1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
  [[ $s != pending && $s != running && -n $s ]] && break
  sleep 0.2
done
[[ $s == succeeded ]] || die "run 1: $s: $("$SLUSS" run show 1)"

# code WHO METHOD PATH [BODY]: the HTTP status; the body in $tmp/body.
code() {
  local t=${!1}
  curl -s -o "$tmp/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $t" \
    ${4:+-H 'Content-Type: application/json' --data "$4"} "http://$SLUSS_SERVER$3"
}
# The API's part: eve's request 1 (table1.csv), read by a checker while it
# is under review, and by nobody else; each read audited.
[[ $(code eve POST /v1/releases '{"project":"study","context":"eve"}') == 201 ]] || die "eve's request: $(cat "$tmp/body")"
[[ $(code eve POST /v1/releases/1/files '{"job":1,"path":"output/table1.csv"}') == 200 ]] || die "add: $(cat "$tmp/body")"
f=/v1/releases/1/files/output%2Ftable1.csv
[[ $(code carol GET $f) == 409 ]] && ok || fail "a checker read a pending request's file: $(cat "$tmp/body")"
[[ $(code eve POST /v1/releases/1/submit) == 200 ]] || die "submit: $(cat "$tmp/body")"
[[ $(code carol GET $f) == 200 ]] && ok || fail "the checker's read: $(cat "$tmp/body")"
cmp -s "$tmp/body" <(printf 'group,n\nunder 40,15\nover 40,140\n') && ok || fail "the checker read other bytes"
[[ $(code eve GET $f) == 409 ]] && ok || fail "the author read her own file before release: $(cat "$tmp/body")"
[[ $(code erin GET $f) == 404 ]] && ok || fail "a checker not in the project read it: $(cat "$tmp/body")"
[[ $(code bob GET $f) == 404 ]] && ok || fail "a non-member read it: $(cat "$tmp/body")"
[[ $(code admin GET $f) == 403 ]] && ok || fail "an admin read it: $(cat "$tmp/body")"
"$SLUSS" audit list --limit 1000 --json >"$tmp/audit.json"
python3 - "$tmp/audit.json" <<'EOF' && ok || fail "the checker's read audited: $(head -c 2000 "$tmp/audit.json")"
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
reads = [(r["actor"], json.loads(r["payload"])["path"]) for r in recs if r["action"] == "release.review_read"]
assert reads == [("carol@example.org", "output/table1.csv")], reads
EOF

mkdir -p "$SHOTS" "$tmp/downloads"
python3 "$here/web_desk.py" --base "http://$SLUSS_SERVER" --alice "$alice" --eve "$eve" --carol "$carol" \
  --dave "$dave" --job 1 --other-request 1 --shots "$SHOTS" --downloads "$tmp/downloads" --work "$work" \
  && ok || fail "browser scenario"
finish web_desk
