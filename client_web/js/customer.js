// The customer page: consent, then the rear camera and microphone go to the expert, whose voice
// plays back. getUserMedia is called only after the customer taps "Start camera". The AR view
// (overlay, current step, pointer) is in customer-ar.js. During the session the camera view
// fills the screen and the chat is below it, so a new expert line is also shown over the camera
// view and counted on the Chat button (docs/customer-page.md).

import { idFromPath, reportCustomerProblem } from './api.js';
import { addCameraMedia, cameraProblem, openCamera } from './camera.js';
import { bindCustomerAr } from './customer-ar.js';
import { explain, inEnglish, listOf, onLanguageChange, setText, t } from './i18n.js';
import { adaptToLink } from './link-adapt.js';
import { PeerSession, exposeForTests } from './peer.js';
import { bindCameraControls, bindTapToHear, keepScreenAwake } from './phone.js';
import { bindChat, bindErrors, makePresenceLine, showCallEnded, showRecording } from './session-ui.js';
import { joinCustomer, setLanguage } from './signaling.js';
import { byId, makeNotifier, sentence } from './ui.js';

/** How long an expert's chat line stays over the camera view: long enough to read three lines. */
const CHAT_TOAST_MS = 9000;
/** The chat counts as read when this share of its log is on screen. */
const CHAT_READ_RATIO = 0.6;

const token = idFromPath('/join/');
/** Where this tab keeps its seat's resume secret: a reload finds it, another browser has none. */
const RESUME_KEY = `repairsight.resume.${token}`;
const notify = makeNotifier(byId('notices'));
/** @type {MediaStream|null} */
let camera = null;
let consent = false;
/** The AR view (overlay, steps, pointer), once the session starts. */
let ar = null;

/** The resume secret of this tab's seat, if it joined this session before. */
function storedResume() {
  try {
    return sessionStorage.getItem(RESUME_KEY);
  } catch {
    return null; // storage blocked: the page still joins, as a new join
  }
}

/** The seat's secret, in memory too: a rejoin after a drop works where storage is blocked. */
let resumeSecret = storedResume();

/** @param {string|null} resume */
function keepResume(resume) {
  resumeSecret = resume;
  try {
    if (resume) sessionStorage.setItem(RESUME_KEY, resume);
    else sessionStorage.removeItem(RESUME_KEY);
  } catch {
    // storage blocked: a reload will join as a new join
  }
}

/** @param {string} text */
function showProblem(text) {
  const node = byId('customer-status');
  node.textContent = text;
  node.hidden = !text;
}

/** The camera is sent only; the microphone both ways (the expert's voice comes back on it). */
const addMedia = (pc) => addCameraMedia(pc, camera, ar);
const hearExpert = bindTapToHear(/** @type {HTMLAudioElement} */ (byId('remote-audio')), byId('tap-to-hear'));
const onTrack = (event) => { if (event.track.kind === 'audio') hearExpert(event.track); };
/** The screen kept on and the camera controls, while the session runs (phone.js). */
let phone = null;

/** The status line (session-ui.js), once the session starts. */
let showPresence = () => {};

function recordingStatus(live) {
  const status = live.state.recordingStatus;
  return status === 'none' && !consent ? 'declined' : status;
}

/** @param {string} text */
function showEnded(text) {
  if (phone) phone.stop();
  showCallEnded(text, camera);
}

