// The expert console: the customer's live camera and voice, the expert's microphone, chat, end,
// and the AR controls (console-ar.js).

import { endSessionRest, getCase, getSession, idFromPath } from './api.js';
import { bindConsoleAr } from './console-ar.js';
import { loadUser } from './header.js';
import { bindLinkSign } from './link-sign.js';
import { PeerSession, exposeForTests, preferVp8 } from './peer.js';
import { renderSessionLink } from './session-link.js';
import { bindChat, bindErrors, makeLastedClock, showRecording, stopStream } from './session-ui.js';
import { endSession, joinExpert } from './signaling.js';
import { byId, el, makeNotifier, sentence } from './ui.js';

const sessionId = idFromPath('/console/');
const video = /** @type {HTMLVideoElement} */ (byId('remote-video'));
const notify = makeNotifier(byId('notices'));

let caseId = null;
let sessionInfo = null;
let customerSeen = false;
/** @type {Promise<MediaStream|null>|null} */
let micPromise = null;
/** The microphone once known: undefined while the browser is still asking, null if there is none. */
let micStream;
/** @type {MediaStream|null} */
let remoteStream = null;
/** The AR controls, once the console is live. */
let ar = null;
const lasted = makeLastedClock();

/** A language tag in English words for the expert ("de" -> "German"); the tag itself where the browser has no name. @param {string} tag */
function languageName(tag) {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) || tag;
  } catch {
    return tag;
  }
}

function showPageError(text) {
  const node = byId('page-error');
  node.textContent = text;
  node.hidden = false;
  byId('console').hidden = true;
}

/** The expert's microphone, asked for once; null (and a note) when there is none or it is refused. */
async function openMicrophone() {
  const note = byId('mic-status');
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    note.textContent = 'No microphone here (the page needs https:// or localhost): the customer cannot hear you.';
    return null;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    note.textContent = 'Microphone on: the customer hears you.';
    return stream;
  } catch (error) {
    note.textContent = `No microphone (${error.name || 'error'}): the customer cannot hear you; use the chat.`;
    return null;
  }
}

/**
 * Tracks for a new peer connection: the microphone and receive-only video. While the browser is
 * still asking for the microphone, the offer goes out with an empty send-receive audio sender
 * that gets the microphone when it comes (replaceTrack needs no new offer); with no microphone,
 * audio is receive-only.
 */
function addMedia(pc) {
  const mic = micStream;
  const micTrack = mic && mic.getAudioTracks().find((t) => t.readyState === 'live');
  if (micTrack) {
    pc.addTrack(micTrack, mic);
  } else if (mic === undefined) {
    const audio = pc.addTransceiver('audio', { direction: 'sendrecv' });
    micPromise.then((stream) => {
      const track = stream && stream.getAudioTracks()[0];
      if (track && pc.signalingState !== 'closed') audio.sender.replaceTrack(track).catch(() => {});
    });
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
  }
  preferVp8(pc.addTransceiver('video', { direction: 'recvonly' }));
  remoteStream = new MediaStream();
  byId('video-placeholder').hidden = false;
}

/** The customer's video and voice play from the one (unmuted) video element. */
function onTrack(event) {
  remoteStream.addTrack(event.track);
  if (video.srcObject !== remoteStream) video.srcObject = remoteStream;
  playRemote();
}

function playRemote() {
  video.play().catch((error) => {
    if (error.name !== 'NotAllowedError') return;
    // The browser blocks sound until the expert interacts with the page: play muted, offer sound.
    video.muted = true;
    video.play().catch(() => {});
    byId('sound-button').hidden = false;
  });
}

function showPresence(live) {
  const line = byId('presence');
  const status = live.state.presence.customer || 'left';
  if (status === 'joined') customerSeen = true;
  const mine = lasted('self', live.state.status === 'reconnecting');
  const theirs = lasted('customer', live.state.joined && status === 'reconnecting');
  let text;
  let tone;
  if (live.state.status === 'connecting') [text, tone] = ['Connecting…', ''];
  else if (live.state.status === 'reconnecting') [text, tone] = [`Reconnecting… ${mine}`, 'warn'];
  else if (!live.state.joined) return;
  else if (status === 'joined') [text, tone] = ['Customer joined', 'ok'];
  else if (status === 'reconnecting') [text, tone] = [`Customer is reconnecting… ${theirs}`, 'warn'];
  else if (customerSeen) [text, tone] = ['Customer left', 'bad'];
  else [text, tone] = ['Waiting for the customer to join…', ''];
  line.textContent = text;
  line.dataset.tone = tone;
  line.dataset.customer = status;
  byId('invite').hidden = status === 'joined' || !sessionInfo;
}

