"""The web page's project, queue, data and audit pages in chromium, and
the checks every page passes (called by web_test.py; `check` records).
"""
import json
import os
import shlex
import subprocess

# In the page: what a person using a screen reader or a keyboard, or with
# low vision, would miss. Controls without a name, and text below 4.5:1
# contrast against what is behind it (SVG text against its box).
A11Y = r"""(() => {
  const bad = [];
  for (const e of document.querySelectorAll('input, select, button, a[href], [tabindex]')) {
    if (e.closest('[hidden]') || e.id === 'main') continue;
    const name = (e.labels && e.labels.length ? e.labels[0].textContent : '') ||
                 e.getAttribute('aria-label') || e.textContent;
    if (!name || !name.trim()) bad.push('no name: ' + e.outerHTML.slice(0, 80));
  }
  const rgb = (c) => (c.match(/[\d.]+/g) || [255, 255, 255]).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (x, y) => { const a = lum(x), b = lum(y); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  const behind = (e) => {
    for (; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(c)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t; (t = walker.nextNode());) {
    const e = t.parentElement;
    if (!t.textContent.trim() || !e || e.closest('[hidden]') || e.closest('title')) continue;
    const st = getComputedStyle(e);
    if (st.display === 'none' || st.visibility === 'hidden') continue;
    let fg = st.color, bg = behind(e);
    if (e.closest('svg')) {
      fg = st.fill;
      const box = e.closest('a') && e.closest('a').querySelector('rect');
      bg = box ? getComputedStyle(box).fill : 'rgb(255, 255, 255)';
    }
    const r = ratio(fg, bg);
    if (r < 4.5) bad.push('contrast ' + r.toFixed(2) + ' (' + fg + ' on ' + bg + '): ' + t.textContent.trim().slice(0, 40));
  }
  return bad;
})()"""


def check_page(b, what, check, phone_shot=None):
    """Names, contrast, and a phone's width (390 px: nothing wider than the
    screen; a wide table or drawing scrolls inside its own box)."""
    problems = b.eval(A11Y)
    check(problems == [], "%s: every control named, text contrast 4.5:1 %s" % (what, problems[:5]))
    b.set_width(390, 844, mobile=True)
    wide = b.eval("document.documentElement.scrollWidth")
    check(wide <= 390, "%s fits a phone's width (%s px)" % (what, wide))
    if phone_shot:
        b.screenshot(phone_shot)
    b.set_width(1280, 900)


def heading(b, text, what):
    b.wait_for("document.querySelector('#view h1') && document.querySelector('#view h1').textContent == %s"
               % json.dumps(text), what)


