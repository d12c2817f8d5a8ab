// The outcomes dashboard: GET /api/analytics for a date range, one card per procedure with the
// rates as big numbers and bar charts drawn as inline SVG (no chart library: CSP allows only our
// own scripts, and these charts are a few rectangles).

import { getAnalytics } from './api.js';
import { loadUser } from './header.js';
import { byId, el } from './ui.js';

const OUTCOMES = [
  ['fixed_remotely', 'Fixed remotely', '#1e7a3c'],
  ['fixed_by_self_help', 'Fixed by self-help', '#2e9e5b'],
  ['no_fault_found', 'No fault found', '#8a5a00'],
  ['sent_to_repair', 'Sent to repair', '#1f5fbf'],
  ['unresolved', 'Unresolved', '#b3261e'],
];
const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 24 * 3600 * 1000;

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** "33%" or "—" when there is nothing to divide by. */
function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)}%`;
}

/** "5 min 30 s", "45 s" or "—". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

/**
 * Horizontal bars, one per row: label on the left, bar, value at its end.
 * @param {{label: string, value: number, colour?: string, note?: string}[]} rows
 * @param {string} title for screen readers
 * @param {number} noteW room on the right for the rows' notes
 */
function barChart(rows, title, noteW = 0) {
  const rowH = 28;
  const labelW = 170;
  const barMax = 200;
  const width = labelW + barMax + 40 + noteW;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = rows.length * rowH + 4;
  // Drawn at its own size (scaled down only when the card is narrower), so the text stays readable.
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title });
  rows.forEach((row, i) => {
    const y = i * rowH + 2;
    const w = row.value > 0 ? Math.max(3, (row.value / max) * barMax) : 0;
    const label = row.label.length > 24 ? `${row.label.slice(0, 23)}…` : row.label;
    chart.append(
      svg('text', { x: 0, y: y + 18 }, label),
      svg('rect', { x: labelW, y: y + 4, width: w, height: rowH - 8, rx: 3, fill: row.colour || '#1f5fbf' }),
      svg('text', { x: labelW + w + 6, y: y + 18, class: 'count' }, String(row.value)),
    );
    if (row.note) chart.append(svg('text', { x: labelW + w + 30, y: y + 18, class: 'muted-text' }, row.note));
  });
  return chart;
}

function figure(value, what, tone, testid) {
  return el('div', { className: `figure ${tone || ''}`, 'data-testid': testid },
    el('span', { className: 'value' }, value), el('span', { className: 'what' }, what));
}

function procedureCard(p) {
  const ftf = p.first_time_fix;
  const nff = p.no_fault_found;
  const outcomeRows = OUTCOMES.map(([code, label, colour]) => ({ label, value: p.outcomes[code] || 0, colour }));
  const stepRows = p.steps.map((s) => ({
    label: s.title,
    value: s.sessions_reached,
    note: [s.median_time_on_step_s !== null ? `median ${duration(s.median_time_on_step_s)}` : null,
      s.fixed_by ? `fixed ${s.fixed_by}` : null].filter(Boolean).join(' · '),
  }));
  const kept = p.closed_without_sending_in;
  const help = p.self_help;
  // Where self-help customers get stuck: escalations at each step, of the runs that reached it.
  const stuckRows = p.steps.map((s) => ({
    label: s.title,
    value: s.escalations,
    colour: '#b3261e',
    note: s.escalation_rate.of ? `${percent(s.escalation_rate.rate)} of ${s.escalation_rate.of} runs` : null,
  }));
  const charts = [
    el('div', { className: 'chart' }, el('h3', {}, 'Outcomes of closed cases'),
      barChart(outcomeRows, `Outcomes of ${p.title}`)),
    el('div', { className: 'chart' }, el('h3', {}, 'Sessions that reached each step'),
      barChart(stepRows, `Sessions per step of ${p.title}`, 190)),
  ];
  if (help.runs) {
    charts.push(el('div', { className: 'chart', 'data-testid': 'self-help-stuck' },
      el('h3', {}, 'Self-help: escalations at each step'),
      barChart(stuckRows, `Self-help escalations per step of ${p.title}`, 190)));
  }
  return el('section', { className: 'card', 'data-testid': 'analytics-procedure', 'data-procedure-id': p.procedure_id },
    el('h2', {}, p.title),
    el('div', { className: 'figures' },
      figure(percent(ftf.rate), `first-time fix (${ftf.count} of ${ftf.of} closed)`, 'good', 'first-time-fix'),
      figure(percent(nff.rate), `no fault found (${nff.count} of ${nff.of} closed)`, 'warn', 'no-fault-found'),
      figure(percent(kept.rate), `closed without sending the device in (${kept.count} of ${kept.of})`, 'good',
        'closed-without-sending-in'),
      figure(String(p.sessions), `sessions (${p.cases} cases)`, '', 'session-count'),
      figure(duration(p.median_session_s), 'median session', '', 'median-session'),
      figure(duration(p.median_time_to_resolution_s), 'median time to resolution', '', 'time-to-resolution')),
    el('div', { className: 'figures' },
      figure(String(help.runs), 'self-help runs', '', 'self-help-runs'),
      figure(percent(help.self_resolved.rate),
        `solved alone (${help.self_resolved.count} of ${help.self_resolved.of} runs)`, 'good', 'self-resolved'),
      figure(percent(help.escalated.rate),
        `asked for an expert (${help.escalated.count} of ${help.escalated.of} runs)`, 'warn', 'self-help-escalated')),
    el('div', { className: 'charts' }, ...charts));
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

async function show() {
  const from = byId('analytics-from').value;
  const to = byId('analytics-to').value;
  const error = byId('page-error');
  error.hidden = true;
  byId('loading').hidden = false;
  const params = new URLSearchParams({ from, to });
  history.replaceState(null, '', `?${params}`);
  try {
    const data = await getAnalytics(params);
    byId('procedures').replaceChildren(...data.procedures.map(procedureCard));
    byId('empty').hidden = data.procedures.length > 0;
  } catch (exc) {
    error.textContent = exc.message;
    error.hidden = false;
    byId('procedures').replaceChildren();
  } finally {
    byId('loading').hidden = true;
  }
}

async function start() {
  await loadUser();
  const query = new URLSearchParams(location.search);
  const today = new Date();
  byId('analytics-to').value = query.get('to') || isoDay(today);
  byId('analytics-from').value = query.get('from') || isoDay(new Date(today.getTime() - 29 * DAY_MS));
  byId('range-form').addEventListener('submit', (event) => {
    event.preventDefault();
    show();
  });
  await show();
}

start().catch((exc) => {
  const error = byId('page-error');
  error.textContent = exc.message;
  error.hidden = false;
});
