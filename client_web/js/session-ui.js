// The parts of a live session page that console and customer share: chat, recording badge, notices.

import { CHAT_ERROR_CODES, MAX_CHAT_CHARS, chat } from './signaling.js';
import { explain, t } from './i18n.js';
import { el, formatClock } from './ui.js';

const ROLE_NAMES = { customer: 'chat.customer', expert: 'chat.expert' };

/**
 * Wire a chat panel to a session. A line is shown when the server's echo arrives (the echo is
 * the confirmation); Enter or the button sends. A line the server refuses (too long, or too many
 * at once: `chat_too_long`, `chat_rate_limited`) is not lost: the chat says why, in the log
 * where the person is looking, and the line goes back into the input to send again.
 * @param {import('./peer.js').PeerSession} session
 * @param {{log: HTMLElement, input: HTMLInputElement, button: HTMLButtonElement,
 *          selfRole: 'customer'|'expert', notify: (text: string) => void}} parts
 */
export function bindChat(session, { log, input, button, selfRole, notify }) {
  input.maxLength = MAX_CHAT_CHARS;
  // Lines sent and not yet echoed, oldest first: the server answers each, in order.
  const unconfirmed = [];
  const sendLine = () => {
    const text = input.value.trim();
    if (!text) return;
    if (!session.state.joined || !session.send(chat(text))) {
      notify(t('chat.notConnected'));
      return;
    }
    unconfirmed.push(text);
    input.value = '';
  };
  session.signaling.on('error', (error) => {
    if (!CHAT_ERROR_CODES.includes(error.code)) return;
    const text = unconfirmed.shift();
    if (text !== undefined && !input.value) input.value = text;
    log.append(el('li', { className: 'chat-line chat-refused', role: 'status', 'data-code': error.code },
      t('chat.notSent', { reason: explain(error) })));
    log.scrollTop = log.scrollHeight;
  });
  session.signaling.on('joined', () => { unconfirmed.length = 0; });
  button.addEventListener('click', sendLine);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendLine();
    }
  });
  const seen = new Set();
  session.signaling.on('chat', (line) => {
    // After a reconnect the server may send lines again; show each id once.
    if (line.id && seen.has(line.id)) return;
    if (line.id) seen.add(line.id);
    const mine = line.from_role === selfRole;
    if (mine) unconfirmed.shift();
    const who = mine ? t('chat.you') : ROLE_NAMES[line.from_role] ? t(ROLE_NAMES[line.from_role]) : line.from_role;
    log.append(el('li', { className: mine ? 'chat-line mine' : 'chat-line', 'data-from-role': line.from_role },
      el('span', { className: 'chat-who' }, `${who}:`), ' ',
      el('span', { className: 'chat-text' }, line.text), ' ',
      el('time', { className: 'chat-time', datetime: line.sent_at }, formatClock(line.sent_at))));
    log.scrollTop = log.scrollHeight;
  });
}

/**
 * Show the recording state in a badge: a red "Recording" while recording, "Not recorded" when
 * the customer declined, and nothing while there is nothing to say.
 * @param {HTMLElement} badge
 * @param {string} status none | recording | complete | partial | declined
 */
export function showRecording(badge, status) {
  const looks = {
    recording: [t('recording.recording'), 'badge badge-recording'],
    declined: [t('recording.declined'), 'badge badge-off'],
    complete: [t('recording.complete'), 'badge badge-off'],
    partial: [t('recording.partial'), 'badge badge-off'],
  }[status];
  badge.hidden = !looks;
  badge.dataset.status = status;
  if (looks) [badge.textContent, badge.className] = looks;
}

/**
 * Show a server `error` message (or a local one) in the notice area; the session goes on. A
 * refused chat line is said in the chat instead (`bindChat`).
 * @param {import('./peer.js').PeerSession} session
 * @param {(text: string) => void} notify
 */
export function bindErrors(session, notify) {
  session.signaling.on('error', (error) => {
    if (!CHAT_ERROR_CODES.includes(error.code)) notify(explain(error));
  });
}

/**
 * How long a state has lasted, for "Reconnecting… 12 s". The function it returns, called as
 * `lasted(key, active)`, remembers when `key` became active and says the time since in words
 * ('' while it is not active). Call it again every second to keep the words current.
 */
export function makeLastedClock() {
  const started = new Map();
  return (key, active) => {
    if (!active) {
      started.delete(key);
      return '';
    }
    if (!started.has(key)) started.set(key, Date.now());
    const s = Math.floor((Date.now() - started.get(key)) / 1000);
    return s < 60 ? t('time.seconds', { s }) : t('time.minutes', { m: Math.floor(s / 60), s: String(s % 60).padStart(2, '0') });
  };
}

/**
 * The status line of a customer's page (the customer and self-help pages): connecting, reconnecting
 * with its timer, the expert connected, reconnecting or gone, and `alone()`'s words before any
 * expert came. Returns the function that redraws it: call it on every status or presence change,
 * every second (the timers) and after a change of language.
 * @param {import('./peer.js').PeerSession} live
 * @param {HTMLElement} line
 * @param {() => string} alone the words while no expert has joined yet
 */
export function makePresenceLine(live, line, alone) {
  const lasted = makeLastedClock();
  let expertSeen = false;
  return () => {
    const status = live.state.presence.expert || 'left';
    if (status === 'joined') expertSeen = true;
    const mine = lasted('self', live.state.status === 'reconnecting');
    const theirs = lasted('expert', live.state.joined && status === 'reconnecting');
    let text;
    let tone = '';
    if (live.state.status === 'connecting') text = t('presence.connecting');
    else if (live.state.status === 'reconnecting') [text, tone] = [t('presence.reconnecting', { time: mine }), 'warn'];
    else if (!live.state.joined) return;
    else if (status === 'joined') [text, tone] = [t('presence.expertConnected'), 'ok'];
    else if (status === 'reconnecting') [text, tone] = [t('presence.expertReconnecting', { time: theirs }), 'warn'];
    else if (expertSeen) [text, tone] = [t('presence.expertLeft'), 'bad'];
    else text = alone();
    line.textContent = text;
    line.dataset.tone = tone;
  };
}

/**
 * Stop every track of a stream (camera light off, microphone released).
 * @param {MediaStream|null} stream
 */
export function stopStream(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

/**
 * The phone's call is over (the customer and self-help pages): camera off, media detached, the
 * banner says why, the live view and the intro go.
 * @param {string} text
 * @param {MediaStream|null} camera
 */
export function showCallEnded(text, camera) {
  stopStream(camera);
  /** @type {HTMLVideoElement} */ (document.getElementById('local-video')).srcObject = null;
  /** @type {HTMLAudioElement} */ (document.getElementById('remote-audio')).srcObject = null;
  const banner = /** @type {HTMLElement} */ (document.getElementById('ended-banner'));
  banner.textContent = text;
  banner.hidden = false;
  /** @type {HTMLElement} */ (document.getElementById('live')).hidden = true;
  /** @type {HTMLElement} */ (document.getElementById('intro')).hidden = true;
  document.body.classList.remove('in-session');
}
