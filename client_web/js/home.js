// The console home: the case list, the new-case form, and starting a session on a case.

import { createCase, listCases, startSession } from './api.js';
import { canEdit, loadUser } from './header.js';
import { renderSessionLink } from './session-link.js';
import { byId, el, formatTime, showMessage } from './ui.js';

const OPTIONAL_FIELDS = ['customer_name', 'customer_contact', 'device_model', 'notes'];

let cases = [];
let selectedId = null;
let mayEdit = false;

/**
 * Show `text` in a message element, or hide it when text is empty.
 * @param {string} id
 * @param {string} text
 */
function caseSummary(item) {
  const parts = [item.customer_name, item.device_model, `created ${formatTime(item.created_at)}`];
  if (item.session_count !== undefined) parts.push(`${item.session_count} session${item.session_count === 1 ? '' : 's'}`);
  return parts.filter(Boolean).join(' · ');
}

function renderList() {
  const list = byId('case-list');
  byId('cases-empty').hidden = cases.length > 0;
  list.replaceChildren(...cases.map((item) => {
    const selected = item.id === selectedId;
    const select = el('button', {
      type: 'button', className: 'secondary', 'aria-pressed': String(selected), 'data-testid': 'select-case',
    }, selected ? 'Selected' : 'Select');
    select.addEventListener('click', () => selectCase(item.id));
    return el('li', { className: selected ? 'selected' : '', 'data-case-id': item.id },
      el('div', {},
        el('a', { href: `/cases/${encodeURIComponent(item.id)}`, 'data-testid': 'case-link' }, item.title), ' ',
        el('span', { className: `badge badge-${item.status}` }, item.status),
        el('span', { className: 'case-meta' }, caseSummary(item))),
      select);
  }));
}

/** @param {string} id */
function selectCase(id) {
  const item = cases.find((c) => c.id === id);
  if (!item) return;
  if (id !== selectedId) byId('session-link').replaceChildren();
  selectedId = id;
  byId('selected-case').hidden = false;
  byId('selected-title').textContent = item.title;
  byId('selected-meta').textContent = caseSummary(item);
  byId('selected-link').href = `/cases/${encodeURIComponent(id)}`;
  const start = byId('start-session');
  start.hidden = !mayEdit;
  start.disabled = item.status === 'closed';
  start.title = item.status === 'closed' ? 'This case is closed' : '';
  showMessage('session-error', '');
  renderList();
}

async function refreshCases() {
  cases = await listCases();
  renderList();
}

async function onCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const fields = { title: String(data.get('title') || '').trim() };
  for (const name of OPTIONAL_FIELDS) {
    const value = String(data.get(name) || '').trim();
    if (value) fields[name] = value;
  }
  if (!fields.title) {
    showMessage('create-error', 'Give the case a title.');
    return;
  }
  const button = byId('create-case');
  button.disabled = true;
  showMessage('create-error', '');
  try {
    const created = await createCase(fields);
    form.reset();
    await refreshCases().catch(() => {
      cases = [created, ...cases.filter((c) => c.id !== created.id)];
    });
    if (!cases.some((c) => c.id === created.id)) cases.unshift(created);
    selectCase(created.id);
  } catch (error) {
    showMessage('create-error', error.message);
  } finally {
    button.disabled = false;
  }
}

async function onStartSession() {
  if (!selectedId) return;
  const button = byId('start-session');
  button.disabled = true;
  showMessage('session-error', '');
  try {
    const session = await startSession(selectedId);
    renderSessionLink(byId('session-link'), session);
    const item = cases.find((c) => c.id === selectedId);
    if (item && typeof item.session_count === 'number') {
      item.session_count += 1;
      byId('selected-meta').textContent = caseSummary(item);
      renderList();
    }
  } catch (error) {
    showMessage('session-error', error.message);
  } finally {
    button.disabled = false;
  }
}

async function main() {
  byId('new-case-form').addEventListener('submit', onCreate);
  byId('start-session').addEventListener('click', onStartSession);
  try {
    const me = await loadUser();
    mayEdit = canEdit(me);
    byId('new-case').hidden = !mayEdit;
    await refreshCases();
  } catch (error) {
    showMessage('page-error', error.message);
  }
}

main();
