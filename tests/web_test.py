"""The web page's scenario in headless chromium (called by web_test.sh).

Signs in with the keyboard, sees a run's DAG go from pending to succeeded
without a reload and a running job's log followed live, opens a job's log
tail (markup in it shown as text), filters runs, reads a project's page,
checks that another project's run and project are the API's own 404, signs
in again as other people in the same tab, and walks the admin's queue, the
steward's data and the auditor's log; on each page, every control has a
name, text has 4.5:1 contrast, and it fits a phone. Screenshots at laptop
and phone widths go to --shots.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ left in the source tree by make test
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from browser import Browser, BrowserError, find_chromium  # noqa: E402
from web_pages import admin_pages, check_page, project_pages  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def api_get(base, token, path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def sign_out(b):
    b.eval("document.getElementById('signout').click()")
    b.wait_for("!document.getElementById('signin').hidden", "the sign-in form again")
    check(b.eval("document.activeElement && document.activeElement.id") == "token",
          "signed out: the token field has the focus")


def sign_in(b, token, who):
    """Types the token into the focused field and sends it with Enter; the
    header's user and a page that is not blank."""
    b.eval("document.getElementById('token').focus()")
    b.type_text(token)
    b.press_enter()
    shown = b.wait_for("document.getElementById('who-user') && "
                       "document.getElementById('who-user').textContent + ' ' + "
                       "document.getElementById('who-role').textContent", "who am I after signing in")
    check(shown == who, "header after signing in says %r (%r)" % (who, shown))
    b.wait_for("document.getElementById('signin').hidden && "
               "!!document.querySelector('#view h1')", "a page, not a blank, after signing in")


def runs_listed(b):
    """The projects of the runs that my runs lists, once it shows them."""
    b.wait_for("document.querySelector('#view h1') && "
               "document.querySelector('#view h1').textContent == 'My runs' && "
               "!!document.querySelector('#view tbody tr')", "my runs")
    return sorted(b.eval("[...document.querySelectorAll('#view tbody tr')]"
                         ".map(r => r.cells[1].textContent)"))


