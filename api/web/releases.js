// The airlock: a researcher's release requests and the checker's desk,
// over the documented /v1/releases routes. The page offers the moves that
// fit the signed-in role and the request's state; the API decides, and its
// refusal is shown in its own words next to the button.
'use strict';
import { ApiError, actionButton, api, bytes, el, isRole, link, list, post, session, show, table, text,
         when } from './core.js';
import { fileUrl, preview } from './preview.js';

const OPEN = ['pending', 'submitted', 'partially_reviewed', 'reviewed', 'approved', 'returned'];
const UNDER_REVIEW = ['submitted', 'partially_reviewed', 'reviewed', 'approved'];
const releaseLink = (r) => link('#/releases/' + r.id, 'Request ' + r.id);
const words = (s) => text(s).replace(/_/g, ' ');
const stateOf = (s) => el('span', { class: 'state state-' + ({ released: 'succeeded', rejected: 'failed', withdrawn: 'cancelled',
  returned: 'failed', approved: 'succeeded' }[s] || 'pending'), text: words(s) });

// The checks' verdict and each finding, naming its column and line.
export function findings(verdict, checks) {
  const cls = verdict === 'pass' ? 'state-succeeded' : verdict === 'fail' ? 'state-failed' : 'state-pending';
  return el('div', { class: 'checks' }, el('span', { class: 'state ' + cls, text: text(verdict) }),
    ...((checks && checks.findings) || []).map((f) => el('div', { class: 'finding', text: `${f.outcome}: ${f.message}` +
      (f.column || f.first_line ? ' (' + [f.column ? 'column ' + f.column : '', f.first_line ? 'line ' + f.first_line : '',
        f.cells ? f.cells + ' cell' + (f.cells === 1 ? '' : 's') : ''].filter(Boolean).join(', ') + ')' : '') })));
}

// Requests of the projects I may see. For a checker, first those waiting
// for their review (not their own, not yet reviewed by them).
export async function releasesPage() {
  const { releases } = await api('/v1/releases');
  const me = session.me.user;
  const rows = (rs) => rs.map((r) => [releaseLink(r), text(r.project), text(r.author), stateOf(r.state),
    String(r.files.length), when(r.updated_at)]);
  const cols = ['Request', 'Project', 'Author', 'State', 'Files', 'Updated'];
  const tableOf = (rs, id, none) => (rs.length ? table(cols, rows(rs), { id: id }) : el('p', { class: 'muted', id: id, text: none }));
  if (isRole('checker')) {
    const mine = (r) => r.author === me;
    const waiting = releases.filter((r) => !mine(r) && ['submitted', 'partially_reviewed', 'reviewed'].includes(r.state) &&
                                          !(r.reviews || []).includes(me));
    const decide = releases.filter((r) => !mine(r) && !waiting.includes(r) && ['reviewed', 'approved'].includes(r.state));
    const rest = releases.filter((r) => !waiting.includes(r) && !decide.includes(r));
    show('Checker\'s desk',
      el('h2', { text: 'Waiting for your review (' + waiting.length + ')' }),
      tableOf(waiting, 'waiting', 'Nothing waits for your review.'),
      el('h2', { text: 'Reviewed, to decide (' + decide.length + ')' }),
      tableOf(decide, 'to-decide', 'Nothing to decide.'),
      el('h2', { text: 'Other requests' }),
      tableOf(rest, 'other-requests', 'No other requests.'));
    return;
  }
  show('Release requests',
    isRole('researcher') ? el('p', { class: 'muted', text: 'Start a request from a job\'s outputs: open the job, then ' +
                                                       '"Request release" next to a releasable file.' }) : null,
    tableOf(releases, 'releases', 'No release requests.'));
}