function onStatus(live, status, detail) {
  if (status === 'ended' || status === 'replaced') keepResume(null);
  if (status === 'problem') {
    const line = byId('call-problem');
    line.textContent = t('problem.call', { problem: sentence(explain(detail)) });
    line.hidden = false;
    return;
  }
  if (status === 'ended') showEnded(t('ended.thanks'));
  else if (status === 'replaced') showEnded(t('ended.replaced'));
  else if (status === 'refused') showEnded(sentence(explain(detail)) || t('ended.refused'));
  else showPresence();
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
    button.setAttribute('aria-label', count ? t('chat.buttonUnread', { count }) : t('chat.button'));
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

/**
 * Screen kept on, camera restarted after the background, camera switch and torch (phone.js).
 * @param {PeerSession} live
 */
function bindPhone(live) {
  const screen = keepScreenAwake();
  const controls = bindCameraControls({
    camera,
    getPc: () => live.pc,
    video: /** @type {HTMLVideoElement} */ (byId('local-video')),
    switchButton: byId('switch-camera'),
    torchButton: byId('torch'),
    notify,
  });
  window.repairsight.phone = { screen: screen.state, camera: controls.state };
  return { stop: () => { screen.stop(); controls.stop(); } };
}

function startSession() {
  const live = new PeerSession({
    // Every (re)join presents the seat's secret and the consent given at the last tap.
    makeJoin: () => joinCustomer(token, consent, resumeSecret),
    addMedia,
    onTrack,
    onStatus: (status, detail) => onStatus(live, status, detail),
  });
  exposeForTests(live);
  showPresence = makePresenceLine(live, byId('presence'), () => t('presence.waiting'));
  phone = bindPhone(live);
  // The video steps down on a weak link and back up after it (link-adapt.js); the voices go first.
  window.repairsight.link = adaptToLink({ getPc: () => live.pc, send: (message) => live.send(message) }).state;
  ar = bindCustomerAr(live, { video: /** @type {HTMLVideoElement} */ (byId('local-video')) });
  bindChat(live, { log: byId('chat-log'), input: byId('chat-input'), button: byId('chat-send'), selfRole: 'customer', notify });
  bindChatAlerts(live);
  bindErrors(live, notify);
  live.signaling.on('joined', (joined) => keepResume(joined.resume || null));
  live.signaling.on('presence', () => showPresence());
  setInterval(() => showPresence(), 1000); // the reconnecting timers
  live.signaling.on('recording', () => showRecording(byId('recording-badge'), recordingStatus(live)));
  onLanguageChange((code) => {
    showPresence();
    if (live.state.joined) showRecording(byId('recording-badge'), recordingStatus(live));
    // The procedure's steps and overlay labels follow (the server sends them in this language); a
    // page not joined now says its language in its next join.
    if (live.state.joined) live.send(setLanguage(code));
  });
  live.start();
}

/**
 * The tap that starts the call (the browser gives the camera only after one).
 * @param {boolean} givenConsent the customer's answer to the recording question, at this tap
 */
async function onJoin(givenConsent) {
  const buttons = ['join-button', 'rejoin-recorded', 'rejoin-unrecorded'].map(byId);
  for (const button of buttons) button.disabled = true;
  showProblem('');
  try {
    camera = await openCamera(() => {
      setText(byId('mic-status'), 'mic.none');
    });
  } catch (error) {
    showProblem(cameraProblem(error, t('intro.startCamera')));
    for (const button of buttons) button.disabled = false;
    return;
  }
  consent = givenConsent;
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
  if (typeof RTCPeerConnection === 'undefined') missing.push('browser.webrtc');
  if (typeof WebSocket === 'undefined') missing.push('browser.websocket');
  return missing;
}

/** Tell the customer plainly, before they consent to anything, and tell the expert through the server. */
function refuseUnsupportedBrowser(missing) {
  byId('consent-block').hidden = true;
  showProblem(t('browser.unsupported', { missing: listOf(missing.map((key) => t(key))) }));
  reportCustomerProblem(token, `the customer's browser cannot make video calls: it has no ${missing.map(inEnglish).join(' and no ')}`)
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
    showProblem(t('link.insecure'));
    button.disabled = true;
    return;
  }
  if (!token) {
    showProblem(t('link.incomplete'));
    button.disabled = true;
    return;
  }
  button.addEventListener('click', () => onJoin(byId('consent-checkbox').checked));
  if (resumeSecret) {
    // A reload: one tap rejoins, and the recording question is asked again with it.
    setText(byId('intro-heading'), 'rejoin.heading');
    byId('intro-steps').hidden = true;
    byId('consent-block').hidden = true;
    byId('rejoin-block').hidden = false;
    byId('rejoin-recorded').addEventListener('click', () => onJoin(true));
    byId('rejoin-unrecorded').addEventListener('click', () => onJoin(false));
  }
}

main();
