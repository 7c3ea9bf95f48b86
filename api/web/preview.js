// The checker's preview of a file under review: its frozen bytes from the
// release route (a bearer header, so no <img src> or link can fetch them),
// read up to a bound, shown as a table (CSV/TSV), an image (PNG/SVG, as a
// data: URL in an <img>, where an SVG's scripts never run) or text (txt,
// md, json, and a job's full log added to the request). Every
// cell is text (textContent), never HTML.
'use strict';
import { Stale, api, el, session } from './core.js';

const TABLE_BYTES = 256 * 1024;  // a table's first 256 KiB...
const MAX_ROWS = 200;            // ...its first 200 rows...
const MAX_COLUMNS = 50;          // ...and 50 columns...
const MAX_CELL = 200;            // ...each cell cut at 200 characters
const IMAGE_BYTES = 8 * 1024 * 1024;
const TEXT_BYTES = 64 * 1024;
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export const fileUrl = (id, path) => '/v1/releases/' + encodeURIComponent(id) + '/files/' + encodeURIComponent(path);
const typeOf = (path) => (path.match(/\.([a-z0-9]+)$/i) || ['', ''])[1].toLowerCase();

// The first `max` bytes of an answer; the rest is never read (the stream is
// cancelled). `cut`: there was more.
async function readBounded(resp, max) {
  const reader = resp.body.getReader();
  const parts = [];
  let n = 0, cut = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > max) {
      parts.push(value.subarray(0, max - n));
      n = max;
      cut = true;
      reader.cancel().catch(() => {});
      break;
    }
    parts.push(value);
    n += value.length;
  }
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  return { bytes, cut };
}

// RFC 4180 records with the line each starts on (the line the checks'
// findings name; the header is line 1). A record cut by the byte bound is
// dropped.
export function parseTable(textIn, sep, cut) {
  const rows = [];
  let row = [], cell = '', quoted = false, line = 1, start = 1, i = 0;
  const n = textIn.length;
  const endCell = () => { row.push(cell.length > MAX_CELL ? cell.slice(0, MAX_CELL - 1) + '…' : cell); cell = ''; };
  while (i < n && rows.length <= MAX_ROWS) {
    const c = textIn[i];
    if (quoted) {
      if (c === '"' && textIn[i + 1] === '"') { cell += '"'; i += 2; continue; }
      if (c === '"') quoted = false;
      else { if (c === '\n') line++; if (cell.length <= MAX_CELL) cell += c; }
      i++;
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === sep) endCell();
    else if (c === '\r' && textIn[i + 1] === '\n') { i++; continue; }
    else if (c === '\n') {
      endCell();
      rows.push({ line: start, cells: row });
      row = [];
      start = ++line;
    } else if (cell.length <= MAX_CELL) cell += c;
    i++;
  }
  if (!cut && (cell !== '' || row.length) && rows.length <= MAX_ROWS) { endCell(); rows.push({ line: start, cells: row }); }
  const more = cut || i < n || rows.length > MAX_ROWS;
  return { rows: rows.slice(0, MAX_ROWS + 1), more };
}