def project_pages(b, a, check, api_get):
    """As alice: filters on my runs; her project's page; another project's
    page is the API's 404."""
    # Filters: each narrows the list through the API, and lives in the hash.
    b.eval("location.hash = '#/runs'")
    heading(b, "My runs", "my runs")
    b.eval("document.getElementById('branch').focus()")
    b.type_text("main")
    b.press_enter()
    b.wait_for("location.hash == '#/runs?branch=main'", "the branch filter in the hash")
    rows = b.wait_for("document.getElementById('branch') && document.getElementById('branch').value == 'main' && "
                      "document.querySelectorAll('#runs tbody tr').length", "runs on main")
    check(rows == 1, "branch main: the study's run (%s)" % rows)
    b.eval("const s = document.getElementById('state'); s.value = 'failed'; s.dispatchEvent(new Event('change'))")
    b.wait_for("document.getElementById('no-runs')", "no failed runs")
    check(b.eval("location.hash") == "#/runs?state=failed&branch=main", "both filters in the hash")
    b.eval("location.hash = '#/runs?branch=dev'")
    b.wait_for("document.getElementById('no-runs')", "no runs on dev")
    b.eval("location.hash = '#/runs?state=succeeded'")
    b.wait_for("document.querySelectorAll('#runs tbody tr').length == 1", "the succeeded run")
    check_page(b, "filtered runs", check)
    b.screenshot(os.path.join(a.shots, "runs.png"))
    # Attack: markup in a filter from a link someone sent is a value, not HTML.
    b.eval("location.hash = '#/runs?branch=' + encodeURIComponent('\"><img src=x onerror=\"document.title=2\">')")
    b.wait_for("!!document.getElementById('no-runs')", "no runs on that branch")
    check(b.eval("document.querySelectorAll('#view img').length") == 0 and b.eval("document.title") != "2",
          "markup in the branch filter made no element and ran nothing")
    check(b.eval("document.getElementById('branch').value").startswith('"><img'), "the filter shows it as typed")
    # A researcher who opens the admin's queue gets the API's 403 in words.
    status, _, body = api_get(a.base, a.token, "/v1/nodes")
    b.eval("location.hash = '#/queue'")
    shown = b.wait_for("document.getElementById('api-error') && document.getElementById('api-error').textContent",
                       "the refusal")
    check(status == 403 and shown == json.loads(body)["error"]["message"], "a researcher's queue page: the API's 403")

    # Projects: only hers.
    b.eval("location.hash = '#/projects'")
    heading(b, "Projects", "the projects page")
    names = b.wait_for("[...document.querySelectorAll('#projects tbody tr')].map(r => r.cells[0].textContent)",
                       "the projects")
    check(names == ["study"], "projects: only alice's (%s)" % names)
    check_page(b, "the projects page", check)

    # The project: members, quota, usage with the chart, permits.
    b.eval("location.hash = '#/projects/study'")
    heading(b, "Project study", "the project page")
    members = b.eval("[...document.querySelectorAll('#members li')].map(l => l.textContent)")
    check(members == ["alice@example.org"], "members: %s" % members)
    check(b.eval("!!document.getElementById('usage-chart')"), "the usage chart is drawn")
    label = b.eval("document.getElementById('usage-chart').getAttribute('aria-label')")
    check(label.startswith("Hours per day this month") and label.endswith("of a budget of 0.5."),
          "the chart says what it shows, the budget too: " + label)
    quota = b.eval("document.querySelectorAll('#view dl')[1].textContent")
    check("GPU budget0.5 GPU h per month" in quota and "CPUs2" in quota, "the quota: " + quota)
    today = b.eval("[...document.querySelectorAll('#usage-table tbody tr')]"
                   ".filter(r => r.cells[1].textContent != '0').map(r => r.textContent)")
    status, _, body = api_get(a.base, a.token, "/v1/projects/study/usage?series=day")
    series = [x for x in json.loads(body)["accounting"]["series"] if x["jobs"]]
    check(status == 200 and len(today) == 1 and len(series) == 1 and series[0]["from"][:10] in today[0],
          "today's jobs in the table, as the API's series says: %s %s" % (today, series))
    permits = b.eval("[...document.querySelectorAll('#permits tbody tr')].map(r => r.cells[0].textContent)")
    check(permits == ["P-2"], "the study's permit only: %s" % permits)
    check(b.eval("document.querySelectorAll('#view button').length") == 0, "a researcher gets no admin buttons")
    b.screenshot(os.path.join(a.shots, "project.png"))
    check_page(b, "the project page", check, phone_shot=os.path.join(a.shots, "project-phone.png"))

    # Another project: the API's own 404, word for word.
    status, _, body = api_get(a.base, a.token, "/v1/projects/other")
    b.eval("location.hash = '#/projects/other'")
    shown = b.wait_for("document.getElementById('api-error') && document.getElementById('api-error').textContent",
                       "the refusal")
    check(status == 404 and shown == json.loads(body)["error"]["message"], "another project: the API's 404 (%r)" % shown)


