// Runs: my runs with filters, a run with its DAG drawn, a job.
'use strict';
import { ApiError, KEY, Stale, api, bytes, el, isRole, later, link, list, live, post, actionButton, session, show, state,
         stateName, svg, table, text, when } from './core.js';

const RUN_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

// The filters live in the hash (#/runs?state=failed&project=p1&branch=main),
// so a filtered list is a link to share and survives a reload.
export async function runsPage(params, again) {
  const q = new URLSearchParams({ limit: '50' });
  for (const k of ['state', 'project', 'branch']) if (params.get(k)) q.set(k, params.get(k));
  const projects = isRole('researcher', 'checker') ? session.me.projects
    : (await api('/v1/projects')).projects.map((p) => p.name);
  const data = await api('/v1/runs?' + q.toString());
  const rows = data.runs.map((r) => [link('#/runs/' + r.id, r.id), link('#/projects/' + encodeURIComponent(r.project), r.project),
    state(r.state), el('code', { text: text(r.commit).slice(0, 12) }), text(branchOf(r.ref)), text(r.submitted_by),
    when(r.created_at)]);
  const filtered = ['state', 'project', 'branch'].some((k) => params.get(k));
  show('My runs', filters(params, projects),
    rows.length ? table(['Run', 'Project', 'State', 'Commit', 'Branch', 'Who', 'When'], rows, { id: 'runs' })
                : el('p', { class: 'muted', id: 'no-runs', text: filtered ? 'No runs match these filters.' : 'No runs yet.' }));
  if (data.runs.some((r) => live(r.state))) later(again);
}

const branchOf = (ref) => (ref && ref.startsWith('refs/heads/') ? ref.slice(11) : ref);

function filters(params, projects) {
  const select = (id, label, options) => [
    el('label', { for: id, text: label }),
    el('select', { id: id, name: id },
      el('option', { value: '', text: 'any' }),
      ...options.map((o) => el('option', { value: o, text: o, selected: params.get(id) === o })))];
  const form = el('form', { id: 'filters', class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    el('div', {}, ...select('state', 'State', RUN_STATES)),
    el('div', {}, ...select('project', 'Project', projects)),
    el('div', {}, el('label', { for: 'branch', text: 'Branch' }),
      el('input', { id: 'branch', name: 'branch', type: 'text', value: params.get('branch') || '',
                    placeholder: 'main', autocomplete: 'off', spellcheck: 'false' })),
    el('div', {}, el('button', { type: 'submit', text: 'Filter' })));
  const apply = () => {
    const q = new URLSearchParams();
    for (const k of ['state', 'project', 'branch']) {
      const v = form.elements[k].value.trim();
      if (v) q.set(k, v);
    }
    location.hash = '#/runs' + (q.toString() ? '?' + q.toString() : '');
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); });
  for (const k of ['state', 'project']) form.elements[k].addEventListener('change', apply);
  return form;
}

export async function runPage(id, again) {
  const r = await api('/v1/runs/' + encodeURIComponent(id));
  const rows = r.jobs.map((j) => [link('#/jobs/' + j.id, j.action), state(j.state), text(j.status_code),
    text(j.reason), text((j.needs || []).map((n) => actionOf(r.jobs, n)).join(', '))]);
  const mayCancel = live(r.state) && isRole('researcher', 'admin');
  show('Run ' + r.id,
    list([['Project', link('#/projects/' + encodeURIComponent(r.project), r.project)], ['State', state(r.state)],
          ['Commit', el('code', { text: text(r.commit) })], ['Ref', text(r.ref)], ['Who', text(r.submitted_by)],
          ['When', when(r.created_at)]]),
    mayCancel ? actionButton('Cancel the run', () => post('/v1/runs/' + r.id + '/cancel'), again, { id: 'cancel-run' }) : null,
    r.jobs.length ? el('h2', { text: 'Pipeline' }) : null,
    r.jobs.length ? dag(r.jobs) : null,
    el('h2', { text: 'Jobs' }),
    table(['Job', 'State', 'Status', 'Reason', 'Needs'], rows, { id: 'jobs' }),
    ...(r.errors && r.errors.length ? [el('h2', { text: 'Errors' }), el('pre', { text: r.errors.join('\n') })] : []));
  if (live(r.state)) later(again);
}

const actionOf = (jobs, id) => (jobs.find((j) => j.id === id) || { action: '#' + id }).action;