// #/releases/new?job=J&path=P: add a job's output to my open request in
// its project, or start one with it.
export async function newReleasePage(params) {
  const job = Number(params.get('job'));
  const path = params.get('path') || '';
  const j = await api('/v1/jobs/' + encodeURIComponent(job));
  const outs = (await api('/v1/runs/' + j.run_id + '/outputs')).jobs.find((o) => o.job === j.id);
  const out = ((outs && outs.outputs) || []).find((o) => o.path === path);
  if (!out) throw new ApiError(404, 'not_found', `job ${job} has no output ${JSON.stringify(path)}`);
  const { releases } = await api('/v1/releases?project=' + encodeURIComponent(j.project));
  const open = releases.find((r) => r.author === session.me.user && (r.state === 'pending' || r.state === 'returned'));
  const blocked = releases.find((r) => r.author === session.me.user && OPEN.includes(r.state) && r !== open);
  const field = (id, label, help, area) => el('div', { class: 'field' },
    el('label', { for: id, text: label }), help ? el('p', { class: 'muted help', id: id + '-help', text: help }) : null,
    el(area ? 'textarea' : 'input', { id: id, name: id, rows: area ? 3 : null, 'aria-describedby': help ? id + '-help' : null }));
  const status = el('p', { class: 'error', role: 'alert', id: 'new-release-error' });
  const form = el('form', { id: 'new-release' },
    open ? null : field('request-context', 'What is this request for?', 'For the checkers: the paper, table or figure.', true),
    field('file-context', 'What this file is', 'Context the checkers read next to the file.', true),
    field('file-controls', 'Disclosure controls applied', 'Suppression, rounding, grouping…', true),
    out.checks && out.checks.outcome === 'fail'
      ? field('file-exception', 'Why it should leave although the checks fail it', 'A failing file needs a written exception.', true)
      : null,
    el('button', { type: 'submit', text: open ? 'Add to request ' + open.id : 'Start a request with this file' }), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.textContent = '';
    const v = (id) => (form.elements[id] ? form.elements[id].value.trim() : '');
    try {
      const r = open || await post('/v1/releases', { project: j.project, context: v('request-context') });
      const body = { job: j.id, path: path, context: v('file-context'), controls: v('file-controls') };
      if (v('file-exception')) body.exception = v('file-exception');
      await post('/v1/releases/' + r.id + '/files', body);
      location.hash = '#/releases/' + r.id;
    } catch (e) {
      if (e instanceof ApiError) status.textContent = e.message;
    }
  });
  show('Request the release of ' + path,
    list([['Job', link('#/jobs/' + j.id, j.id + ': ' + j.action)], ['Project', text(j.project)],
          ['Size', bytes(out.size)], ['Checks', out.checks ? findings(out.checks.outcome, out.checks) : text(null)],
          ['Request', open ? releaseLink(open) : blocked ? releaseLink(blocked) : 'a new one']]),
    blocked && !open ? el('p', { class: 'muted', text: 'Request ' + blocked.id + ' is ' + words(blocked.state) +
                                                  '; the API allows one open request per project.' }) : null,
    form);
}

