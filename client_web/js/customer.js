// The customer page: consent, then the rear camera and microphone go to the expert, whose voice
// plays back. getUserMedia is called only after the customer taps "Start camera". The AR view
// (overlay, current step, pointer) is in customer-ar.js. During the session the camera view
// fills the screen and the chat is below it, so a new expert line is also shown over the camera
// view and counted on the Chat button (docs/customer-page.md).

import { idFromPath, reportCustomerProblem } from './api.js';
import { bindCustomerAr } from './customer-ar.js';
import { PeerSession, exposeForTests, preferVp8 } from './peer.js';
import { bindChat, bindErrors, showRecording, stopStream } from './session-ui.js';
import { joinCustomer } from './signaling.js';
import { byId, makeNotifier, sentence } from './ui.js';

/** Rear camera at 720p where the phone has one; any camera otherwise. */
const CAMERA_CONSTRAINTS = {
  video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  audio: true,
};
/** How long an expert's chat line stays over the camera view: long enough to read three lines. */
const CHAT_TOAST_MS = 9000;
/** The chat counts as read when this share of its log is on screen. */
const CHAT_READ_RATIO = 0.6;

const token = idFromPath('/join/');
const notify = makeNotifier(byId('notices'));
/** @type {MediaStream|null} */
let camera = null;
let consent = false;
let expertSeen = false;
/** The AR view (overlay, steps, pointer), once the session starts. */
let ar = null;

/** @param {string} text */
function showProblem(text) {
  const node = byId('customer-status');
  node.textContent = text;
  node.hidden = !text;
}

/**
 * Words for a getUserMedia failure, saying what to do.
 * @param {DOMException} error
 */
function cameraProblem(error) {
  switch (error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera blocked: allow camera access in your browser settings and reload';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found on this device.';
    case 'NotReadableError':
      return 'The camera is busy: close other apps that use it, then tap Start camera again.';
    default:
      return `The camera could not start (${error.name || error.message}).`;
  }
}

/** Camera and microphone; camera alone (with a note) when there is no microphone. */
async function openCamera() {
  try {
    return await navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
  } catch (error) {
    if (error.name !== 'NotFoundError') throw error;
    const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA_CONSTRAINTS.video });
    byId('mic-status').textContent = 'No microphone found: the expert cannot hear you. Use the chat.';
    return stream;
  }
}

/** The camera is sent only; the microphone both ways (the expert's voice comes back on it). */
async function addMedia(pc) {
  // Which preview frame each AR state belongs to comes from the video sender's sent frames.
  const tapVideoSender = await ar.prepareSender();
  if (pc.signalingState === 'closed') return; // replaced while the tap started
  for (const track of camera.getTracks()) {
    const sender = pc.addTrack(track, camera);
    if (track.kind === 'video') tapVideoSender(sender);
    const transceiver = pc.getTransceivers().find((t) => t.sender === sender);
    if (track.kind === 'video' && transceiver) {
      transceiver.direction = 'sendonly';
      preferVp8(transceiver);
    }
  }
  if (!camera.getAudioTracks().length) pc.addTransceiver('audio', { direction: 'recvonly' });
  // The AR data channel must be in the offer: the server can only answer what is offered.
  ar.attach(pc);
}

function onTrack(event) {
  if (event.track.kind !== 'audio') return;
  const audio = /** @type {HTMLAudioElement} */ (byId('remote-audio'));
  audio.srcObject = new MediaStream([event.track]);
  audio.play().catch(() => notify('Tap the page to hear the expert.', 'info'));
}

function showPresence(live) {
  const status = live.state.presence.expert || 'left';
  if (status === 'joined') expertSeen = true;
  let text;
  let tone = '';
  if (live.state.status === 'connecting') text = 'Connecting…';
  else if (live.state.status === 'reconnecting') [text, tone] = ['Reconnecting…', 'warn'];
  else if (!live.state.joined) return;
  else if (status === 'joined') [text, tone] = ['Expert connected', 'ok'];
  else if (status === 'reconnecting') [text, tone] = ['The expert is reconnecting…', 'warn'];
  else if (expertSeen) [text, tone] = ['The expert left', 'bad'];
  else text = 'Waiting for the expert to join…';
  const line = byId('presence');
  line.textContent = text;
  line.dataset.tone = tone;
}

function recordingStatus(live) {
  const status = live.state.recordingStatus;
  return status === 'none' && !consent ? 'declined' : status;
}

/** @param {string} text */
function showEnded(text) {
  stopStream(camera);
  byId('local-video').srcObject = null;
  byId('remote-audio').srcObject = null;
  const banner = byId('ended-banner');
  banner.textContent = text;
  banner.hidden = false;
  byId('live').hidden = true;
  byId('intro').hidden = true;
  document.body.classList.remove('in-session');
}

function onStatus(live, status, detail) {
  if (status === 'problem') {
    const line = byId('call-problem');
    line.textContent = `${sentence(detail && detail.message)} Try reloading the page; if it happens again, open the link in another browser (Chrome, Safari, Firefox or Edge) or update this one. The expert has been told.`;
    line.hidden = false;
    return;
  }
  if (status === 'ended') showEnded('The session has ended. Thank you!');
  else if (status === 'replaced') showEnded('This session was opened in another tab');
  else if (status === 'refused') showEnded(sentence(detail && detail.message) || 'This link cannot be used any more.');
  else showPresence(live);
  if (status === 'joined') showRecording(byId('recording-badge'), recordingStatus(live));
}