// The table with the checks' flags: a finding's column header, and the
// cell on the line it names, say so in words (⚑ and a label), not only in
// colour.
function flaggedTable(parsed, findings, path) {
  const [head, ...body] = parsed.rows;
  if (!head) return el('p', { class: 'muted', text: 'An empty table.' });
  const width = Math.min(MAX_COLUMNS, Math.max(...parsed.rows.map((r) => r.cells.length)));
  const flagged = (f) => f.column && f.outcome !== 'pass';
  // A finding names a declared column by its header, any other by its
  // place ("#3"): the checks never repeat a header the job chose.
  const colOf = (f) => {
    const named = head.cells.indexOf(f.column);
    if (named >= 0) return named;
    const place = /^#([0-9]+)$/.exec(f.column);
    return place ? Number(place[1]) - 1 : -1;
  };
  const cols = new Map();
  for (const f of findings.filter(flagged)) {
    const i = colOf(f);
    if (i >= 0) cols.set(i, (cols.get(i) || []).concat(f));
  }
  const cellFlags = (line, i) => findings.filter((f) => flagged(f) && f.first_line === line && colOf(f) === i);
  const th = (c, i) => {
    const fs = cols.get(i);
    return el('th', { scope: 'col', class: fs ? 'flag' : null,
                      title: fs ? fs.map((f) => f.message).join('\n') : null }, fs ? '⚑ ' : null, c);
  };
  const td = (r, c, i) => {
    const fs = cellFlags(r.line, i);
    return el('td', { class: fs.length ? 'flag' : null, title: fs.length ? fs.map((f) => f.message).join('\n') : null },
      fs.length ? el('span', { class: 'flag-mark', text: '⚑ ', 'aria-label': 'flagged: ' + fs.map((f) => f.rule).join(', ') }) : null,
      c);
  };
  const pad = (cells) => cells.slice(0, width).concat(Array(Math.max(0, width - cells.length)).fill(''));
  const table = el('table', { class: 'preview-table', 'data-path': path },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Line' }), ...pad(head.cells).map(th))),
    el('tbody', {}, ...body.slice(0, MAX_ROWS).map((r) => el('tr', {}, el('th', { scope: 'row', class: 'line', text: String(r.line) }),
      ...pad(r.cells).map((c, i) => td(r, c, i))))));
  return table;
}

// Fills `box` with the preview of request `id`'s file `f`. Dropped (Stale)
// when the page moved on, or when `box` is no longer on it: a late answer
// never lands on another request's page.
export async function preview(box, id, f) {
  const asked = session.generation;
  const type = typeOf(f.path);
  const image = type === 'png' || type === 'svg';
  const table = type === 'csv' || type === 'tsv';
  if (!image && !table && !['txt', 'md', 'json', 'log'].includes(type)) {
    box.replaceChildren(el('p', { class: 'muted', text: 'No preview for .' + type + ' files.' }));
    return;
  }
  const bound = image ? IMAGE_BYTES : table ? TABLE_BYTES : TEXT_BYTES;
  if (image && f.size > IMAGE_BYTES) {
    box.replaceChildren(el('p', { class: 'muted', text: 'Too large to preview here.' }));
    return;
  }
  const { bytes, cut } = await readBounded(await api(fileUrl(id, f.path), 'response'), bound);
  if (asked !== session.generation || !box.isConnected || box.dataset.release !== String(id)) throw new Stale();
  let shown;
  if (image) {
    if (type === 'png' && !PNG.every((b, i) => bytes[i] === b)) {
      shown = el('p', { class: 'error', text: 'Not a PNG (its signature is wrong); not shown.' });
    } else {
      const url = await new Promise((done, fail) => {
        const r = new FileReader();
        r.onload = () => done(r.result);
        r.onerror = () => fail(r.error);
        r.readAsDataURL(new Blob([bytes], { type: type === 'png' ? 'image/png' : 'image/svg+xml' }));
      });
      if (asked !== session.generation || !box.isConnected) throw new Stale();
      shown = el('img', { class: 'preview-image', src: url, alt: 'Preview of ' + f.path });
    }
  } else {
    const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    if (table) {
      const parsed = parseTable(decoded, type === 'tsv' ? '\t' : ',', cut);
      shown = el('div', { class: 'preview-scroll', tabindex: '0', role: 'region', 'aria-label': 'Preview of ' + f.path },
        flaggedTable(parsed, (f.checks && f.checks.findings) || [], f.path));
      if (parsed.more) {
        shown = el('div', {}, shown, el('p', { class: 'muted preview-more',
          text: `The first ${Math.max(0, parsed.rows.length - 1)} rows only (the preview reads at most ` +
                `${MAX_ROWS} rows of the first ${TABLE_BYTES / 1024} KiB).` }));
      }
    } else {
      shown = el('pre', { tabindex: '0', 'aria-label': 'Preview of ' + f.path, text: decoded + (cut ? '\n…' : '') });
    }
  }
  box.replaceChildren(shown);
}
