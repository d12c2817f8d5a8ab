// A case: details, notes, outcome, and every session in time order with its recording, steps,
// snapshots and chat (from GET /api/sessions/{id}/playback), so nobody asks the customer twice.

import { getCase, getPlayback, getProcedure, idFromPath, startSession, updateCase } from './api.js';
import { canEdit, loadUser } from './header.js';
import { renderSessionLink } from './session-link.js';
import { byId, el, formatClock, formatDuration, formatTime, sentence, showMessage } from './ui.js';

/** Outcome codes of the API, in words. */
const OUTCOMES = {
  fixed_remotely: 'Fixed remotely',
  fixed_by_self_help: 'Fixed by the customer (self-help)',
  sent_to_repair: 'Sent to repair',
  no_fault_found: 'No fault found',
  unresolved: 'Unresolved',
};

const RECORDING_WORDS = {
  none: 'not recorded',
  recording: 'recording now',
  complete: 'complete',
  partial: 'partial (cut off before the end)',
  declined: 'declined by the customer',
};

const caseId = idFromPath('/cases/');
let mayEdit = false;
/** The steps of the case's procedure, for "which step fixed it". */
let procedureSteps = [];
/** Whether the server's case JSON has `fixed_by_step` (PATCH accepts it). */
let fixedByStepSupported = false;

/**
 * The customer's decisions at each join, in order: "agreed 10:02, withdrew 10:05, agreed 10:07".
 * @param {{at: string|null, given: boolean}[]} changes
 */
function consentHistory(changes) {
  let before = null;
  return changes.map((change) => {
    const word = change.given ? (before === false ? 'agreed again' : 'agreed') : (before ? 'withdrew consent' : 'declined');
    before = change.given;
    return `${word} ${formatClock(change.at)}`.trim();
  }).join(', ');
}

/** @param {boolean|null} consent */
function consentWords(consent) {
  if (consent === true) return 'the customer agreed to the recording';
  if (consent === false) return 'recording declined by the customer';
  return 'not asked yet (the customer has not joined)';
}