/**
 * Bring the expert's chat lines to where the customer looks: the newest one over the foot of the
 * camera view for CHAT_TOAST_MS, and a count on the Chat button until the chat is read (its log
 * on screen, or its input in use). A tap on either scrolls down to the chat.
 * @param {import('./peer.js').PeerSession} live
 */
function bindChatAlerts(live) {
  const chat = byId('chat');
  const log = byId('chat-log');
  const toast = byId('chat-toast');
  const button = byId('chat-button');
  const unread = byId('chat-unread');
  const seen = new Set();
  let count = 0;
  let toastTimer = null;

  /** The chat log is on screen now (measured, not remembered: the phone may just have turned). */
  const chatInView = () => {
    const box = log.getBoundingClientRect();
    const shown = Math.min(box.bottom, window.innerHeight) - Math.max(box.top, 0);
    return document.visibilityState === 'visible' && box.height > 0 && shown / box.height >= CHAT_READ_RATIO;
  };

  const showCount = () => {
    unread.textContent = String(count);
    unread.hidden = count === 0;
    button.setAttribute('aria-label', count ? `Chat, ${count} new message${count === 1 ? '' : 's'}` : 'Chat');
  };
  const markRead = () => {
    count = 0;
    showCount();
    clearTimeout(toastTimer);
    toast.hidden = true;
  };
  const openChat = () => {
    chat.scrollIntoView({ block: 'end' });
    markRead();
  };

  // Scrolling down to the chat reads it (measured again: a notice may come late).
  new IntersectionObserver(() => {
    if (chatInView()) markRead();
  }, { threshold: [0, CHAT_READ_RATIO, 1] }).observe(log);

  live.signaling.on('chat', (line) => {
    // After a reconnect the server may send lines again (bindChat shows each id once too).
    if (line.from_role === 'customer' || (line.id && seen.has(line.id))) return;
    if (line.id) seen.add(line.id);
    if (chatInView()) return; // read as it comes
    count += 1;
    showCount();
    byId('chat-toast-text').textContent = line.text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, CHAT_TOAST_MS);
  });
  button.addEventListener('click', openChat);
  toast.addEventListener('click', openChat);
  byId('chat-input').addEventListener('focus', markRead);
  byId('back-to-camera').addEventListener('click', () => window.scrollTo(0, 0));
}

function startSession() {
  const live = new PeerSession({
    makeJoin: () => joinCustomer(token, consent),
    addMedia,
    onTrack,
    onStatus: (status, detail) => onStatus(live, status, detail),
  });
  exposeForTests(live);
  ar = bindCustomerAr(live, { video: /** @type {HTMLVideoElement} */ (byId('local-video')) });
  bindChat(live, { log: byId('chat-log'), input: byId('chat-input'), button: byId('chat-send'), selfRole: 'customer', notify });
  bindChatAlerts(live);
  bindErrors(live, notify);
  live.signaling.on('presence', () => showPresence(live));
  live.signaling.on('recording', () => showRecording(byId('recording-badge'), recordingStatus(live)));
  live.start();
}

async function onJoin() {
  const button = byId('join-button');
  button.disabled = true;
  showProblem('');
  try {
    camera = await openCamera();
  } catch (error) {
    showProblem(cameraProblem(error));
    button.disabled = false;
    return;
  }
  consent = byId('consent-checkbox').checked;
  for (const track of camera.getVideoTracks()) {
    track.addEventListener('ended', () => notify('The camera stopped. Reload the page to start it again.'));
  }
  byId('local-video').srcObject = camera;
  byId('intro').hidden = true;
  byId('live').hidden = false;
  document.body.classList.add('in-session');
  window.scrollTo(0, 0);
  startSession();
}

/** What this page needs to make a call that this browser lacks, in words. */
function missingFeatures() {
  const missing = [];
  if (typeof RTCPeerConnection === 'undefined') missing.push('video calls (WebRTC, RTCPeerConnection)');
  if (typeof WebSocket === 'undefined') missing.push('live messages (WebSocket)');
  return missing;
}

/** Tell the customer plainly, before they consent to anything, and tell the expert through the server. */
function refuseUnsupportedBrowser(missing) {
  byId('consent-block').hidden = true;
  showProblem(`This browser cannot make video calls: it has no ${missing.join(' and no ')}. `
    + 'Open this link in another browser (Chrome, Safari 15 or newer, Firefox or Edge), or update this one. '
    + 'The expert has been told.');
  reportCustomerProblem(token, `the customer's browser cannot make video calls: it has no ${missing.join(' and no ')}`)
    .catch(() => {}); // the customer has been told; the expert hears of it when the server is reachable
}

function main() {
  const button = byId('join-button');
  const missing = missingFeatures();
  if (missing.length && token) {
    refuseUnsupportedBrowser(missing);
    return;
  }
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showProblem('Open this link over https://… (the camera only works on a secure page). Ask the expert for a secure link.');
    button.disabled = true;
    return;
  }
  if (!token) {
    showProblem('This link is incomplete. Ask the expert to send it again.');
    button.disabled = true;
    return;
  }
  button.addEventListener('click', onJoin);
}

main();
