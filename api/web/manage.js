// Projects, the admin's queue, the stewards' data, the auditors' log.
'use strict';
import { actionButton, api, bytes, el, hours, isRole, later, link, list, post, show, state, svg, table, text,
         when } from './core.js';

const projectLink = (name) => link('#/projects/' + encodeURIComponent(name), name);

export async function projectsPage() {
  const data = await api('/v1/projects');
  show('Projects', data.projects.length
    ? table(['Project', 'Branches', 'Created'], data.projects.map((p) => [projectLink(p.name),
        text((p.branches || []).join(', ')), when(p.created_at)]), { id: 'projects' })
    : el('p', { class: 'muted', text: 'No projects you may see.' }));
}

// Members, quota, usage this month against the budget (a chart per day and
// the same numbers as a table), the permits that apply.
export async function projectPage(name, again) {
  const p = encodeURIComponent(name);
  const [project, members, usage, permits] = await Promise.all([
    api('/v1/projects/' + p), api('/v1/projects/' + p + '/members'), api('/v1/projects/' + p + '/usage?series=day'),
    api('/v1/permits?project=' + p)]);
  const quota = project.quota || {};
  const budget = quota.budget;
  const acc = usage.accounting;
  const max = quota.max || {};
  const limits = [['CPUs', text(max.cpus)], ['Memory', text(max.memory)], ['GPUs', text(max.gpus)],
    ['Disk', text(max.disk)], ['Running jobs', text(quota.max_running_jobs)], ['Queued jobs', text(quota.max_queued_jobs)],
    ['GPU budget', budget ? budget.gpu_hours + ' GPU h per ' + budget.period : 'none']];
  const paused = project.paused;
  const admin = isRole('admin');
  show('Project ' + project.name,
    list([['Description', text(project.description)], ['Branches', text((project.branches || []).join(', '))],
          ['State', paused ? el('span', { class: 'state state-failed', text: 'paused: ' + text(paused.reason) + ' (' + text(paused.by) + ')' })
                           : el('span', { class: 'state state-succeeded', text: 'active' })],
          ['Runs', link('#/runs?project=' + p, 'this project\'s runs')]]),
    admin ? (paused ? actionButton('Resume the project', () => post('/v1/projects/' + p + '/resume'), again, { id: 'project-resume' })
                    : actionButton('Pause the project', () => post('/v1/projects/' + p + '/pause', { reason: 'paused from the web page' }),
                                   again, { id: 'project-pause' })) : null,
    el('h2', { text: 'Members' }),
    members.members.length ? el('ul', { id: 'members' }, ...members.members.map((m) => el('li', { text: m })))
                           : el('p', { class: 'muted', text: 'No members.' }),
    el('h2', { text: 'Quota' }), list(limits),
    el('h2', { text: 'Usage this month' }),
    list([['Jobs now', Object.entries(usage.jobs).map(([k, v]) => k + ' ' + v).join(', ')],
          ['Ended this month', acc.totals.jobs + ' jobs, ' + hours(acc.totals.cpu_hours) + ' CPU, ' +
                               hours(acc.totals.gpu_hours) + ' GPU'],
          ['Disk', bytes(usage.disk.total_bytes) + (usage.disk.max_bytes ? ' of ' + bytes(usage.disk.max_bytes) : '')]]),
    usageChart(acc.series || [], budget),
    el('details', {}, el('summary', { text: 'Usage by day as a table' }),
      table(['Day', 'Jobs', 'CPU hours', 'GPU hours'], (acc.series || []).map((b) => [b.from.slice(0, 10), String(b.jobs),
        b.cpu_hours.toFixed(2), b.gpu_hours.toFixed(2)]), { id: 'usage-table' })),
    el('h2', { text: 'Permits' }),
    permitTable(permits.permits, again));
}