// A request, as the API shows it to me; the moves my role may make in its
// state. Checkers see each file's preview, vote on it, and submit.
export async function releasePage(id, again) {
  const r = await api('/v1/releases/' + encodeURIComponent(id));
  const me = session.me.user;
  const author = r.author === me && isRole('researcher');
  const checker = isRole('checker') && r.author !== me;
  const authorsTurn = author && (r.state === 'pending' || r.state === 'returned');
  const reviewing = checker && UNDER_REVIEW.includes(r.state);
  const base = '/v1/releases/' + r.id;
  const move = (name, body) => () => post(base + '/' + name, body);
  const commentOn = (path) => (r.comments || []).filter((c) => c.path === path);
  const comment = (c) => el('li', {}, el('strong', { text: text(c.author) }), ' (' + words(c.kind) + ', ' + when(c.at) + '): ',
    el('span', { class: 'comment-text', text: text(c.text) }));

  const fileSection = (f, i) => {
    const votes = (f.votes || []).map((v) => el('li', {}, el('strong', { text: text(v.checker) }), ': ' + words(v.vote) +
      (v.comment ? ' — ' : ''), v.comment ? el('span', { class: 'comment-text', text: v.comment }) : null));
    const mineVote = (f.votes || []).find((v) => v.checker === me);
    const box = reviewing ? el('div', { class: 'preview', 'data-release': String(r.id), id: 'preview-' + i },
      el('p', { class: 'muted', text: 'Loading the preview…' })) : null;
    const note = el('textarea', { id: 'comment-' + i, rows: 2, 'data-key': 'comment-' + f.path });
    const vote = (kind, label) => actionButton(label, () => post(base + '/votes', { path: f.path, vote: kind, comment: note.value.trim() }),
      again, { 'data-key': kind + '-' + f.path, 'aria-label': label + ': ' + f.path });
    const g = (r.groups || {})[f.group] || {};
    return el('section', { class: 'release-file', 'aria-labelledby': 'file-' + i, 'data-path': f.path },
      el('h3', { id: 'file-' + i }, el('code', { text: f.path })),
      list([['Job', link('#/jobs/' + f.job, String(f.job))], ['Size', bytes(f.size)],
            ['SHA-256', el('code', { class: 'hash', text: text(f.sha256).slice(0, 16) })],
            ['Checks', findings(f.verdict, f.checks)],
            ['Context', text(g.context)], ['Controls', text(g.controls)],
            f.exception ? ['Exception', text(f.exception)] : null].filter(Boolean)),
      votes.length ? el('ul', { class: 'votes', 'aria-label': 'Votes on ' + f.path }, ...votes) : null,
      commentOn(f.path).length ? el('ul', { class: 'comments' }, ...commentOn(f.path).map(comment)) : null,
      box,
      reviewing ? el('div', { class: 'vote' },
        el('label', { for: 'comment-' + i, text: 'Your comment on ' + f.path + (mineVote ? ' (you voted: ' + words(mineVote.vote) + ')' : '') }),
        note, vote('approve', 'Approve'), vote('request_changes', 'Request changes')) : null,
      authorsTurn ? actionButton('Remove', () => api(fileUrl(r.id, f.path), 'json', 'DELETE'), again,
                                 { 'data-key': 'remove-' + f.path, 'aria-label': 'Remove ' + f.path }) : null,
      r.state === 'released'
        ? actionButton('Download', () => download(r.id, f.path), async () => {}, { 'data-key': 'download-' + f.path,
                                                                                   'aria-label': 'Download ' + f.path })
        : null);
  };

  const noted = (id, label) => {
    const t = el('textarea', { id: id, rows: 2 });
    return [el('label', { for: id, text: label }), t];
  };
  const [returnLabel, returnNote] = noted('decision-comment', 'Comment to the author (returning and rejecting need one)');
  const decision = (label, name, attrs) => actionButton(label, () => post(base + '/' + name, { comment: returnNote.value.trim() }),
    again, attrs);
  const general = (r.comments || []).filter((c) => !c.path);
  show('Release request ' + r.id,
    list([['Project', text(r.project)], ['Author', text(r.author)], ['State', stateOf(r.state)],
          ['Reviews in', r.reviews && r.reviews.length ? r.reviews.join(', ') : '—'],
          ['Created', when(r.created_at)], ['Updated', when(r.updated_at)]]),
    author && UNDER_REVIEW.includes(r.state) && r.state !== 'approved'
      ? el('p', { class: 'muted', id: 'author-note', text: 'Two checkers other than you review it; their votes and comments ' +
                                                          'show here once it is returned or decided.' }) : null,
    author && r.state === 'pending' && !r.files.length
      ? el('p', { class: 'muted', text: 'Add files from a job\'s outputs ("Request release" on the job\'s page).' }) : null,
    el('div', { class: 'moves' },
      authorsTurn ? actionButton(r.state === 'returned' ? 'Resubmit' : 'Submit for review', move('submit'), again, { id: 'submit' }) : null,
      author && OPEN.includes(r.state) && r.state !== 'approved' ? actionButton('Withdraw', move('withdraw'), again, { id: 'withdraw' }) : null),
    general.length ? el('h2', { text: 'Comments' }) : null,
    general.length ? el('ul', { class: 'comments', id: 'comments' }, ...general.map(comment)) : null,
    el('h2', { text: 'Files (' + r.files.length + ')' }),
    ...r.files.map(fileSection),
    reviewing ? el('h2', { text: 'Your review' }) : null,
    reviewing ? el('div', { class: 'moves' },
      !(r.reviews || []).includes(me) ? actionButton('Submit my review', move('review'), again, { id: 'submit-review' }) : null,
      el('div', { class: 'field' }, returnLabel, returnNote),
      r.state !== 'approved' ? decision('Return to the author', 'return', { id: 'return' }) : null,
      r.state === 'reviewed' ? decision('Reject', 'reject', { id: 'reject' }) : null,
      ['reviewed', 'approved'].includes(r.state)
        ? actionButton('Release', async () => {
          if (r.state === 'reviewed') await post(base + '/approve');
          await post(base + '/release');
        }, again, { id: 'release' }) : null) : null,
    el('h2', { text: 'History' }),
    table(['When', 'State', 'Who'], (r.history || []).map((h) => [when(h.at), words(h.state), text(h.by)]), { id: 'history' }));
  // The previews, one by one after the page is shown.
  if (reviewing) {
    r.files.forEach((f, i) => {
      const box = document.getElementById('preview-' + i);
      if (box) preview(box, r.id, f).catch((e) => {
        if (e instanceof ApiError && box.isConnected) box.replaceChildren(el('p', { class: 'error', text: e.message }));
      });
    });
  }
}

// A released file, saved through the browser as its own name. The bytes
// come with the bearer header; the link is a blob: URL made here and
// dropped at once.
async function download(id, path) {
  const resp = await api(fileUrl(id, path), 'response');
  const blob = await resp.blob();
  const a = el('a', { href: URL.createObjectURL(blob), download: path.split('/').pop() });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