/** "1:05" for 65 000 ms. */
function formatMs(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** The event-log side of a session: steps, snapshots, chat and warnings, or why it is missing. */
function renderRecord(session, record) {
  const box = el('div', { className: 'session-record', 'data-testid': 'session-record' });
  if (record instanceof Error) {
    box.append(el('p', { className: 'message message-error', 'data-testid': 'session-record-error' },
      `This session's record cannot be shown: ${record.message}`));
    return box;
  }
  for (const warning of record.warnings) {
    box.append(el('p', { className: 'muted', 'data-testid': 'session-warning' }, sentence(warning)));
  }
  const playable = Boolean(record.recording.media_url);
  const at = (tMs) => (playable ? el('a', { href: `/playback/${encodeURIComponent(session.id)}#t=${tMs / 1000}` }, formatMs(tMs)) : formatMs(tMs));
  const steps = record.chapters.filter((c) => c.step_id);
  if (steps.length) {
    box.append(el('p', { 'data-testid': 'session-steps' }, 'Steps: ',
      ...steps.flatMap((c, i) => [i ? ' → ' : '', c.title, ' (', at(c.t_ms), ')'])));
  }
  if (record.snapshots.length) {
    box.append(el('div', { className: 'snapshot-strip', 'data-testid': 'session-snapshots' },
      ...record.snapshots.map((snap) => el('figure', { className: 'snapshot' },
        el('a', { href: snap.url, target: '_blank', 'data-testid': 'snapshot-link' },
          el('img', { src: snap.url, alt: `Snapshot${snap.t_ms !== null ? ` at ${formatMs(snap.t_ms)}` : ''}`, loading: 'lazy' })),
        snap.clean_url !== snap.url
          ? el('figcaption', {}, el('a', { href: snap.clean_url, target: '_blank', 'data-testid': 'snapshot-clean-link' }, 'without marks'))
          : null))));
  }
  if (record.problems && record.problems.length) {
    box.append(el('ul', { className: 'problems', 'data-testid': 'session-problems' },
      ...record.problems.map((p) => el('li', { className: 'message message-error' },
        sentence(`${p.role === 'expert' ? "The expert's page" : "The customer's page"} (${p.browser || 'an unknown browser'}): ${p.problem}`)))));
  }
  const chat = record.chat;
  box.append(el('details', { 'data-testid': 'session-chat' },
    el('summary', {}, chat.length ? `Chat (${chat.length} line${chat.length === 1 ? '' : 's'})` : 'Chat (none)'),
    chat.length ? el('ol', { className: 'transcript' }, ...chat.map((line) => el('li', { className: 'chat-line' },
      el('span', { className: 'line-time' }, at(line.t_ms), ' '),
      el('span', { className: 'chat-who' }, `${line.from_role === 'expert' ? 'Expert' : 'Customer'}: `), line.text))) : null));
  return box;
}

function renderSession(session, index, record) {
  const rec = session.recording || { status: 'none' };
  const links = [];
  if (rec.media_url) {
    links.push(el('a', { href: `/playback/${encodeURIComponent(session.id)}`, className: 'button', 'data-testid': 'play-recording' }, 'Play'));
    links.push(el('a', { href: rec.media_url, download: '', 'data-testid': 'recording-download' }, 'Download the recording (WebM)'));
    links.push(el('a', { href: `/api/sessions/${encodeURIComponent(session.id)}/export.mp4`, download: '', 'data-testid': 'recording-download-mp4' }, 'MP4 (plays everywhere)'));
  }
  if (rec.events_url) links.push(el('a', { href: rec.events_url, 'data-testid': 'recording-events' }, 'Event log'));
  if (session.state !== 'ended' && session.console_url) {
    links.push(el('a', { href: session.console_url, 'data-testid': 'session-console' }, 'Open the console'));
  }
  const row = (term, value) => [el('dt', {}, term), el('dd', {}, value)];
  return el('li', { 'data-session-id': session.id, 'data-state': session.state, 'data-testid': 'case-session' },
    el('h3', {}, `Session ${index + 1} `, el('span', { className: `badge badge-${session.state === 'live' ? 'live' : 'off'}` }, session.state)),
    el('dl', {},
      ...row('Created', formatTime(session.created_at)),
      ...row('Started', formatTime(session.started_at)),
      ...row('Ended', session.ended_at ? `${formatTime(session.ended_at)}${session.end_reason ? ` (${session.end_reason})` : ''}` : '—'),
      ...row('Consent', record && !(record instanceof Error) && record.consent && record.consent.length > 1
        ? el('span', { 'data-testid': 'consent-history' }, consentHistory(record.consent))
        : consentWords(session.consent)),
      ...row('Recording', `${RECORDING_WORDS[rec.status] || rec.status}${rec.duration_s != null ? `, ${formatDuration(rec.duration_s)}` : ''}`)),
    links.length ? el('p', { className: 'row form-actions' }, ...links) : null,
    record ? renderRecord(session, record) : null);
}

/** Each session's record (playback JSON), or the error that kept it from loading. */
async function loadRecords(sessions) {
  return Promise.all(sessions.map((session) => (session.state === 'created'
    ? null
    : getPlayback(session.id).catch((error) => error))));
}

/** The steps of the case's procedure in the "which step fixed it" select. */
async function fillFixedBySteps(item) {
  const field = byId('fixed-by-step-field');
  const select = /** @type {HTMLSelectElement} */ (byId('fixed-by-step'));
  const note = byId('fixed-by-step-note');
  procedureSteps = [];
  if (item.procedure_id) {
    try {
      procedureSteps = (await getProcedure(item.procedure_id)).steps;
    } catch (error) {
      note.textContent = `The steps of procedure ${item.procedure_id} cannot be listed: ${error.message}`;
      note.hidden = false;
    }
  }
  select.replaceChildren(el('option', { value: '' }, 'No single step / not known'),
    ...procedureSteps.map((step, i) => el('option', { value: step.id }, `${i + 1}. ${step.title}`)));
  if (item.fixed_by_step) select.value = item.fixed_by_step;
  fixedByStepSupported = 'fixed_by_step' in item;
  field.dataset.available = String(procedureSteps.length > 0);
  updateFixedByStep();
}

/** The step question is asked for a case with a procedure that was fixed remotely. */
function updateFixedByStep() {
  const field = byId('fixed-by-step-field');
  field.hidden = field.dataset.available !== 'true' || byId('outcome-select').value !== 'fixed_remotely';
  const note = byId('fixed-by-step-note');
  if (!fixedByStepSupported && !field.hidden) {
    note.textContent = 'This server does not store which step fixed a case yet; the choice is not saved.';
    note.hidden = false;
  }
}

// Who opened the case (the case's `source`).
const SOURCES = { console: 'Staff, in the console', self_help: 'The customer, with self-help', api: 'An integration, through the API' };

function render(item, records) {
  document.title = `${item.title} · RepairSight`;
  byId('case-title').textContent = item.title;
  const status = byId('case-status');
  status.textContent = item.status;
  status.className = `badge badge-${item.status}`;
  byId('case-customer').textContent = item.customer_name || '—';
  byId('case-contact').textContent = item.customer_contact || '—';
  byId('case-device').textContent = item.device_model || '—';
  byId('case-created').textContent = formatTime(item.created_at);
  byId('case-updated').textContent = formatTime(item.updated_at);
  byId('case-outcome').textContent = item.outcome ? OUTCOMES[item.outcome] || item.outcome : '—';
  const fixedBy = procedureSteps.find((step) => step.id === item.fixed_by_step);
  byId('case-fixed-by-step').textContent = item.fixed_by_step ? (fixedBy ? fixedBy.title : item.fixed_by_step) : '—';
  const source = SOURCES[item.source] || item.source || '—';
  byId('case-source').textContent = item.external_reference ? `${source}, reference ${item.external_reference}` : source;
  const notes = byId('notes-input');
  if (document.activeElement !== notes) notes.value = item.notes || '';
  notes.readOnly = !mayEdit;
  byId('notes-save').hidden = !mayEdit;

  const closed = item.status === 'closed';
  byId('close-form').hidden = closed || !mayEdit;
  byId('closed-note').hidden = !closed;
  byId('closed-note').textContent = closed ? `This case is closed: ${OUTCOMES[item.outcome] || item.outcome || 'no outcome'}.` : '';
  const start = byId('start-session');
  start.hidden = !mayEdit;
  start.disabled = closed;
  start.title = closed ? 'This case is closed' : '';

  const sessions = [...(item.sessions || [])].sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  byId('sessions-empty').hidden = sessions.length > 0;
  byId('session-list').replaceChildren(...sessions.map((session) => renderSession(
    session, sessions.indexOf(session), records ? records.get(session.id) : null)));
}

/** The sessions' records of the last reload, by session id. */
let lastRecords = new Map();

async function reload() {
  const item = await getCase(caseId);
  const sessions = item.sessions || [];
  const [records] = await Promise.all([loadRecords(sessions), fillFixedBySteps(item)]);
  lastRecords = new Map(sessions.map((session, i) => [session.id, records[i]]));
  render(item, lastRecords);
}

async function onSaveNotes(event) {
  event.preventDefault();
  const button = byId('notes-save');
  button.disabled = true;
  byId('notes-status').textContent = 'Saving…';
  try {
    render(await updateCase(caseId, { notes: byId('notes-input').value }), lastRecords);
    byId('notes-status').textContent = 'Saved';
  } catch (error) {
    byId('notes-status').textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

async function onClose(event) {
  event.preventDefault();
  const outcome = byId('outcome-select').value;
  if (!outcome) {
    byId('close-status').textContent = 'Choose an outcome first.';
    return;
  }
  const button = byId('close-case');
  button.disabled = true;
  try {
    const fields = { status: 'closed', outcome };
    const step = byId('fixed-by-step').value;
    if (fixedByStepSupported && outcome === 'fixed_remotely' && step) fields.fixed_by_step = step;
    render(await updateCase(caseId, fields), lastRecords);
    byId('close-status').textContent = '';
  } catch (error) {
    byId('close-status').textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

async function onStartSession() {
  const button = byId('start-session');
  button.disabled = true;
  showMessage('session-error', '');
  try {
    const session = await startSession(caseId);
    renderSessionLink(byId('session-link'), session);
    await reload();
  } catch (error) {
    showMessage('session-error', error.message);
  } finally {
    button.disabled = byId('case-status').textContent === 'closed';
  }
}

async function main() {
  byId('notes-form').addEventListener('submit', onSaveNotes);
  byId('close-form').addEventListener('submit', onClose);
  byId('outcome-select').addEventListener('change', updateFixedByStep);
  byId('start-session').addEventListener('click', onStartSession);
  try {
    if (!caseId) throw new Error('This address names no case. Go back to the case list.');
    const me = await loadUser();
    mayEdit = canEdit(me);
    await reload();
    byId('case-view').hidden = false;
  } catch (error) {
    const text = error.status === 404 ? 'There is no case with this id. It may have been deleted, or the link is wrong.' : error.message;
    showMessage('page-error', text);
  } finally {
    byId('loading').hidden = true;
  }
}

main();
