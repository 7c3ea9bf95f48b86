// sluss's web page: a thin view over the documented /v1 routes. Every
// string from the API goes into the page as text (textContent), never as
// HTML. The token lives in this tab's sessionStorage and is sent as a
// bearer header; there are no cookies, so no cross-site request can act.
'use strict';
(function () {
  const KEY = 'sluss.token';
  const REFRESH_MS = 2000;
  let timer = null;
  let me = null;
  // Each route() and each sign-out starts a new generation; an answer to a
  // request of an older one is dropped (Stale), never shown. Without this a
  // page still loading when its person signed out landed on the next
  // person's page, with the last person's runs.
  let generation = 0;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }
  const text = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
  const state = (s) => el('span', { class: 'state state-' + String(s).replace(/[^a-z_]/g, ''), text: text(s) });
  const link = (href, label) => el('a', { href: href, text: text(label) });
  const when = (t) => (t ? new Date(t).toLocaleString() : '—');

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  class Stale extends Error {}

  // The last TAIL_BYTES of a job's log: its size first (X-Sluss-Log-Size),
  // then the end, both from the documented logs route.
  const TAIL_BYTES = 65536;
  async function logTail(q, stream) {
    const base = '/v1/jobs/' + q + '/logs?stream=' + stream + '&limit=' + TAIL_BYTES;
    const asked = generation;
    const first = await api(base, 'response');
    const size = Number(first.headers.get('X-Sluss-Log-Size') || 0);
    const body = size <= TAIL_BYTES ? await first.text()
                                    : await (await api(base + '&offset=' + (size - TAIL_BYTES), 'response')).text();
    if (asked !== generation) throw new Stale();
    return body;
  }

  async function api(path, asText) {
    const token = sessionStorage.getItem(KEY);
    const asked = generation;
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store',
                                  credentials: 'omit', referrerPolicy: 'no-referrer' });
    if (asked !== generation) throw new Stale();
    if (!r.ok) {
      let code = 'http_' + r.status, message = r.statusText;
      try { const b = await r.json(); code = b.error.code; message = b.error.message; } catch (_) {}
      if (r.status === 401) signOut(message);
      throw new ApiError(r.status, code, message);
    }
    const body = asText === 'response' ? r : asText ? await r.text() : await r.json();
    if (asked !== generation) throw new Stale();
    return body;
  }

  function show(title, ...nodes) {
    const view = document.getElementById('view');
    view.replaceChildren(el('h1', { text: title }), ...nodes);
    document.title = title + ' · sluss';
  }
  function showError(e) {
    const title = e instanceof ApiError && e.status === 404 ? 'Not found' : 'Error';
    show(title, el('p', { class: 'error', role: 'alert', id: 'api-error', text: e.message }));
  }

  function table(columns, rows) {
    const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col', text: c })));
    const body = rows.map((cells) => el('tr', {}, ...cells.map((c, i) => {
      const td = el('td', { 'data-label': columns[i] });
      td.append(typeof c === 'string' ? document.createTextNode(c) : c);
      return td;
    })));
    return el('table', { class: 'stack' }, el('thead', {}, head), el('tbody', {}, ...body));
  }
  function list(pairs) {
    const dl = el('dl');
    for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', {}, typeof v === 'string' ? v : v));
    return dl;
  }

  async function runsPage() {
    const data = await api('/v1/runs?limit=50');
    const rows = data.runs.map((r) => [link('#/runs/' + r.id, r.id), r.project, state(r.state),
      el('code', { text: text(r.commit).slice(0, 12) }), text(r.submitted_by), when(r.created_at)]);
    show('My runs', rows.length ? table(['Run', 'Project', 'State', 'Commit', 'Who', 'When'], rows)
                                : el('p', { class: 'muted', text: 'No runs yet.' }));
  }

  async function runPage(id) {
    const r = await api('/v1/runs/' + encodeURIComponent(id));
    const rows = r.jobs.map((j) => [link('#/jobs/' + j.id, j.action), state(j.state), text(j.status_code),
      text(j.reason), text((j.needs || []).join(', '))]);
    show('Run ' + r.id,
      list([['Project', text(r.project)], ['State', state(r.state)], ['Commit', el('code', { text: text(r.commit) })],
            ['Ref', text(r.ref)], ['Who', text(r.submitted_by)], ['When', when(r.created_at)]]),
      el('h2', { text: 'Jobs' }),
      table(['Job', 'State', 'Status', 'Reason', 'Needs'], rows),
      ...(r.errors && r.errors.length ? [el('h2', { text: 'Errors' }), el('pre', { text: r.errors.join('\n') })] : []));
    if (r.state === 'pending' || r.state === 'running') later();
  }

  function bytes(n) {
    if (n === null || n === undefined) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }

  async function jobPage(id) {
    const q = encodeURIComponent(id);
    const [j, ev] = await Promise.all([api('/v1/jobs/' + q), api('/v1/jobs/' + q + '/events')]);
    const log = await logTail(q, 'stdout');
    const err = await logTail(q, 'stderr');
    const asked = (j.spec && j.spec.resources) || {};
    const given = j.placed || {};
    const used = j.result || {};
    const res = (label, r) => [label, r.milli_cpus ? String(r.milli_cpus / 1000) : '—', bytes(r.memory_bytes),
      r.time_limit_s ? r.time_limit_s + ' s' : '—', r.gpus ? String(Array.isArray(r.gpus) ? r.gpus.length : r.gpus) : '—'];
    const tail = (s) => s.split('\n').slice(-200).join('\n');
    show('Job ' + j.id + ': ' + j.action,
      list([['Run', link('#/runs/' + j.run_id, j.run_id)], ['Project', text(j.project)], ['State', state(j.state)],
            ['Status', text(j.status_code)], ['Reason', text(j.reason)], ['Attempt', text(j.attempt)],
            ['Exit code', text(j.exit_code)], ['Node', text(j.node)]]),
      el('h2', { text: 'Resources' }),
      table(['', 'CPUs', 'Memory', 'Time', 'GPUs'], [
        res('Asked', asked), res('Given', given),
        ['Used', used.cpu_seconds !== undefined ? used.cpu_seconds.toFixed(2) + ' CPU s' : '—', bytes(used.memory_peak_bytes),
         used.wall_seconds !== undefined ? used.wall_seconds.toFixed(2) + ' s' : '—', text((used.gpus || []).length || '')]]),
      el('p', { class: 'muted', text: 'Asked: as declared in sluss.yaml (— for the default); given: what the scheduler reserved; used: as measured.' }),
      el('h2', { text: 'Transitions' }),
      table(['When', 'State', 'Status', 'Reason'], ev.events.map((e) => [when(e.at), state(e.state), text(e.to), text(e.reason)])),
      el('h2', { text: 'Log tail (stdout)' }),
      el('pre', { id: 'log-stdout', tabindex: '0', 'aria-label': 'standard output, last lines', text: tail(log) }),
      el('h2', { text: 'Log tail (stderr)' }),
      el('pre', { id: 'log-stderr', tabindex: '0', 'aria-label': 'standard error, last lines', text: tail(err) }));
    if (j.state === 'pending' || j.state === 'running') later();
  }

  function later() { timer = setTimeout(route, REFRESH_MS); }

  async function route() {
    clearTimeout(timer);
    timer = null;
    generation++;
    if (!sessionStorage.getItem(KEY)) return signedOut();
    document.getElementById('signin').hidden = true;
    const hash = location.hash || '#/runs';
    let m;
    try {
      if (!me) await whoami();
      if ((m = hash.match(/^#\/runs\/([^/]+)$/))) await runPage(decodeURIComponent(m[1]));
      else if ((m = hash.match(/^#\/jobs\/([^/]+)$/))) await jobPage(decodeURIComponent(m[1]));
      else await runsPage();
    } catch (e) {
      if (!(e instanceof Stale) && sessionStorage.getItem(KEY)) showError(e);
    }
  }

  async function whoami() {
    me = await api('/v1/whoami');
    const out = el('button', { type: 'button', id: 'signout', text: 'Sign out' });
    out.addEventListener('click', () => signOut(''));
    document.getElementById('who').replaceChildren(
      el('span', { id: 'who-user', text: me.user }), el('span', { id: 'who-role', class: 'muted', text: '(' + me.role + ')' }), out);
  }

  function signOut(why) {
    sessionStorage.removeItem(KEY);
    generation++;
    me = null;
    // The next person starts at their own runs, not at this one's last page.
    history.replaceState(null, '', location.pathname);
    document.getElementById('signin-error').textContent = why || '';
    signedOut();
  }
  function signedOut() {
    clearTimeout(timer);
    document.getElementById('who').replaceChildren();
    document.getElementById('view').replaceChildren();
    document.getElementById('signin').hidden = false;
    document.title = 'Sign in · sluss';
    document.getElementById('token').focus();
  }

  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = document.getElementById('token');
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = '';
      document.getElementById('signin-error').textContent = '';
      route();
    });
    window.addEventListener('hashchange', () => { route(); document.getElementById('main').focus(); });
    route();
  });
})();
