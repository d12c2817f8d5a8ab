// The experts' queue (/queue, docs/self-help.md): self-help customers waiting for an expert, kept
// up to date by asking every few seconds; a sound and a browser notification when someone new
// joins it; "Pick up" takes the customer (one expert only: another who tried is told who did)
// and opens the console on that same live session.

import { api } from './api.js';
import { loadUser } from './header.js';
import { byId, el, formatDuration } from './ui.js';

/** How often the list is asked for again. */
const POLL_MS = 2000;
const REASONS = {
  asked: 'Asked for an expert',
  not_fixed: 'Said the steps did not fix it',
};

/** What tests read: the items shown and how many alerts were given. */
const seen = { items: [], alerts: 0 };
window.repairsightQueue = seen;
/** Run ids already shown: a new one is an alert (none for those there when the page opened). */
const known = new Set();
let firstLoad = true;
/** performance.now() of the last answer, to count the waits on between answers. */
let fetchedAt = 0;
/** @type {AudioContext|null} */
let audio = null;

/** @param {string} text */
function showMessage(text) {
  const node = byId('queue-message');
  node.textContent = text;
  node.hidden = !text;
}

/** A short two-tone chime (Web Audio: nothing to download). */
function chime() {
  try {
    audio = audio || new AudioContext();
    const start = audio.currentTime;
    for (const [offset, hz] of [[0, 660], [0.18, 880]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = hz;
      gain.gain.setValueAtTime(0.2, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.3);
    }
  } catch (error) {
    console.warn('no sound for the queue', error);
  }
}

/** @param {object} item a queue item */
function alertNew(item) {
  seen.alerts += 1;
  chime();
  if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
    const note = new Notification('A customer is waiting for an expert', {
      body: `${item.device_model || 'A device'}: ${item.procedure.title}${item.step ? `, at "${item.step.title}"` : ''}`,
      tag: item.run_id,
    });
    note.onclick = () => window.focus();
  }
}

/** "Step 2 of 4: Find header J5", or what is known of it. */
function stepText(step) {
  if (!step) return 'Had not reached a step';
  if (step.index === null || step.index === undefined) return `At step ${step.title}`;
  return `Step ${step.index + 1} of ${step.count}: ${step.title}`;
}

function waitText(item) {
  const waited = item.wait_s + (performance.now() - fetchedAt) / 1000;
  return `Waiting ${formatDuration(waited)}`;
}

/** @param {object} item */
function renderItem(item) {
  const wait = el('p', { className: 'queue-wait', 'data-testid': 'queue-wait' }, waitText(item));
  const button = el('button', { type: 'button', className: 'queue-pickup', 'data-testid': 'queue-pickup' }, 'Pick up');
  button.addEventListener('click', () => pickUp(item, button));
  const li = el('li', { className: 'queue-item', 'data-testid': 'queue-item', 'data-run-id': item.run_id },
    el('h2', {}, `${item.device_model || 'Unknown device'} · ${item.procedure.title}`),
    el('p', { 'data-testid': 'queue-step' }, stepText(item.step)),
    el('p', { className: 'muted', 'data-testid': 'queue-reason' }, REASONS[item.reason] || item.reason || ''),
    wait,
    button);
  li.updateWait = () => { wait.textContent = waitText(item); };
  return li;
}

function render(items) {
  seen.items = items;
  const list = byId('queue-list');
  list.replaceChildren(...items.map(renderItem));
  byId('queue-empty').hidden = items.length > 0;
  byId('queue-count').textContent = items.length ? `(${items.length})` : '';
  document.title = `${items.length ? `(${items.length}) ` : ''}Queue · RepairSight`;
}

async function refresh() {
  let answer;
  try {
    answer = await api('/api/self-help/queue?limit=200');
  } catch (error) {
    showMessage(`The queue could not be loaded: ${error.message}`);
    return;
  }
  fetchedAt = performance.now();
  const items = answer.queue || [];
  for (const item of items) {
    if (!known.has(item.run_id) && !firstLoad) alertNew(item);
    known.add(item.run_id);
  }
  firstLoad = false;
  render(items);
}

/**
 * @param {object} item
 * @param {HTMLButtonElement} button
 */
async function pickUp(item, button) {
  button.disabled = true;
  showMessage('');
  try {
    const taken = await api(`/api/self-help/runs/${encodeURIComponent(item.run_id)}/pickup`, { method: 'POST' });
    location.assign(`/console/${encodeURIComponent(taken.session_id)}`);
  } catch (error) {
    showMessage(error.message);
    refresh();
  }
}

async function enableAlerts() {
  audio = audio || new AudioContext();
  await audio.resume().catch(() => {});
  if (typeof Notification !== 'undefined' && Notification.permission === 'default') {
    await Notification.requestPermission().catch(() => 'denied');
  }
  const notifications = typeof Notification !== 'undefined' && Notification.permission === 'granted';
  byId('alerts-button').textContent = notifications ? 'Sound and notifications on' : 'Sound on (notifications are blocked in this browser)';
  byId('alerts-button').disabled = true;
}

async function main() {
  await loadUser();
  byId('alerts-button').addEventListener('click', enableAlerts);
  await refresh();
  setInterval(refresh, POLL_MS);
  setInterval(() => {
    for (const li of byId('queue-list').children) li.updateWait();
  }, 1000);
}

main();