function showEnded(text) {
  const banner = byId('ended-banner');
  banner.replaceChildren(text, caseId ? ' · ' : '', caseId ? el('a', { href: `/cases/${encodeURIComponent(caseId)}` }, 'Back to the case') : '');
  banner.hidden = false;
  for (const id of ['chat-input', 'chat-send']) byId(id).disabled = true;
  byId('end-session').hidden = true;
  if (ar) ar.disable();
  byId('invite').hidden = true;
  byId('presence').textContent = '';
  byId('video-placeholder').hidden = false;
  byId('video-placeholder').textContent = text;
  video.srcObject = null;
  micPromise.then(stopStream);
}

function onStatus(live, status, detail) {
  if (status === 'ended') showEnded('The session has ended');
  else if (status === 'replaced') showEnded('This session was opened in another tab');
  else if (status === 'refused') showEnded(sentence(detail && detail.message) || 'The server refused this console.');
  else showPresence(live);
  if (status === 'joined') showRecording(byId('recording-badge'), live.state.recordingStatus);
}

/** End session asks first: a slip of the mouse must not end a customer's call. */
function onEndClick(live) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('end-dialog'));
  dialog.returnValue = '';
  dialog.addEventListener('close', () => { if (dialog.returnValue === 'end') endNow(live); }, { once: true });
  dialog.showModal();
}

async function endNow(live) {
  const button = byId('end-session');
  button.disabled = true;
  if (live.state.joined && live.send(endSession())) return;
  // No live socket right now: end it through the REST API instead.
  try {
    await endSessionRest(sessionId);
    live.stop();
    showEnded('The session has ended');
  } catch (error) {
    notify(error.message);
    button.disabled = false;
  }
}

async function loadSession() {
  if (!sessionId) throw Object.assign(new Error('This address names no session.'), { status: 404 });
  sessionInfo = await getSession(sessionId);
  caseId = sessionInfo.case_id;
  const caseLink = byId('case-link');
  caseLink.href = `/cases/${encodeURIComponent(caseId)}`;
  caseLink.hidden = false;
  getCase(caseId).then((item) => {
    byId('case-title').textContent = `· ${item.title}`;
    document.title = `${item.title} · Console · RepairSight`;
  }).catch(() => {});
  return sessionInfo;
}

async function main() {
  try {
    await loadUser();
    await loadSession();
  } catch (error) {
    showPageError(error.status === 404
      ? 'There is no session with this id. Start a new session from the case page.'
      : error.message);
    return;
  }
  if (sessionInfo.state === 'ended') {
    showPageError('This session has already ended. Start a new session from the case page.');
    byId('page-error').append(' ', el('a', { href: `/cases/${encodeURIComponent(caseId)}` }, 'Open the case'));
    return;
  }
  byId('console').hidden = false;
  renderSessionLink(byId('invite-link'), sessionInfo, { withConsoleLink: false });
  showRecording(byId('recording-badge'), (sessionInfo.recording && sessionInfo.recording.status) || 'none');

  micPromise = openMicrophone();
  micPromise.then((stream) => { micStream = stream; });
  const live = new PeerSession({
    makeJoin: () => joinExpert(sessionId),
    addMedia: (pc) => {
      addMedia(pc);
      // The AR data channel must be in the offer: the server can only answer what is offered.
      ar.attach(pc);
    },
    onTrack,
    onStatus: (status, detail) => onStatus(live, status, detail),
  });
  exposeForTests(live);
  ar = bindConsoleAr(live, { video, notify });
  bindChat(live, { log: byId('chat-log'), input: byId('chat-input'), button: byId('chat-send'), selfRole: 'expert', notify });
  bindErrors(live, notify);
  bindLinkSign(live, byId('link-status'));
  // The customer's browser, and what keeps it out of the call when something does.
  live.signaling.on('participant_info', (m) => {
    const browser = byId('customer-browser');
    browser.textContent = `Customer's browser: ${m.browser}`;
    browser.hidden = false;
    const language = byId('customer-language');
    language.textContent = m.language ? `Customer's language: ${languageName(m.language)} (${m.language})` : '';
    language.hidden = !m.language;
    const problem = byId('customer-problem');
    problem.textContent = m.problem ? sentence(`The customer's side: ${m.problem}`) : '';
    problem.hidden = !m.problem;
  });
  live.signaling.on('presence', (m) => {
    showPresence(live);
    if (m.detail) notify(m.detail, 'info');
  });
  live.signaling.on('recording', (m) => showRecording(byId('recording-badge'), m.status));
  setInterval(() => { if (!byId('ended-banner').hidden) return; showPresence(live); }, 1000); // the timers
  video.addEventListener('playing', () => { byId('video-placeholder').hidden = true; });
  byId('sound-button').addEventListener('click', () => {
    video.muted = false;
    video.play().catch(() => {});
    byId('sound-button').hidden = true;
  });
  byId('end-session').hidden = false;
  byId('end-session').addEventListener('click', () => onEndClick(live));
  live.start();
}

main();
