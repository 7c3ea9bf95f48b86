"""The airlock in the web page, in headless chromium (called by
web_desk_test.sh): alice requests a job's releasable files from the job's
page, submits, and cannot review her own request; two checkers review in
the page (a table with the checks' flags on its cells, an image, a bounded
preview of a 4 MB table, markup in a cell and in a name as text), blind
until both reviews are in; one releases; alice downloads. A checker
switching requests quickly never sees one request's late answer on
another's page. eve's request, returned, shows the checkers' comments.
Every page: names, contrast, a phone's width. Screenshots in --shots.
"""
import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from browser import Browser, BrowserError, find_chromium  # noqa: E402
from web_pages import check_page, heading  # noqa: E402
from web_test import sign_in, sign_out  # noqa: E402
import web_test  # noqa: E402

failures = web_test.failures
check = web_test.check
MARKUP = 'output/<img src=x onerror="document.title=7">.csv'
FILES = ["output/flagged.csv", "output/huge.csv", MARKUP, "output/plot.png", "output/table1.csv"]


def call(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def sel(path):
    """A CSS selector for the file's section (the path as a quoted value)."""
    return ".release-file[data-path=%s]" % json.dumps(path)


def q(selector):
    return "document.querySelector(%s)" % json.dumps(selector)


def request_file(b, path, exception=None, first=False):
    """From the job's page, the file's 'Request release' link, the form."""
    b.eval("location.hash = '#/jobs/%s'" % ARGS.job)
    b.wait_for("document.querySelectorAll('#outputs a').length", "the job's outputs")
    link = "#outputs a[aria-label=%s]" % json.dumps("Request release of " + path)
    b.eval(q(link) + ".focus()")
    b.press_enter()
    heading(b, "Request the release of " + path, "the request form")
    if first:
        b.eval("document.getElementById('request-context').focus()")
        b.type_text("Table 1 of the paper")
    b.eval("document.getElementById('file-context').focus()")
    b.type_text("counts by age group")
    b.eval("document.getElementById('file-controls').focus()")
    b.type_text("rounded to 5")
    if exception is not None:
        check(b.eval("!!document.getElementById('file-exception')"), "a failing file asks for an exception")
        b.eval("document.getElementById('file-exception').focus()")
        b.type_text(exception)
    if first:
        check_page(b, "the request form", check)
    b.eval(q("#new-release button[type=submit]") + ".focus()")
    b.press_enter()
    b.wait_for("location.hash.startsWith('#/releases/') && location.hash != '#/releases/new' && "
               "document.querySelector('#view h1').textContent.startsWith('Release request') && "
               "!!" + q(sel(path)), "the request with " + path)


def previews_loaded(b):
    b.wait_for("document.querySelectorAll('.preview').length > 0 && "
               "[...document.querySelectorAll('.preview')].every(p => !p.textContent.startsWith('Loading'))",
               "every preview")


def vote_all(b, who, comments):
    for path in FILES:
        note = comments.get(path, "")
        if note:
            b.eval(q(sel(path) + " textarea") + ".focus()")
            b.type_text(note)
        b.eval(q(sel(path) + " button[aria-label=%s]" % json.dumps("Approve: " + path)) + ".focus()")
        b.press_enter()
        b.wait_for("[...document.querySelectorAll(%s)].some(l => l.textContent.startsWith(%s))"
                   % (json.dumps(sel(path) + " .votes li"), json.dumps(who + ": approve")), who + " approved " + path)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    for k in ("base", "alice", "eve", "carol", "dave", "job", "other-request", "shots", "downloads", "work"):
        ap.add_argument("--" + k, required=True)
    a = ARGS = ap.parse_args()
    chromium = find_chromium()
    if not chromium:
        print("FAIL chromium is not installed")
        return 1
    b = Browser(chromium)
    try:
        b.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": a.downloads})
        b.navigate(a.base + "/")
        b.wait_for("!document.getElementById('signin').hidden", "the sign-in form")

        # Alice: the job's outputs each with 'Request release'; a name that
        # is markup is text.
        sign_in(b, a.alice, "alice@example.org (researcher)")
        b.eval("location.hash = '#/jobs/%s'" % a.job)
        links = b.wait_for("document.querySelectorAll('#outputs a').length == 5 && "
                           "[...document.querySelectorAll('#outputs a')].map(l => l.getAttribute('aria-label'))",
                           "the job's releasable outputs")
        check(sorted(links) == sorted("Request release of " + f for f in FILES), "a link per releasable file: %s" % links)
        check(b.eval("document.querySelectorAll('#view img').length == 0 && document.title != '7'"),
              "a file name of markup made no element")
        request_file(b, "output/table1.csv", first=True)
        rid = b.eval("location.hash.split('/').pop()")
        for path in FILES:
            if path != "output/table1.csv":
                request_file(b, path, exception="the 3 is a published national figure" if path == "output/flagged.csv" else None)
        check(b.eval("location.hash") == "#/releases/" + rid, "every file in the same request")
        shown = b.eval("[...document.querySelectorAll('.release-file h3')].map(h => h.textContent).sort()")
        check(shown == sorted(FILES), "the request's files, names as text: %s" % shown)
        flagged = b.eval(q(sel("output/flagged.csv") + " .checks") + ".textContent")
        check(flagged.startswith("fail") and "column n, line 2" in flagged and "column #3, line 4" in flagged,
              "the checks' verdict and reasons with column and line: " + flagged)
        check("published national figure" in b.eval(q(sel("output/flagged.csv")) + ".textContent"), "the exception shown")
        check_page(b, "the researcher's pending request", check)
        b.eval(q("#submit") + ".focus()")
        b.press_enter()
        b.wait_for(q("#view dl") + ".textContent.includes('Statesubmitted')", "the request submitted")
        # The author cannot review her own request: the page offers her no
        # vote; the API refuses her one.
        check(b.eval("!!document.getElementById('author-note') && document.querySelectorAll('.vote, #submit-review').length == 0"),
              "the author's page: a note, no vote, no review")
        status, body = call(a.base, a.alice, "POST", "/v1/releases/%s/votes" % rid, {"path": "output/table1.csv", "vote": "approve"})
        check(status == 403, "the API refuses the author's vote: %s %s" % (status, body))
        b.screenshot(os.path.join(a.shots, "release-researcher.png"))
        # Attacks from a crafted address: '../' in a request id or a path is
        # a value the API refuses, said on the page; nothing is added.
        b.eval("location.hash = '#/releases/' + encodeURIComponent('../../v1/audit')")
        shown = b.wait_for("document.getElementById('api-error') && document.querySelector('#view h1').textContent",
                           "the refusal of a '../' id")
        check(shown == "Not found", "a '../' request id: " + shown)
        b.eval("location.hash = '#/releases/new?' + new URLSearchParams({job: '%s', path: 'output/../output/table1.csv'})" % a.job)
        shown = b.wait_for("document.getElementById('api-error') && "
                           "document.getElementById('api-error').textContent.includes('output/../') && "
                           "document.getElementById('api-error').textContent", "the refusal of a '../' path")
        check("output/../output/table1.csv" in shown, "a '../' path refused: " + shown)
        status, body = call(a.base, a.alice, "GET", "/v1/releases/" + rid)
        check(len(body["files"]) == 5, "nothing added by the crafted addresses")
        sign_out(b)

        # Carol, a checker: the desk lists both requests waiting for her.
        sign_in(b, a.carol, "carol@example.org (checker)")
        nav = b.eval("[...document.querySelectorAll('#nav a')].map(a => a.textContent)")
        check("Checker's desk" in nav, "the checker's header: %s" % nav)
        b.eval("location.hash = '#/releases'")
        heading(b, "Checker's desk", "the desk")
        waiting = b.wait_for("[...document.querySelectorAll('#waiting tbody tr')].map(r => r.cells[0].textContent)",
                             "the requests waiting")
        check(sorted(waiting) == sorted(["Request " + rid, "Request " + a.other_request]), "waiting: %s" % waiting)
        b.screenshot(os.path.join(a.shots, "desk-list.png"))
        check_page(b, "the desk", check, phone_shot=os.path.join(a.shots, "desk-list-phone.png"))
        b.eval(q("#waiting a[href='#/releases/%s']" % rid) + ".focus()")
        b.press_enter()
        heading(b, "Release request " + rid, "alice's request")
        previews_loaded(b)
        # The clean table as a table; the flagged one with its flags on the
        # cells the checks name; markup and a formula as text.
        rows = b.eval("[...document.querySelectorAll(%s)].map(r => r.textContent)" % json.dumps(sel("output/table1.csv") + " tbody tr"))
        check(rows == ["2under 4015", "3over 40140"], "table1 as a table: %s" % rows)
        flags = b.eval("[...document.querySelectorAll(%s)].map(c => c.parentElement.cells[0].textContent + ':' + c.textContent)"
                       % json.dumps(sel("output/flagged.csv") + " td.flag"))
        check(flags == ["2:⚑ 3", '4:⚑ =HYPERLINK("http://evil.example/","click")'], "flags on the named cells: %s" % flags)
        check("<script>document.title='pwned'</script>" in b.eval(q(sel("output/flagged.csv") + " tbody") + ".textContent"),
              "a <script> cell shown as text")
        check(b.eval("document.querySelectorAll('#view script').length == 0 && document.title != 'pwned' && document.title != '7'"),
              "no script element made, none ran")
        huge = b.eval("document.querySelectorAll(%s).length" % json.dumps(sel("output/huge.csv") + " tbody tr"))
        check(huge == 200 and b.eval("!!" + q(sel("output/huge.csv") + " .preview-more")),
              "a 4 MB table: 200 rows and a note (%s)" % huge)
        img = b.wait_for("(() => { const i = document.querySelector(%s); return i && i.complete && i.naturalWidth ? "
                         "[i.naturalWidth, i.src.slice(0, 22), i.alt] : null; })()"
                         % json.dumps(sel("output/plot.png") + " img.preview-image"), "the PNG preview")
        check(img == [16, "data:image/png;base64,", "Preview of output/plot.png"], "the PNG shown inline: %s" % img)
        check(b.eval("document.querySelectorAll('#view img:not(.preview-image)').length") == 0, "no other image")
        b.screenshot(os.path.join(a.shots, "desk.png"))
        # README's: the request down to the flagged table.
        bottom = b.eval("Math.ceil(%s.getBoundingClientRect().bottom + window.scrollY) + 12" % q(sel("output/flagged.csv")))
        shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                 "clip": {"x": 0, "y": 0, "width": 1280, "height": bottom, "scale": 1}})
        with open(os.path.join(a.shots, "desk-flagged.png"), "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        check_page(b, "the checker's request", check, phone_shot=os.path.join(a.shots, "desk-phone.png"))
        vote_all(b, "carol@example.org", {"output/flagged.csv": "exception accepted: national figure"})
        b.eval(q("#submit-review") + ".click()")
        b.wait_for(q("#view dl") + ".textContent.includes('Statepartially reviewed')", "carol's review in")

        # Switching requests quickly: a late answer of request 1 (its record,
        # then a file's preview) lands after request 2 is shown.
        for pattern, what in (("*/v1/releases/%s" % a.other_request, "record"),
                              ("*/v1/releases/%s/files/*" % a.other_request, "preview")):
            b.pause_requests(pattern)
            b.eval("location.hash = '#/releases/%s'" % a.other_request)
            late = b.wait_paused("request %s's %s" % (a.other_request, what))
            b.eval("location.hash = '#/releases/%s'" % rid)
            heading(b, "Release request " + rid, "request %s again" % rid)
            previews_loaded(b)
            b.continue_request(late)
            b.stop_pausing()
            b.eval("new Promise((done) => setTimeout(done, 1000))")
            check(b.eval("document.querySelector('#view h1').textContent") == "Release request " + rid and
                  b.eval("document.querySelectorAll('.release-file').length") == 5 and
                  b.eval("[...document.querySelectorAll('.preview')].every(p => p.dataset.release == %s)" % json.dumps(rid)),
                  "request %s's late %s not shown on request %s" % (a.other_request, what, rid))
        sign_out(b)

        # Dave: blind to carol's votes until his review is in too.
        sign_in(b, a.dave, "dave@example.org (checker)")
        b.eval("location.hash = '#/releases/%s'" % rid)
        heading(b, "Release request " + rid, "the request")
        previews_loaded(b)
        seen = b.eval("[...document.querySelectorAll('.votes li, .comments li')].map(l => l.textContent)")
        check(seen == [], "dave does not see carol's votes or comments before his review: %s" % seen)
        vote_all(b, "dave@example.org", {})
        b.eval(q("#submit-review") + ".click()")
        b.wait_for(q("#view dl") + ".textContent.includes('Statereviewed')", "both reviews in")
        check("carol@example.org: approve — exception accepted" in b.eval(q(sel("output/flagged.csv")) + ".textContent"),
              "both in: carol's vote and comment shown to dave")
        b.eval(q("#release") + ".focus()")
        b.press_enter()
        b.wait_for(q("#view dl") + ".textContent.includes('Statereleased')", "released")
        status, body = call(a.base, a.dave, "GET", "/v1/releases/" + rid)
        check(body["state"] == "released", "the API says released")
        sign_out(b)

        # Alice downloads the released table, byte for byte.
        sign_in(b, a.alice, "alice@example.org (researcher)")
        b.eval("location.hash = '#/releases/%s'" % rid)
        heading(b, "Release request " + rid, "the released request")
        b.wait_for(q("#view dl") + ".textContent.includes('Statereleased')", "released, for alice")
        check("exception accepted" in b.eval(q(sel("output/flagged.csv")) + ".textContent"),
              "decided: the checkers' comments shown to the author")
        b.eval(q(sel("output/table1.csv") + " button[aria-label='Download output/table1.csv']") + ".click()")
        target = os.path.join(a.downloads, "table1.csv")
        for _ in range(150):
            if os.path.exists(target) and os.path.getsize(target) > 0:
                break
            time.sleep(0.2)
        got = open(target, "rb").read() if os.path.exists(target) else b""
        check(got == b"group,n\nunder 40,15\nover 40,140\n", "downloaded byte for byte: %r" % got[:80])
        b.screenshot(os.path.join(a.shots, "release-released.png"))
        check_page(b, "the released request", check)
        sign_out(b)

        # eve's request, returned with the checkers' comments (by the API).
        o = "/v1/releases/" + a.other_request
        steps = [(a.carol, o + "/votes", {"path": "output/table1.csv", "vote": "request_changes", "comment": "name the age groups"}),
                 (a.carol, o + "/review", None),
                 (a.dave, o + "/votes", {"path": "output/table1.csv", "vote": "approve"}),
                 (a.dave, o + "/review", None),
                 (a.carol, o + "/return", {"comment": "please say what the groups are"})]
        for token, path, body in steps:
            status, out = call(a.base, token, "POST", path, body)
            check(status == 200, "%s: %s" % (path, status if status == 200 else out))
        sign_in(b, a.eve, "eve@example.org (researcher)")
        b.eval("location.hash = '#/releases/%s'" % a.other_request)
        heading(b, "Release request " + a.other_request, "eve's returned request")
        said = b.wait_for("document.getElementById('comments') && document.getElementById('comments').textContent",
                          "the returned comments")
        check("please say what the groups are" in said, "the return's comment: " + said)
        check("name the age groups" in b.eval(q(sel("output/table1.csv")) + ".textContent"), "the file's comment")
        check(b.eval("!!document.getElementById('submit') && document.getElementById('submit').textContent.startsWith('Resubmit')"),
              "a returned request can be resubmitted")
        check_page(b, "a returned request", check)
        b.eval(q("#withdraw") + ".click()")
        b.wait_for(q("#view dl") + ".textContent.includes('Statewithdrawn')", "withdrawn")
        check(b.console_errors() == [], "no console errors (CSP): %s" % b.console_errors())
    except BrowserError as e:
        failures.append(str(e))
        print("FAIL " + str(e))
        try:
            b.screenshot(os.path.join(a.shots, "desk-failure.png"))
        except Exception:
            pass
    finally:
        b.close()
    print("screenshots in " + a.shots)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
