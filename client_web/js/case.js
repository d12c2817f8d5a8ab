// A case: details, notes, outcome, and its sessions with their recordings.

import { getCase, idFromPath, startSession, updateCase } from './api.js';
import { canEdit, loadUser } from './header.js';
import { renderSessionLink } from './session-link.js';
import { byId, el, formatDuration, formatTime } from './ui.js';

/** Outcome codes of the API, in words. */
const OUTCOMES = {
  fixed_remotely: 'Fixed remotely',
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

function showMessage(id, text) {
  const node = byId(id);
  node.textContent = text;
  node.hidden = !text;
}

/** @param {boolean|null} consent */
function consentWords(consent) {
  if (consent === true) return 'the customer agreed to the recording';
  if (consent === false) return 'recording declined by the customer';
  return 'not asked yet (the customer has not joined)';
}

function renderSession(session, index) {
  const rec = session.recording || { status: 'none' };
  const links = [];
  if (rec.media_url) links.push(el('a', { href: rec.media_url, download: '', 'data-testid': 'recording-download' }, 'Download the recording'));
  if (rec.events_url) links.push(el('a', { href: rec.events_url, 'data-testid': 'recording-events' }, 'Event log'));
  if (session.state !== 'ended' && session.console_url) {
    links.push(el('a', { href: session.console_url, 'data-testid': 'session-console' }, 'Open the console'));
  }
  const row = (term, value) => [el('dt', {}, term), el('dd', {}, value)];
  return el('li', { 'data-session-id': session.id, 'data-state': session.state },
    el('h3', {}, `Session ${index + 1} `, el('span', { className: `badge badge-${session.state === 'live' ? 'live' : 'off'}` }, session.state)),
    el('dl', {},
      ...row('Created', formatTime(session.created_at)),
      ...row('Started', formatTime(session.started_at)),
      ...row('Ended', session.ended_at ? `${formatTime(session.ended_at)}${session.end_reason ? ` (${session.end_reason})` : ''}` : '—'),
      ...row('Consent', consentWords(session.consent)),
      ...row('Recording', `${RECORDING_WORDS[rec.status] || rec.status}${rec.duration_s != null ? `, ${formatDuration(rec.duration_s)}` : ''}`)),
    links.length ? el('p', { className: 'row form-actions' }, ...links) : null);
}

function render(item) {
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
  byId('session-list').replaceChildren(...sessions.map(renderSession));
}

async function reload() {
  render(await getCase(caseId));
}

async function onSaveNotes(event) {
  event.preventDefault();
  const button = byId('notes-save');
  button.disabled = true;
  byId('notes-status').textContent = 'Saving…';
  try {
    render(await updateCase(caseId, { notes: byId('notes-input').value }));
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
    render(await updateCase(caseId, { status: 'closed', outcome }));
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