def second_sign_in(b, a):
    """Reported: signing in a second time in the same tab left the page
    blank. Each sign-in after a sign-out must show the new person's own
    header and runs, whatever the last person left in flight."""
    sign_in(b, a.token, "alice@example.org (researcher)")
    check(runs_listed(b) == ["study"], "alice again: her runs, not the last page's 404")
    sign_out(b)
    sign_in(b, a.admin_token, "admin@example.org (admin)")
    check(runs_listed(b) == ["other", "study"], "then the admin: every run")
    # Sign out while the admin's runs are still on their way, then sign in
    # as bob (the other project's researcher); the admin's late answer must
    # not land on bob's page, nor leave it blank.
    b.pause_requests("*/v1/runs?*")
    b.eval("location.hash = '#/'")
    admins = b.wait_paused("the admin's runs")
    sign_out(b)
    b.eval("document.getElementById('token').focus()")
    b.type_text(a.bob_token)
    b.press_enter()
    bobs = b.wait_paused("bob's runs")
    b.continue_request(bobs)
    check(runs_listed(b) == ["other"], "bob sees his project's run")
    b.continue_request(admins)
    b.stop_pausing()
    b.eval("new Promise((done) => setTimeout(done, 1000))")  # let the late answer arrive
    check(b.eval("document.getElementById('who-user').textContent") == "bob@example.org",
          "the header still says bob")
    check(runs_listed(b) == ["other"], "the admin's late answer is dropped, not shown to bob")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--admin-token", required=True)
    ap.add_argument("--bob-token", required=True, help="a researcher of the other project")
    ap.add_argument("--run", required=True)
    ap.add_argument("--other-run", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--resume", required=True, help="command that lets the run start")
    ap.add_argument("--steward-token", required=True)
    ap.add_argument("--auditor-token", required=True)
    ap.add_argument("--push-more", required=True, help="command that pushes a new run of the other project")
    a = ap.parse_args()

    # The page's own headers, as slussd sends them.
    status, headers, body = api_get(a.base, "", "/")
    check(status == 200 and "<title>sluss</title>" in body, "GET / serves the page")
    csp = headers.get("Content-Security-Policy", "")
    check("default-src 'self'" in csp and "frame-ancestors 'none'" in csp, "CSP: " + csp)
    check(headers.get("X-Content-Type-Options") == "nosniff", "nosniff")
    check(headers.get("Referrer-Policy") == "no-referrer", "no referrer")
    check("Set-Cookie" not in headers, "no cookie")

    chromium = find_chromium()
    if not chromium:
        print("FAIL chromium is not installed")
        return 1
    b = Browser(chromium)
    try:
        b.navigate(a.base + "/")
        b.wait_for("!document.getElementById('signin').hidden", "the sign-in form")
        b.screenshot(os.path.join(a.shots, "signin.png"))
        # A wrong token: refused, said, nothing stored.
        b.eval("document.getElementById('token').focus()")
        b.type_text("not-a-token")
        b.press_enter()
        b.wait_for("document.getElementById('signin-error').textContent", "the refusal")
        check(b.eval("sessionStorage.length") == 0, "a refused token is not kept")
        # The real one, typed and sent with Enter.
        b.eval("document.getElementById('token').focus()")
        b.type_text(a.token)
        b.press_enter()
        who = b.wait_for("document.getElementById('who-user') && "
                         "document.getElementById('who-user').textContent + ' ' + "
                         "document.getElementById('who-role').textContent", "who am I")
        check(who == "alice@example.org (researcher)", "header says who: " + who)
        check(b.eval("document.cookie") == "", "no cookies")
        rows = b.wait_for("document.querySelectorAll('#view tbody tr').length", "my runs")
        check(rows == 1, "my runs lists only the study's run (%s rows)" % rows)
        # The keyboard: the first Tab reaches the skip link, which moves the
        # focus to the page without changing the route.
        # (A reload: the tab keeps its token, and focus starts at the top.)
        b.navigate(a.base + "/")
        b.wait_for("document.querySelectorAll('#runs tbody tr').length == 1", "my runs after a reload")
        b.press_tab()
        first_tab = b.eval("document.activeElement.outerHTML.slice(0, 60)")
        check(b.eval("document.activeElement.className") == "skip", "the first Tab reaches 'Skip to content' (%s)" % first_tab)
        b.press_enter()
        check(b.eval("document.activeElement.id") == "main" and b.eval("location.hash") == "",
              "the skip link focuses the page and leaves the route alone")
        check_page(b, "my runs", check)

        # The run, pending in its paused project; then resumed, it goes to
        # succeeded on the page by itself (no reload: the marker stays).
        b.eval("location.hash = '#/runs/%s'" % a.run)
        first = b.wait_for("document.querySelector('#view h1') && "
                           "document.querySelector('#view h1').textContent == 'Run %s' && "
                           "document.querySelector('#view .state').textContent" % a.run, "the run page")
        check(first == "pending", "the run shows pending first: " + first)
        # The DAG: a box per job with its state and reason, an arrow per need.
        nodes = b.wait_for("document.querySelectorAll('#dag a.node').length", "the DAG")
        check(nodes == 2, "the DAG draws both jobs (%s)" % nodes)
        check(b.eval("document.querySelectorAll('#dag path.edge').length") == 1, "one arrow: report needs hello")
        label = b.eval("document.querySelector('#dag a[data-job=report]').getAttribute('aria-label')")
        check(label.startswith("report: pending, waiting_on_dependencies"), "report's box says why it waits: " + label)
        check(b.eval("document.querySelector('#dag a[data-job=report] .node-state').textContent") == "pending",
              "the state is written in the box, not only coloured")
        b.screenshot(os.path.join(a.shots, "run-pending.png"))
        b.eval("window.__same_page = 1")
        subprocess.run(shlex.split(a.resume), check=True, stdout=subprocess.DEVNULL)
        # Live: hello succeeds and report runs, on this page by itself.
        b.wait_for("document.querySelector('#dag a[data-job=report]').classList.contains('node-running')",
                   "report to run, drawn live", timeout=120)
        check(b.eval("document.querySelector('#dag a[data-job=hello]').classList.contains('node-succeeded')"),
              "hello drawn succeeded")
        check(b.eval("window.__same_page") == 1, "the DAG changed without a reload")
        b.screenshot(os.path.join(a.shots, "run-running.png"))
        # The keyboard opens report from its box; its log is followed live
        # (follow=1, one long answer) until it ends.
        b.eval("document.querySelector('#dag a[data-job=report]').focus()")
        b.press_enter()
        b.wait_for("document.querySelector('#view h1').textContent.endsWith(': report')", "report's page")
        b.wait_for("[...document.querySelectorAll('#view h2')].some(h => h.textContent == 'Log tail (stdout, live)')",
                   "the log followed live")
        before = b.eval("document.getElementById('log-stdout').textContent.split('\\n').length")
        b.wait_for("document.getElementById('log-stdout').textContent.includes('report done')",
                   "report's last line, streamed", timeout=120)
        after = b.eval("document.getElementById('log-stdout').textContent.split('\\n').length")
        check(after > before, "the log grew on the page (%s lines, then %s)" % (before, after))
        b.wait_for("document.querySelector('#view .state').textContent == 'succeeded'",
                   "report's page to say succeeded once its log ended")
        # (A resource timing entry is made when its answer ends: here, when
        # the attempt ended and the page was shown again.)
        # Where the API gives researchers a log's last lines and no stream
        # (X-Sluss-Log-Withheld), the page polls them instead.
        report_id = b.eval("location.hash.split('/').pop()")
        _, headers, _ = api_get(a.base, a.token, "/v1/jobs/%s/logs?limit=1" % report_id)
        followed = b.eval("performance.getEntriesByType('resource').some(e => e.name.includes('follow=1'))")
        if headers.get("X-Sluss-Log-Withheld") is None:
            check(followed, "followed with the logs route's follow=1")
        else:
            check(not followed, "polled, not followed: the API gives researchers the tail, not a stream")
        check(b.eval("window.__same_page") == 1, "report followed without a reload")
        b.eval("history.back()")
        b.wait_for("document.querySelector('#view h1').textContent == 'Run %s' && "
                   "document.querySelector('#view .state').textContent == 'succeeded'" % a.run,
                   "the run to succeed", timeout=120)
        check(b.eval("document.querySelectorAll('#dag a.node-succeeded').length") == 2, "both boxes succeeded")
        b.screenshot(os.path.join(a.shots, "run.png"))
        check_page(b, "a run", check)

        # The job: transitions, resources, the log tail; markup is text.
        b.eval("document.querySelector('#jobs tbody a').click()")
        log = b.wait_for("document.getElementById('log-stdout') && "
                         "document.getElementById('log-stdout').textContent", "the log tail")
        check("hello from study-run" in log, "log tail shows the end of a 150 KB log")
        check("filler 0000" not in log, "and not its start")
        check('<b id="injected">bold</b>' in log, "markup in the log shown as text")
        check(b.eval("document.getElementById('injected') === null && "
                     "document.querySelectorAll('#view img').length === 0"), "no element made from the log")
        check(b.eval("document.title") != "1", "no script ran from the log")
        trans = b.eval("[...document.querySelectorAll('#view table')[1].querySelectorAll('tbody tr')]"
                       ".map(r => r.cells[1].textContent).join(' ')")
        check("running" in trans and "succeeded" in trans, "transitions listed: " + trans)
        asked = b.eval("document.querySelector('#view table tbody tr').textContent")
        check("512.0 MiB" in asked and "600 s" in asked, "resources asked: " + asked)
        used = b.eval("document.querySelectorAll('#view table tbody tr')[2].textContent")
        check("CPU s" in used and "MiB" in used, "resources used: " + used)
        # Outputs as metadata with the checks' verdicts, as the API gives them.
        outs = b.eval("[...document.querySelectorAll('#outputs tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        _, _, body = api_get(a.base, a.token, "/v1/runs/%s/outputs" % a.run)
        job_outs = [j for j in json.loads(body)["jobs"] if j["action"] == "hello"][0]["outputs"]
        table1 = [o for o in job_outs if o["path"] == "output/table1.csv"][0]
        shown = [r for r in outs if r[0] == "output/table1.csv"]
        check(len(outs) == 2 and shown and shown[0][1] == "releasable" and
              shown[0][4].startswith(table1["checks"]["outcome"]) and "below the threshold 10" in shown[0][4],
              "outputs with the checks' verdict: %s (API: %s)" % (outs, table1["checks"]["outcome"]))
        check("3" not in [c for r in outs for c in r] and "under 40" not in json.dumps(outs),
              "no cell of the table on the page")
        b.screenshot(os.path.join(a.shots, "job.png"))
        check_page(b, "a job", check, phone_shot=os.path.join(a.shots, "job-phone.png"))

        # Another project's run: the same 404 as the API, word for word.
        status, _, body = api_get(a.base, a.token, "/v1/runs/" + a.other_run)
        api_message = json.loads(body)["error"]["message"]
        check(status == 404, "the API says 404 for another project's run")
        b.eval("location.hash = '#/runs/%s'" % a.other_run)
        shown = b.wait_for("document.getElementById('api-error') && "
                           "document.querySelector('#view h1').textContent + ': ' + "
                           "document.getElementById('api-error').textContent", "the refusal")
        check(shown == "Not found: " + api_message, "page: %r, API: %r" % (shown, api_message))
        _, _, missing = api_get(a.base, a.token, "/v1/runs/99999")
        check(json.loads(missing)["error"]["message"].replace("99999", a.other_run) == api_message,
              "the same words as a run that does not exist")
        b.screenshot(os.path.join(a.shots, "not-found.png"))
        project_pages(b, a, check, api_get)

        # Sign out: the token is gone from the tab.
        sign_out(b)
        check(b.eval("sessionStorage.length") == 0, "signed out: token forgotten")
        second_sign_in(b, a)
        sign_out(b)
        admin_pages(b, a, check, api_get, sign_in, sign_out)
        check(b.console_errors() == [], "no console errors (CSP): %s" % b.console_errors())
    except BrowserError as e:
        failures.append(str(e))
        print("FAIL " + str(e))
        try:
            b.screenshot(os.path.join(a.shots, "failure.png"))
        except Exception:
            pass
    finally:
        b.close()
    print("screenshots in " + a.shots)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
