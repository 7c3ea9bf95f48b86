// sluss's web page: a thin view over the documented /v1 routes. The token
// lives in this tab's sessionStorage and is sent as a bearer header; there
// are no cookies, so no cross-site request can act. This file signs in and
// out and picks the page from the hash.
'use strict';
import { KEY, Stale, api, el, session, showError } from './core.js';
import { jobPage, runPage, runsPage } from './runs.js';
import { auditPage, dataPage, projectPage, projectsPage, queuePage } from './manage.js';
import { newReleasePage, releasePage, releasesPage } from './releases.js';

// The pages in the header, and who sees each. The API decides what anyone
// may do; this only keeps the header short.
const NAV = [
  ['#/runs', 'My runs', null],
  ['#/projects', 'Projects', null],
  ['#/releases', 'Releases', null],
  ['#/queue', 'Queue', ['admin']],
  ['#/data', 'Data', ['steward', 'admin']],
  ['#/audit', 'Audit', ['auditor', 'admin']],
];

function stopPage() {
  clearTimeout(session.timer);
  session.timer = null;
  session.generation++;
  for (const s of session.streams.splice(0)) s.abort();
}

async function route() {
  stopPage();
  if (!sessionStorage.getItem(KEY)) return signedOut();
  document.getElementById('signin').hidden = true;
  const [path, query] = (location.hash || '#/runs').split('?');
  const params = new URLSearchParams(query || '');
  let m;
  try {
    if (!session.me) await whoami();
    if ((m = path.match(/^#\/runs\/([^/]+)$/))) await runPage(decodeURIComponent(m[1]), route);
    else if ((m = path.match(/^#\/jobs\/([^/]+)$/))) await jobPage(decodeURIComponent(m[1]), route);
    else if ((m = path.match(/^#\/projects\/([^/]+)$/))) await projectPage(decodeURIComponent(m[1]), route);
    else if (path === '#/projects') await projectsPage();
    else if (path === '#/releases/new') await newReleasePage(params);
    else if ((m = path.match(/^#\/releases\/([^/]+)$/))) await releasePage(decodeURIComponent(m[1]), route);
    else if (path === '#/releases') await releasesPage();
    else if (path === '#/queue') await queuePage(route);
    else if (path === '#/data') await dataPage(route);
    else if (path === '#/audit') await auditPage(params, route);
    else await runsPage(params, route);
    markCurrent(path);
  } catch (e) {
    if (!(e instanceof Stale) && sessionStorage.getItem(KEY)) showError(e);
  }
}

function markCurrent(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (path.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function whoami() {
  const me = await api('/v1/whoami');
  session.me = me;
  const out = el('button', { type: 'button', id: 'signout', text: 'Sign out' });
  out.addEventListener('click', () => signOut(''));
  document.getElementById('who').replaceChildren(
    el('span', { id: 'who-user', text: me.user }), el('span', { id: 'who-role', class: 'muted', text: '(' + me.role + ')' }), out);
  document.getElementById('nav').replaceChildren(...NAV.filter(([, , roles]) => !roles || roles.includes(me.role))
    .map(([href, label]) => el('a', { href: href, text: href === '#/releases' && me.role === 'checker' ? 'Checker\'s desk' : label })));
}

function signOut(why) {
  sessionStorage.removeItem(KEY);
  stopPage();
  session.me = null;
  // The next person starts at their own runs, not at this one's last page.
  history.replaceState(null, '', location.pathname);
  document.getElementById('signin-error').textContent = why || '';
  signedOut();
}
session.onUnauthorized = signOut;

function signedOut() {
  clearTimeout(session.timer);
  document.getElementById('who').replaceChildren();
  document.getElementById('nav').replaceChildren();
  document.getElementById('view').replaceChildren();
  document.getElementById('signin').hidden = false;
  document.title = 'Sign in · sluss';
  document.getElementById('token').focus();
}

function start() {
  document.getElementById('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = document.getElementById('token');
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = '';
    document.getElementById('signin-error').textContent = '';
    route();
  });
  window.addEventListener('hashchange', () => { route(); document.getElementById('main').focus(); });
  // The skip link moves the focus only: its #main is not a route.
  document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    document.getElementById('main').focus();
  });
  route();
}
// A module runs after the document is parsed; start at once.
start();
