// The recording library: recorded sessions across cases, searched by text, procedure, step,
// outcome and date (GET /api/library); each result opens the player at the matching moment.
// The search is kept in the address (?q=...), so a result list can be bookmarked or shared.

import { getProcedure, listProcedures, searchLibrary } from './api.js';
import { loadUser } from './header.js';
import { byId, el, formatDuration, formatTime } from './ui.js';

const FIELDS = ['q', 'procedure', 'step', 'outcome', 'from', 'to'];
const OUTCOMES = {
  fixed_remotely: 'Fixed remotely',
  fixed_by_self_help: 'Fixed by the customer (self-help)',
  sent_to_repair: 'Sent to repair',
  no_fault_found: 'No fault found',
  unresolved: 'Unresolved',
};
/** procedure id -> the procedure (with its steps), filled as procedures are loaded. */
const procedures = new Map();

function field(name) {
  return /** @type {HTMLInputElement|HTMLSelectElement} */ (byId(`library-${name}`));
}

function fillSteps() {
  const chosen = field('procedure').value;
  const keep = field('step').value;
  const options = [el('option', { value: '' }, 'Any')];
  const seen = new Set();
  for (const procedure of procedures.values()) {
    if (chosen && procedure.id !== chosen) continue;
    for (const step of procedure.steps) {
      if (seen.has(step.id)) continue;
      seen.add(step.id);
      options.push(el('option', { value: step.id }, chosen ? step.title : `${procedure.title}: ${step.title}`));
    }
  }
  field('step').replaceChildren(...options);
  field('step').value = seen.has(keep) ? keep : '';
}

async function loadProcedures() {
  const list = await listProcedures();
  const details = await Promise.all(list.map((p) => getProcedure(p.id).catch(() => null)));
  for (const procedure of details) if (procedure) procedures.set(procedure.id, procedure);
  field('procedure').replaceChildren(el('option', { value: '' }, 'Any'),
    ...[...procedures.values()].map((p) => el('option', { value: p.id }, p.title)));
}

function renderResult(result) {
  const when = formatTime(result.started_at);
  const bits = [
    result.device_model,
    when,
    result.duration_s !== null ? formatDuration(result.duration_s) : null,
    result.recording_status === 'partial' ? 'partial recording' : null,
    result.outcome ? OUTCOMES[result.outcome] || result.outcome : 'open',
    result.procedures.length ? result.procedures.map((id) => (procedures.get(id) || { title: id }).title).join(', ') : null,
  ].filter(Boolean);
  const { why } = result.moment;
  const moment = why === 'start' ? 'from the start' : why === 'step' ? `at step ${result.moment.title}` : `at the ${why}`;
  return el('li', { 'data-session-id': result.session_id },
    el('a', { href: result.url, 'data-testid': 'library-result' }, `${result.case_title} — play ${moment}`),
    el('span', { className: 'meta' }, bits.join(' · ')),
    result.chat_hits.length ? el('ul', { className: 'hits' }, ...result.chat_hits.map((hit) => el('li', {},
      el('a', { href: hit.url, 'data-testid': 'library-chat-hit' }, `${hit.from_role}: ${hit.text}`)))) : null);
}

/** "Showing N of T" and a button for the next page while there are more results. */
function showMore(params, data, status) {
  const shown = byId('library-results').children.length;
  status.textContent = data.total
    ? `${data.total} recording${data.total === 1 ? '' : 's'}${data.next_cursor ? ` (showing ${shown})` : ''}`
    : 'No recordings match.';
  const more = byId('library-more');
  more.hidden = !data.next_cursor;
  more.onclick = async () => {
    const next = new URLSearchParams(params);
    next.set('cursor', data.next_cursor);
    more.disabled = true;
    try {
      const page = await searchLibrary(next);
      byId('library-results').append(...page.results.map(renderResult));
      showMore(params, page, status);
    } catch (error) {
      byId('page-error').textContent = error.message;
      byId('page-error').hidden = false;
    } finally {
      more.disabled = false;
    }
  };
}

async function search() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = field(name).value.trim();
    if (value) params.set(name, value);
  }
  const query = params.toString();
  history.replaceState(null, '', query ? `/library?${query}` : '/library');
  const status = byId('results-status');
  status.textContent = 'Searching…';
  byId('page-error').hidden = true;
  try {
    const data = await searchLibrary(params);
    byId('library-results').replaceChildren(...data.results.map(renderResult));
    showMore(params, data, status);
  } catch (error) {
    status.textContent = '';
    byId('page-error').textContent = error.message;
    byId('page-error').hidden = false;
  }
}

async function main() {
  byId('library-form').addEventListener('submit', (event) => {
    event.preventDefault();
    search();
  });
  field('procedure').addEventListener('change', fillSteps);
  try {
    await loadUser();
    await loadProcedures();
    const params = new URLSearchParams(location.search);
    field('procedure').value = params.get('procedure') || '';
    fillSteps();
    for (const name of FIELDS) if (params.has(name)) field(name).value = params.get(name);
  } catch (error) {
    byId('page-error').textContent = error.message;
    byId('page-error').hidden = false;
  }
  await search();
}

main();