// Bars per day (CPU hours, GPU hours) and the GPU hours used so far this
// month as a line, against the budget as a dashed line. Axis labels and a
// legend in words; the table under it has the same numbers.
export function usageChart(series, budget) {
  const W = 720, H = 240, L = 48, B = 28, T = 12, R = 12;
  const n = Math.max(series.length, 1);
  let cum = 0;
  const cumulative = series.map((b) => (cum += b.gpu_hours));
  const budgetHours = budget && budget.period === 'month' ? budget.gpu_hours : null;
  const top = Math.max(1, ...series.map((b) => b.cpu_hours), ...cumulative, budgetHours || 0) * 1.1;
  const x = (i) => L + (i * (W - L - R)) / n;
  const y = (v) => H - B - (v * (H - B - T)) / top;
  const bw = Math.max(2, (W - L - R) / n / 2 - 1);
  const g = svg('g');
  for (const frac of [0, 0.5, 1]) {
    const v = top * frac;
    g.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
             svg('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end', text: v.toFixed(v < 10 ? 1 : 0) }));
  }
  series.forEach((b, i) => {
    if (b.cpu_hours > 0) g.append(svg('rect', { x: x(i), y: y(b.cpu_hours), width: bw, height: y(0) - y(b.cpu_hours), class: 'bar-cpu' }));
    if (b.gpu_hours > 0) g.append(svg('rect', { x: x(i) + bw, y: y(b.gpu_hours), width: bw, height: y(0) - y(b.gpu_hours), class: 'bar-gpu' }));
    if (i % 7 === 0) g.append(svg('text', { x: x(i), y: H - 8, class: 'axis', text: b.from.slice(5, 10) }));
  });
  // The line stops today: the days to come have used nothing yet.
  const past = series.filter((b) => Date.parse(b.from) <= Date.now()).length;
  if (past) {
    g.append(svg('polyline', { class: 'line-gpu',
                               points: cumulative.slice(0, past).map((v, i) => `${x(i) + bw},${y(v)}`).join(' ') }));
  }
  if (budgetHours !== null) {
    g.append(svg('line', { x1: L, x2: W - R, y1: y(budgetHours), y2: y(budgetHours), class: 'budget' }),
             svg('text', { x: W - R - 4, y: y(budgetHours) - 4, 'text-anchor': 'end', class: 'axis', text: 'budget ' + budgetHours + ' GPU h' }));
  }
  const used = cumulative.length ? cumulative[cumulative.length - 1] : 0;
  const label = 'Hours per day this month. GPU hours used so far: ' + used.toFixed(2) +
    (budgetHours !== null ? ' of a budget of ' + budgetHours : ' (no monthly budget)') + '.';
  return el('figure', { class: 'chart' },
    svg('svg', { id: 'usage-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, svg('title', { text: label }), g),
    el('figcaption', {},
      el('span', { class: 'key key-cpu' }), ' CPU hours per day ', el('span', { class: 'key key-gpu' }), ' GPU hours per day ',
      el('span', { class: 'key key-line' }), ' GPU hours so far', budgetHours !== null ? ' · dashed: the budget' : ''));
}

function permitTable(permits, again) {
  if (!permits.length) return el('p', { class: 'muted', id: 'no-permits', text: 'No permits.' });
  const steward = isRole('steward');
  return table(['Permit', 'Project', 'Datasets', 'Persons', 'Purpose', 'Valid', ''], permits.map((p) => [
    el('code', { text: p.id }), projectLink(p.project),
    p.datasets.map((d) => d.name + (d.version ? '@' + d.version : '')).join(', '),
    text((p.persons || []).join(', ')), text(p.purpose),
    p.valid ? el('span', { class: 'state state-succeeded', text: 'valid until ' + p.valid_until.slice(0, 10) })
            : el('span', { class: 'state state-failed', text: text(p.why_invalid || (p.revoked_at ? 'revoked' : 'not valid')) }),
    steward && !p.revoked_at ? actionButton('Revoke', () => post('/v1/permits/' + encodeURIComponent(p.id) + '/revoke',
                                                                 { reason: 'revoked from the web page' }), again,
                                            { 'data-key': 'revoke-' + p.id, 'aria-label': 'Revoke permit ' + p.id })
                             : '']), { id: 'permits' });
}

// The admin's queue: paused or not, the nodes with their load, the pending
// jobs with their reasons; live.
export async function queuePage(again) {
  const [queue, nodes, jobs] = await Promise.all([api('/v1/queue'), api('/v1/nodes'), api('/v1/jobs')]);
  const running = jobs.jobs.filter((j) => j.state === 'running');
  const pending = jobs.jobs.filter((j) => j.state === 'pending');
  const load = (n) => {
    const mine = running.filter((j) => j.node === n.name);
    const cpus = mine.reduce((s, j) => s + ((j.placed && j.placed.milli_cpus) || 0), 0) / 1000;
    const mem = mine.reduce((s, j) => s + ((j.placed && j.placed.memory_bytes) || 0), 0);
    const gpus = mine.reduce((s, j) => s + ((j.placed && j.placed.gpus) || []).length, 0);
    return [el('strong', { text: n.name }), state(n.state), String(mine.length),
      cpus + ' of ' + n.cpus, bytes(mem) + ' of ' + n.memory, gpus + ' of ' + n.gpus.length,
      n.state === 'drained' ? actionButton('Resume', () => post('/v1/nodes/' + encodeURIComponent(n.name) + '/resume'), again,
                                           { 'data-key': 'node-' + n.name, 'aria-label': 'Resume node ' + n.name })
                            : actionButton('Drain', () => post('/v1/nodes/' + encodeURIComponent(n.name) + '/drain',
                                                               { reason: 'drained from the web page' }), again,
                                           { 'data-key': 'node-' + n.name, 'aria-label': 'Drain node ' + n.name })];
  };
  show('Queue',
    list([['Queue', queue.paused ? el('span', { id: 'queue-state', class: 'state state-failed', text: 'paused' + (queue.reason ? ': ' + queue.reason : '') })
                                 : el('span', { id: 'queue-state', class: 'state state-succeeded', text: 'running' })]]),
    queue.paused ? actionButton('Resume the queue', () => post('/v1/queue/resume'), again, { id: 'queue-toggle', 'data-key': 'queue-toggle' })
                 : actionButton('Pause the queue', () => post('/v1/queue/pause', { reason: 'paused from the web page' }), again,
                                { id: 'queue-toggle', 'data-key': 'queue-toggle' }),
    el('h2', { text: 'Nodes' }),
    table(['Node', 'State', 'Jobs', 'CPUs', 'Memory', 'GPUs', ''], nodes.nodes.map(load), { id: 'nodes' }),
    el('h2', { text: 'Pending jobs (' + pending.length + ')' }),
    pending.length ? table(['Job', 'Project', 'Run', 'Waiting since', 'Reason'], pending.map((j) => [
      link('#/jobs/' + j.id, j.action), projectLink(j.project), link('#/runs/' + j.run_id, j.run_id), when(j.created_at),
      text(j.reason || j.status_code)]), { id: 'pending' }) : el('p', { class: 'muted', id: 'no-pending', text: 'Nothing waits.' }),
    el('h2', { text: 'Running jobs (' + running.length + ')' }),
    running.length ? table(['Job', 'Project', 'Node', 'Since'], running.map((j) => [link('#/jobs/' + j.id, j.action),
      projectLink(j.project), text(j.node), when(j.started_at)]), { id: 'running' }) : el('p', { class: 'muted', text: 'Nothing runs.' }));
  later(again);
}

// Stewards: dataset versions (hashing progress, verify: a full re-hash
// whose outcome shows in Verified or the error) and every permit.
export async function dataPage(again) {
  const [datasets, permits] = await Promise.all([api('/v1/datasets').catch(unavailable), api('/v1/permits')]);
  const mayVerify = isRole('steward', 'admin');
  show('Data',
    el('h2', { text: 'Datasets' }),
    datasets === null ? el('p', { class: 'muted', text: 'Dataset registration is not set up on this server.' })
      : datasets.datasets.length ? table(['Dataset', 'Version', 'State', 'Files', 'Size', 'Id', 'Verified', ''],
          datasets.datasets.map((d) => [el('strong', { text: d.name }), d.version, state(d.state),
            String(d.files), d.state === 'hashing' ? bytes(d.hashed_bytes) + ' of ' + bytes(d.bytes) : bytes(d.bytes),
            el('code', { class: 'hash', text: text(d.id).slice(0, 19) }), d.error ? el('span', { class: 'error', text: d.error }) : when(d.verified_at),
            mayVerify && d.state === 'ready' ? actionButton('Verify', () => post('/v1/datasets/' + encodeURIComponent(d.name) + '/' +
                                                                                  encodeURIComponent(d.version) + '/verify'), again,
                                                            { 'data-key': 'verify-' + d.name + '@' + d.version,
                                                              'aria-label': 'Verify ' + d.name + ' ' + d.version }) : '']),
          { id: 'datasets' })
      : el('p', { class: 'muted', text: 'No datasets registered.' }),
    el('h2', { text: 'Permits' }),
    permitTable(permits.permits, again));
  // Live: hashing progresses, and a verification started here ends later.
  later(again);
}
function unavailable(e) { if (e.status === 503) return null; throw e; }

// Auditors: the log, a page at a time from the newest, and `verify`.
export async function auditPage(params, again) {
  const PAGE = 50;
  const size = await api('/v1/audit/checkpoints');
  // Without ?after=, the newest page: the log's size comes with any page.
  let after = Number(params.get('after'));
  if (!params.has('after') || !(after >= 0)) after = Math.max(0, (await api('/v1/audit?limit=1')).size - PAGE);
  const first = await api('/v1/audit?after=' + after + '&limit=' + PAGE);
  const records = first.records;
  const verifyOut = el('div', { id: 'verify-result', role: 'status' });
  const verify = el('button', { type: 'button', id: 'verify', text: 'Verify the log' });
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    verifyOut.replaceChildren(el('p', { class: 'muted', text: 'Verifying…' }));
    try {
      const v = await api('/v1/audit/verify');
      verifyOut.replaceChildren(v.ok
        ? el('p', { class: 'state state-succeeded', text: `Intact: ${v.records} records, ${v.checkpoints} signed checkpoints` +
                                                          (v.purged_payloads ? `, ${v.purged_payloads} payloads purged` : '') + '.' })
        : el('p', { class: 'state state-failed', text: `Broken at record ${v.bad_seq}: ${v.problem}` }));
    } catch (e) {
      verifyOut.replaceChildren(el('p', { class: 'error', text: e.message }));
    }
    verify.disabled = false;
  });
  const nav = el('p', { class: 'pager' },
    after > 0 ? link('#/audit?after=' + Math.max(0, after - PAGE), 'Earlier records') : null, ' ',
    first.next_after && records.length === PAGE ? link('#/audit?after=' + first.next_after, 'Later records') : null);
  show('Audit log',
    el('p', {}, verify), verifyOut,
    el('p', { class: 'muted', text: `${size.checkpoints.length} signed checkpoints` + (size.key_id ? ', key ' + size.key_id : '') +
                                    '. Reading the log is itself recorded.' }),
    records.length ? table(['#', 'When', 'Who', 'Action', 'Subject', 'Details'], records.map((r) => [String(r.seq), when(r.time),
      text(r.actor), el('code', { text: r.action }), text(r.subject),
      r.payload === null ? el('span', { class: 'muted', text: 'purged' }) : el('code', { class: 'payload', text: r.payload })]), { id: 'audit' })
      : el('p', { class: 'muted', text: 'No records here.' }),
    nav);
  void again;
}