def admin_pages(b, a, check, api_get, sign_in, sign_out):
    """The admin's queue, the steward's data, the auditor's log."""
    sign_in(b, a.admin_token, "admin@example.org (admin)")
    nav = b.eval("[...document.querySelectorAll('#nav a')].map(a => a.textContent)")
    check(nav == ["My runs", "Projects", "Releases", "Queue", "Data", "Audit"], "the admin's header: %s" % nav)
    b.eval("location.hash = '#/queue'")
    heading(b, "Queue", "the queue page")
    nodes = b.wait_for("document.querySelectorAll('#nodes tbody tr').length", "the nodes")
    check(nodes == 1, "one node listed with its load")
    # Pause with the button: the API says so; a new run then waits, its
    # reason on the page as the API gives it; resume: it runs.
    b.eval("document.getElementById('queue-toggle').focus()")
    b.press_enter()
    b.wait_for("document.getElementById('queue-state').textContent.startsWith('paused')", "the queue paused")
    _, _, body = api_get(a.base, a.admin_token, "/v1/queue")
    check(json.loads(body)["paused"] is True, "the API says the queue is paused")
    check(b.eval("document.activeElement.id") == "queue-toggle", "the focus stays on the button after the page is redrawn")
    subprocess.run(shlex.split(a.push_more), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reason = b.wait_for("document.querySelector('#pending tbody tr') && "
                        "document.querySelector('#pending tbody tr').cells[4].textContent", "a pending job, live")
    _, _, body = api_get(a.base, a.admin_token, "/v1/jobs?state=pending")
    reasons = [j["reason"] or j["status_code"] for j in json.loads(body)["jobs"]]
    check(reason in reasons, "the pending job's reason as the API gives it: %r in %r" % (reason, reasons))
    b.screenshot(os.path.join(a.shots, "queue.png"))
    check_page(b, "the queue page", check, phone_shot=os.path.join(a.shots, "queue-phone.png"))
    b.eval("document.getElementById('queue-toggle').click()")
    b.wait_for("document.getElementById('queue-state').textContent == 'running'", "the queue resumed")
    b.wait_for("document.getElementById('no-pending')", "the new run's jobs to leave the queue", timeout=120)
    # Drain the node from its row, and resume it.
    b.eval("document.querySelector('#nodes button').click()")
    b.wait_for("document.querySelector('#nodes tbody tr').cells[1].textContent == 'drained'", "the node drained")
    _, _, body = api_get(a.base, a.admin_token, "/v1/nodes")
    check(json.loads(body)["nodes"][0]["state"] == "drained", "the API says the node is drained")
    b.eval("document.querySelector('#nodes button').click()")
    b.wait_for("document.querySelector('#nodes tbody tr').cells[1].textContent == 'up'", "the node up again")

    # Pause the other project from its page; a new run waits; cancel it
    # from its page; resume the project.
    b.eval("location.hash = '#/projects/other'")
    heading(b, "Project other", "the other project's page")
    b.eval("document.getElementById('project-pause').click()")
    b.wait_for("!!document.getElementById('project-resume')", "the project paused")
    _, _, body = api_get(a.base, a.admin_token, "/v1/projects/other")
    check(json.loads(body)["paused"] is not None, "the API says the project is paused")
    subprocess.run(shlex.split(a.push_more), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, body = api_get(a.base, a.admin_token, "/v1/runs?project=other&limit=1")
    newest = json.loads(body)["runs"][0]["id"]
    b.eval("location.hash = '#/runs/%s'" % newest)
    b.wait_for("!!document.getElementById('cancel-run')", "the pending run's cancel button")
    b.eval("document.getElementById('cancel-run').click()")
    b.wait_for("document.querySelector('#view .state').textContent == 'cancelled'", "the run cancelled")
    _, _, body = api_get(a.base, a.admin_token, "/v1/runs/%s" % newest)
    check(json.loads(body)["state"] == "cancelled", "the API says the run is cancelled")
    check(b.eval("document.getElementById('cancel-run')") is None, "no cancel button on an ended run")
    b.eval("location.hash = '#/projects/other'")
    b.wait_for("!!document.getElementById('project-resume')", "the paused project's page")
    b.eval("document.getElementById('project-resume').click()")
    b.wait_for("!!document.getElementById('project-pause')", "the project resumed")
    _, _, body = api_get(a.base, a.admin_token, "/v1/projects/other")
    check(json.loads(body)["paused"] is None, "the API says the project runs again")
    sign_out(b)

    # The steward: the dataset (hashed) and every permit; revoke one.
    sign_in(b, a.steward_token, "steward@example.org (steward)")
    b.eval("location.hash = '#/data'")
    heading(b, "Data", "the data page")
    ds = b.wait_for("document.querySelector('#datasets tbody tr') && "
                    "document.querySelector('#datasets tbody tr').textContent", "the datasets")
    check("prescriptions" in ds and "2026-06" in ds and "sha256:" in ds, "the dataset with its id: " + ds)
    ids = b.eval("[...document.querySelectorAll('#permits tbody tr')].map(r => r.cells[0].textContent)")
    check(sorted(ids) == ["P-1", "P-2"], "every permit: %s" % ids)
    b.screenshot(os.path.join(a.shots, "data.png"))
    check_page(b, "the data page", check)
    # Verify: a full re-hash; its new time shows on the page by itself.
    _, _, body = api_get(a.base, a.steward_token, "/v1/datasets/prescriptions/2026-06")
    before = json.loads(body)["verified_at"]
    b.eval("document.querySelector('[data-key=\"verify-prescriptions@2026-06\"]').click()")
    for _ in range(300):
        _, _, body = api_get(a.base, a.steward_token, "/v1/datasets/prescriptions/2026-06")
        after = json.loads(body)["verified_at"]
        if after != before:
            break
        b.eval("new Promise((done) => setTimeout(done, 100))")
    check(after != before, "the API says the dataset was verified again (%s, then %s)" % (before, after))
    b.wait_for("document.querySelector('#datasets tbody tr').cells[6].textContent == new Date(%s).toLocaleString()"
               % json.dumps(after), "the new verification time on the page")
    b.eval("document.querySelector('[data-key=\"revoke-P-2\"]').click()")
    b.wait_for("[...document.querySelectorAll('#permits tbody tr')].some(r => r.cells[0].textContent == 'P-2' && "
               "r.cells[5].textContent.includes('revoked'))", "P-2 revoked on the page")
    _, _, body = api_get(a.base, a.steward_token, "/v1/permits/P-2")
    check(json.loads(body)["revoked_at"] is not None, "the API says P-2 is revoked")
    sign_out(b)

    # The auditor: the log, and verify.
    sign_in(b, a.auditor_token, "auditor@example.org (auditor)")
    nav = b.eval("[...document.querySelectorAll('#nav a')].map(a => a.textContent)")
    check(nav == ["My runs", "Projects", "Releases", "Audit"], "the auditor's header: %s" % nav)
    b.eval("location.hash = '#/audit'")
    heading(b, "Audit log", "the audit page")
    actions = b.wait_for("[...document.querySelectorAll('#audit tbody tr')].map(r => r.cells[3].textContent)",
                         "the audit records")
    check("permit.revoked" in actions, "the newest records first: the steward's revocation is there: %s"
          % sorted(set(actions))[:12])
    b.eval("document.getElementById('verify').click()")
    verdict = b.wait_for("document.getElementById('verify-result').textContent.startsWith('Intact') || "
                         "document.getElementById('verify-result').textContent.startsWith('Broken') ? "
                         "document.getElementById('verify-result').textContent : ''", "verify's verdict")
    check(verdict.startswith("Intact"), "verify: " + verdict)
    b.screenshot(os.path.join(a.shots, "audit.png"))
    check_page(b, "the audit page", check)
    # A researcher has no audit page: the API's 403 in words.
    sign_out(b)
    sign_in(b, a.token, "alice@example.org (researcher)")
    b.eval("location.hash = '#/audit'")
    shown = b.wait_for("document.getElementById('api-error') && document.getElementById('api-error').textContent",
                       "the refusal")
    status, _, body = api_get(a.base, a.token, "/v1/audit/checkpoints")
    check(status == 403 and shown == json.loads(body)["error"]["message"], "a researcher's audit page: the API's 403")