// The run's DAG as SVG: a column per depth (the longest chain of needs
// before the job), a box per job with its action, state and reason, an
// arrow from each need. Each box is a link to the job; colour is never the
// only sign, the state is written in the box.
export function dag(jobs) {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const depth = new Map();
  const depthOf = (j, seen) => {
    if (depth.has(j.id)) return depth.get(j.id);
    if (seen.has(j.id)) return 0;  // a cycle cannot be stored; stay finite anyway
    seen.add(j.id);
    let d = 0;
    for (const n of j.needs || []) if (byId.has(n)) d = Math.max(d, depthOf(byId.get(n), seen) + 1);
    depth.set(j.id, d);
    return d;
  };
  const columns = [];
  for (const j of jobs) {
    const d = depthOf(j, new Set());
    (columns[d] = columns[d] || []).push(j);
  }
  const W = 210, H = 70, GX = 56, GY = 18, PAD = 8;
  const at = new Map();
  columns.forEach((col, c) => col.forEach((j, r) => at.set(j.id, { x: PAD + c * (W + GX), y: PAD + r * (H + GY) })));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const edges = svg('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const j of jobs) {
    for (const n of j.needs || []) {
      const a = at.get(n), b = at.get(j.id);
      if (!a) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 6, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      edges.append(svg('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)',
                                 class: 'edge edge-' + stateName(byId.get(n).state) }));
    }
  }
  const nodes = jobs.map((j) => {
    const p = at.get(j.id);
    const reason = j.reason || j.status_code || '';
    const short = reason.length > 30 ? reason.slice(0, 29) + '…' : reason;
    return svg('a', { href: '#/jobs/' + j.id, class: 'node node-' + stateName(j.state), 'data-job': j.action,
                      'aria-label': `${j.action}: ${j.state}${reason ? ', ' + reason : ''}` },
      svg('title', { text: `${j.action}: ${j.state}${reason ? ' — ' + reason : ''}` }),
      svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6 }),
      svg('text', { x: p.x + 10, y: p.y + 22, class: 'node-action', text: clip(j.action, 24) }),
      svg('text', { x: p.x + 10, y: p.y + 42, class: 'node-state', text: j.state + (j.attempt > 1 ? ' (attempt ' + j.attempt + ')' : '') }),
      svg('text', { x: p.x + 10, y: p.y + 60, class: 'node-reason', text: short }));
  });
  const defs = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7,
                                               markerHeight: 7, orient: 'auto-start-reverse' },
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })));
  const drawing = svg('svg', { id: 'dag', width: width, height: height, viewBox: `0 0 ${width} ${height}`,
                               role: 'group', 'aria-label': 'The run\'s jobs and what each needs' },
    defs, edges, ...nodes);
  return el('div', { class: 'dag', tabindex: '0', 'aria-label': 'Pipeline drawing, scrolls sideways' }, drawing);
}
const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

// The last TAIL_BYTES of a job's log: its size first (X-Sluss-Log-Size),
// then the end, both from the documented logs route.
const TAIL_BYTES = 65536;
async function logTail(q, stream) {
  const base = '/v1/jobs/' + q + '/logs?stream=' + stream + '&limit=' + TAIL_BYTES;
  const asked = session.generation;
  const first = await api(base, 'response');
  const size = Number(first.headers.get('X-Sluss-Log-Size') || 0);
  // X-Sluss-Log-Withheld: the API gives this person the log's last lines,
  // not the log itself, and follow=1 gives them no stream: poll instead.
  const tailOnly = first.headers.has('X-Sluss-Log-Withheld');
  const body = size <= TAIL_BYTES ? await first.text()
                                  : await (await api(base + '&offset=' + (size - TAIL_BYTES), 'response')).text();
  if (asked !== session.generation) throw new Stale();
  return { text: body, size: size, tailOnly: tailOnly };
}

const TAIL_LINES = 200;
const tail = (s) => s.split('\n').slice(-TAIL_LINES).join('\n');

