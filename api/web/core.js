// What every page of sluss's web page shares: making elements, calling the
// documented /v1 routes, showing a page. Every string from the API goes
// into the page as text (textContent), never as HTML.
'use strict';

export const KEY = 'sluss.token';
const REFRESH_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';

export const session = {
  me: null,  // /v1/whoami's answer once signed in
  // Each route() and each sign-out starts a new generation; an answer to a
  // request of an older one is dropped (Stale), never shown. Without this a
  // page still loading when its person signed out landed on the next
  // person's page, with the last person's runs.
  generation: 0,
  timer: null,
  streams: [],  // AbortControllers of followed logs, aborted by the next page
  onUnauthorized: null,  // set by app.js: signs out with the API's words
};

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  setAttrs(e, attrs);
  for (const c of children) if (c) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}
function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
}

export const text = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));
export const stateName = (s) => String(s).replace(/[^a-z_]/g, '');
export const state = (s) => el('span', { class: 'state state-' + stateName(s), text: text(s) });
export const link = (href, label) => el('a', { href: href, text: text(label) });
export const when = (t) => (t ? new Date(t).toLocaleString() : '—');
export const live = (s) => s === 'pending' || s === 'running';

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
export class Stale extends Error {}

// GET (or another method with a JSON body) on a /v1 route; the parsed
// answer. `as`: 'json' (default), 'text' or 'response'.
export async function api(path, as, method, body) {
  const token = sessionStorage.getItem(KEY);
  const asked = session.generation;
  const init = { method: method || 'GET', cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer',
                 headers: { Authorization: 'Bearer ' + token } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (asked !== session.generation) throw new Stale();
  if (!r.ok) {
    let code = 'http_' + r.status, message = r.statusText;
    try { const b = await r.json(); code = b.error.code; message = b.error.message; } catch (_) {}
    if (asked !== session.generation) throw new Stale();
    if (r.status === 401 && session.onUnauthorized) session.onUnauthorized(message);
    throw new ApiError(r.status, code, message);
  }
  const out = as === 'response' ? r : as === 'text' ? await r.text() : await r.json();
  if (asked !== session.generation) throw new Stale();
  return out;
}
export const post = (path, body) => api(path, 'json', 'POST', body || {});

// Replaces the view. The element that had the focus (a link, a button, a
// field with a data-key) gets it back when the new view has its twin, so
// that a live refresh does not throw a keyboard user back to the top.
export function show(title, ...nodes) {
  const view = document.getElementById('view');
  const had = document.activeElement;
  const key = had && view.contains(had) ? focusKey(had) : null;
  view.replaceChildren(el('h1', { text: title }), ...nodes.filter((n) => n !== null && n !== undefined && n !== false));
  document.title = title + ' · sluss';
  if (key) {
    const twin = [...view.querySelectorAll('a, button, input, select, [tabindex]')].find((e) => focusKey(e) === key);
    if (twin) twin.focus();
  }
}
function focusKey(e) {
  return e.getAttribute('data-key') || e.getAttribute('href') || e.id || null;
}
export function showError(e) {
  const title = e instanceof ApiError && e.status === 404 ? 'Not found' : 'Error';
  show(title, el('p', { class: 'error', role: 'alert', id: 'api-error', text: e.message }));
}

// Polls: the current page again in REFRESH_MS (no route has follow=1).
export function later(again) { session.timer = setTimeout(again, REFRESH_MS); }

export function table(columns, rows, attrs) {
  const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col', text: c })));
  const body = rows.map((cells) => el('tr', {}, ...cells.map((c, i) => {
    const td = el('td', { 'data-label': columns[i] });
    td.append(typeof c === 'string' ? document.createTextNode(c) : c);
    return td;
  })));
  return el('table', Object.assign({ class: 'stack' }, attrs || {}), el('thead', {}, head), el('tbody', {}, ...body));
}
export function list(pairs) {
  const dl = el('dl');
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', {}, v));
  return dl;
}
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
export const hours = (h) => (h === null || h === undefined ? '—' : Number(h).toFixed(2) + ' h');

// A button that runs `action` (an API call), says it failed in `status`,
// and otherwise calls `done` (usually: show the page again).
export function actionButton(label, action, done, attrs) {
  const status = el('span', { class: 'error', role: 'status' });
  const b = el('button', Object.assign({ type: 'button', text: label }, attrs || {}));
  // Busy, not disabled: a disabled button loses the keyboard's focus.
  let busy = false;
  b.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    b.setAttribute('aria-busy', 'true');
    status.textContent = '';
    try {
      await action();
      await done();
    } catch (e) {
      if (e instanceof Stale) return;
      status.textContent = e.message;
    } finally {
      busy = false;
      b.removeAttribute('aria-busy');
    }
  });
  return el('span', { class: 'action' }, b, ' ', status);
}

export const isRole = (...roles) => session.me && roles.includes(session.me.role);