// A running job's stdout as it grows: the logs route with follow=1 is one
// long answer that ends when the attempt ends; then the page is shown again
// (after the usual 2 s, so that an answer that ends at once cannot make a
// loop of requests) with the job's final state. Another page, or a
// sign-out, aborts it.
async function follow(q, offset, pre, again) {
  const asked = session.generation;
  const stop = new AbortController();
  session.streams.push(stop);
  try {
    const r = await fetch('/v1/jobs/' + q + '/logs?stream=stdout&follow=1&offset=' + offset,
      { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) }, cache: 'no-store', credentials: 'omit',
        signal: stop.signal });
    if (!r.ok || !r.body || r.headers.has('X-Sluss-Log-Withheld')) throw new Error('not followed');
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (asked !== session.generation) return;
      if (done) break;
      pre.textContent = tail(pre.textContent + decoder.decode(value, { stream: true }));
      pre.scrollTop = pre.scrollHeight;
    }
  } catch (_) {
    // Aborted by another page (a new generation), or the stream failed:
    // then poll, as for a pending job.
    if (asked === session.generation) later(again);
    return;
  }
  if (asked === session.generation) later(again);
}

// The checks' outcome (pass, review, fail) and each finding in words.
function verdict(checks) {
  if (!checks) return el('span', { class: 'muted', text: 'not checked (sensitive)' });
  if (checks.error) return el('span', { class: 'error', text: checks.error });
  const cls = checks.outcome === 'pass' ? 'state-succeeded' : checks.outcome === 'fail' ? 'state-failed' : 'state-pending';
  return el('div', { class: 'checks' }, el('span', { class: 'state ' + cls, text: text(checks.outcome) }),
    ...(checks.findings || []).map((f) => el('div', { class: 'finding', text: `${f.outcome}: ${f.message}` +
      (f.column ? ` (column ${f.column}` + (f.cells ? `, ${f.cells} cell${f.cells === 1 ? '' : 's'}` : '') + ')' : '') })));
}

export async function jobPage(id, again) {
  const q = encodeURIComponent(id);
  const [j, ev] = await Promise.all([api('/v1/jobs/' + q), api('/v1/jobs/' + q + '/events')]);
  // Outputs as metadata, with the automatic disclosure checks' verdicts
  // for releasable files: the run's outputs route, never the contents.
  const outs = j.state === 'succeeded' ? (await api('/v1/runs/' + j.run_id + '/outputs')).jobs.find((o) => o.job === j.id) : null;
  // The log as the API allows this person: a refusal is said in its place,
  // the rest of the page still shown.
  const permitted = (stream) => logTail(q, stream).catch((e) => {
    if (e instanceof ApiError) return { text: '', size: 0, refused: e.message };
    throw e;
  });
  const log = await permitted('stdout');
  const err = await permitted('stderr');
  const stdout = el('pre', { id: 'log-stdout', tabindex: '0', 'aria-label': 'standard output, last lines', text: tail(log.text) });
  const asked = (j.spec && j.spec.resources) || {};
  const given = j.placed || {};
  const used = j.result || {};
  const res = (label, r) => [label, r.milli_cpus ? String(r.milli_cpus / 1000) : '—', bytes(r.memory_bytes),
    r.time_limit_s ? r.time_limit_s + ' s' : '—', r.gpus ? String(Array.isArray(r.gpus) ? r.gpus.length : r.gpus) : '—'];
  // A researcher starts a release request (or adds to theirs) from here.
  const mayRequest = isRole('researcher');
  const outputs = ((outs && outs.outputs) || []).map((o) => [el('code', { text: o.path }), text(o.level), bytes(o.size),
    el('code', { class: 'hash', text: text(o.sha256).slice(0, 16) }), verdict(o.checks),
    mayRequest && o.level === 'releasable'
      ? el('a', { href: '#/releases/new?' + new URLSearchParams({ job: j.id, path: o.path }).toString(),
                  'aria-label': 'Request release of ' + o.path, text: 'Request release' }) : '']);
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
    outputs.length ? el('h2', { text: 'Outputs' }) : null,
    outputs.length ? table(['Path', 'Level', 'Size', 'SHA-256', 'Checks', ''], outputs, { id: 'outputs' }) : null,
    outs && outs.made_by_job ? el('p', { class: 'muted', text: 'Cached: made by job ' + outs.made_by_job + '.' }) : null,
    el('h2', { text: j.state === 'running' ? 'Log tail (stdout, live)' : 'Log tail (stdout)' }),
    log.refused ? el('p', { class: 'error', id: 'log-refused', text: log.refused }) : stdout,
    el('h2', { text: 'Log tail (stderr)' }),
    err.refused ? el('p', { class: 'error', text: err.refused })
                : el('pre', { id: 'log-stderr', tabindex: '0', 'aria-label': 'standard error, last lines', text: tail(err.text) }));
  if (j.state === 'running' && !log.refused && !log.tailOnly) follow(q, log.size, stdout, again);
  else if (live(j.state)) later(again);
}
