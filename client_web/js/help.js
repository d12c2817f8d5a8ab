// The self-help page (/help/<token>, docs/self-help.md): what will happen and the recording consent,
// then the link's procedure on the customer's own camera with the AR overlay, alone. A step the
// camera checks moves on by itself; on the others the customer taps "Done". At the end: "Did this
// fix it?" Yes closes the case; No, or "Talk to an expert" at any step, puts them in the experts'
// queue, still on this page with the camera running, until an expert joins this same session.
//
// It is the customer page's session (peer.js, customer-ar.js, session-ui.js, camera.js) with the
// run's own controls: the run is started over REST, and from then on the page is a customer of the
// run's session, joined with that session's customer link.

import { ApiError, api, idFromPath } from './api.js';
import { currentStep } from './ar-session.js';
import { addCameraMedia, cameraProblem, openCamera } from './camera.js';
import { bindTapToHear } from './phone.js';
import { allStepsDone, bindCustomerAr } from './customer-ar.js';
import { explain, listOf, onLanguageChange, setText, t } from './i18n.js';
import { PeerSession, exposeForTests } from './peer.js';
import { bindChat, bindErrors, makePresenceLine, showCallEnded, showRecording, stopStream } from './session-ui.js';
import { joinCustomer } from './signaling.js';
import { byId, el, makeNotifier, sentence } from './ui.js';

/** How often the page asks for its place while waiting for an expert. */
const QUEUE_POLL_MS = 3000;

const linkToken = idFromPath('/help/');
/** Where this tab keeps its run: a reload goes on with it (same case, same session, same place). */
const RUN_KEY = `repairsight.selfhelp.${linkToken}`;
const notify = makeNotifier(byId('notices'));
const hearExpert = bindTapToHear(/** @type {HTMLAudioElement} */ (byId('remote-audio')), byId('tap-to-hear'));
/** @type {MediaStream|null} */
let camera = null;
let consent = false;
/** The run: {run_id, session_id, join_token} once started. */
let run = null;
/** The AR view, once the session starts. */
let ar = null;
/** @type {PeerSession|null} */
let live = null;
/** 'running' | 'escalated' | 'picked_up' | 'fixed' */
let runState = 'running';
let queueTimer = null;
/** The last `procedure` message. */
let procedureState = null;
/** The status line (session-ui.js), once the session starts. */
let presenceLine = () => {};
/** The last place in the queue shown, to say again in another language. */
let placeShown = null;

/** @param {string} text */
function showProblem(text) {
  const node = byId('customer-status');
  node.textContent = text;
  node.hidden = !text;
}

/** The run this tab started before, if any. */
function storedRun() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(RUN_KEY) || 'null');
    return kept && kept.join_token ? kept : null;
  } catch {
    return null; // storage blocked or spoilt: a new run
  }
}

/** @param {object|null} value */
function keepRun(value) {
  try {
    if (value) sessionStorage.setItem(RUN_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(RUN_KEY);
  } catch {
    // storage blocked: a reload starts a new run
  }
}

/**
 * The run to join: this tab's earlier one while it goes on (a reload), else a new one. Resolves to
 * the earlier run's place, or null for a new run.
 */
async function openRun() {
  run = storedRun();
  if (run) {
    try {
      const place = await runCall('');
      if (place.state !== 'fixed') return place;
    } catch {
      // its session has ended or its link is gone: a new run
    }
  }
  run = await api(`/help/${encodeURIComponent(linkToken)}/runs`, { method: 'POST', body: {}, redirectOn401: false });
  keepRun(run);
  return null;
}

/** The run's own calls, with its session's customer link. */
function runCall(path, body) {
  const options = body === undefined ? { redirectOn401: false } : { method: 'POST', body, redirectOn401: false };
  return api(`/join/${encodeURIComponent(run.join_token)}/self-help${path}`, options);
}

// --- before the start: what will happen --------------------------------------------------------------

async function showIntro() {
  try {
    const { procedure } = await api(`/help/${encodeURIComponent(linkToken)}/procedure`, { redirectOn401: false });
    setText(byId('intro-heading'), 'help.heading', { title: procedure.title });
    setText(document.querySelector('title'), 'help.pageTitleOf', { title: procedure.title });
    setText(byId('device-line'), 'help.deviceFor', { model: procedure.device.model });
    const steps = procedure.steps || [];
    setText(byId('step-total'), 'help.stepTotal', { count: steps.length });
    const safety = [...new Set(steps.flatMap((s) => (Array.isArray(s.safety) ? s.safety : [])))];
    byId('intro-safety').replaceChildren(...safety.map((line) => el('li', {}, `⚠ ${line}`)));
    byId('intro-safety').hidden = safety.length === 0;
  } catch (error) {
    showProblem(explain(error));
    byId('start-button').disabled = true;
  }
}

// --- the session -------------------------------------------------------------------------------------

/** Before an expert comes: alone with the guide, or waiting for one. */
function aloneText() {
  return runState === 'escalated' || runState === 'picked_up' ? t('help.waitingForExpert') : t('help.guided');
}

function showPresence() {
  presenceLine();
  if (live.state.presence.expert === 'joined') showQueue(null);
}

function recordingStatus() {
  const status = live.state.recordingStatus;
  return status === 'none' && !consent ? 'declined' : status;
}

/** @param {string} text */
function showEnded(text) {
  clearInterval(queueTimer);
  showCallEnded(text, camera);
}

function onStatus(status, detail) {
  if (status === 'problem') {
    const line = byId('call-problem');
    line.textContent = t('help.problemCall', { problem: sentence(explain(detail)) });
    line.hidden = false;
    return;
  }
  if (status === 'ended' || status === 'refused') keepRun(null);
  if (status === 'ended') {
    showEnded(runState === 'fixed' ? t('help.endedFixed') : t('ended.thanks'));
  } else if (status === 'replaced') showEnded(t('ended.replaced'));
  else if (status === 'refused') showEnded(sentence(explain(detail)) || t('ended.refused'));
  else showPresence();
  if (status === 'joined') showRecording(byId('recording-badge'), recordingStatus());
}

/**
 * The run's controls for the step shown: "Done" on a step the camera cannot check, "Did this fix
 * it?" once every step is done; neither once an expert is asked for (the expert leads from then on).
 * @param {object} state a `procedure` message
 */
function showRunControls(state) {
  procedureState = state;
  const { step } = currentStep(state);
  const finished = allStepsDone(state);
  const alone = runState === 'running';
  const manual = Boolean(step && step.completion && step.completion.kind === 'manual');
  byId('done-button').hidden = !(alone && !finished && manual);
  byId('fixed-question').hidden = !(alone && finished);
  if (finished && alone) byId('step-instruction').textContent = t('help.checkDevice');
  if (finished && !alone) byId('step-instruction').textContent = t('step.allDoneNext');
}

async function onDone() {
  const button = byId('done-button');
  const { step } = currentStep(procedureState);
  if (!step) return;
  button.disabled = true;
  try {
    await runCall('/done', { step_id: step.id });
  } catch (error) {
    notify(explain(error));
  } finally {
    button.disabled = false;
  }
}

/**
 * Put the run in the experts' queue: "Talk to an expert" (`asked`) or "No" at the end (`not_fixed`).
 * @param {'asked'|'not_fixed'} reason
 */
async function escalate(reason) {
  const button = byId('escalate-button');
  button.disabled = true;
  try {
    showPlace(await runCall('/escalate', { reason }));
  } catch (error) {
    button.disabled = false;
    notify(explain(error));
    return;
  }
  waitForExpert();
}

/**
 * From now on an expert leads: no "Talk to an expert", "Done" or "Did this fix it?"; the place in
 * the queue is asked for until one joins.
 * @param {object} [place] the run's place, to show at once
 */
function waitForExpert(place) {
  if (place) showPlace(place);
  byId('escalate-button').hidden = true;
  if (procedureState) showRunControls(procedureState);
  if (live) showPresence();
  clearInterval(queueTimer);
  if (runState === 'escalated') queueTimer = setInterval(pollPlace, QUEUE_POLL_MS);
}

async function pollPlace() {
  try {
    showPlace(await runCall(''));
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) return; // offline for a moment: ask again later
    clearInterval(queueTimer);
  }
}

/** @param {{state: string, position: number|null, estimated_wait_s: number|null, picked_up_by: string|null}} place */
function showPlace(place) {
  runState = place.state;
  placeShown = place;
  if (place.state === 'escalated' && place.position) {
    const wait = place.estimated_wait_s ? ` ${roughWait(place.estimated_wait_s)}` : '';
    showQueue(place.position === 1
      ? t('help.queueNext', { wait })
      : t('help.queuePlace', { position: place.position, wait }));
  } else if (place.state === 'picked_up') {
    clearInterval(queueTimer);
    showQueue(place.picked_up_by ? t('help.expertJoiningNamed', { name: place.picked_up_by }) : t('help.expertJoining'));
  }
  if (live && live.state.presence.expert === 'joined') showQueue(null);
}

/**
 * "About 4 min to wait.": a rough wait, in whole minutes (at least one).
 * @param {number} seconds
 */
function roughWait(seconds) {
  return t('help.roughWait', { minutes: Math.max(1, Math.round(seconds / 60)) });
}

/** @param {string|null} text */
function showQueue(text) {
  const line = byId('queue-position');
  line.textContent = text || '';
  line.hidden = !text;
}

async function onFixed() {
  byId('fixed-yes').disabled = true;
  try {
    runState = 'fixed';
    await runCall('/fixed', {});
  } catch (error) {
    runState = 'running';
    byId('fixed-yes').disabled = false;
    notify(explain(error));
  }
}

function startSession() {
  live = new PeerSession({
    // The seat's resume secret (from the first `joined`) lets a reload of this tab take its seat back.
    makeJoin: () => joinCustomer(run.join_token, consent, run.resume || null),
    addMedia: (pc) => addCameraMedia(pc, camera, ar),
    onTrack: (event) => {
      if (event.track.kind === 'audio') hearExpert(event.track);
    },
    onStatus,
  });
  exposeForTests(live);
  ar = bindCustomerAr(live, { video: /** @type {HTMLVideoElement} */ (byId('local-video')) });
  // After customer-ar's own handler, so these words win over its "the expert will tell you".
  live.signaling.on('procedure', (state) => showRunControls(ar.feed.procedure || state));
  bindChat(live, { log: byId('chat-log'), input: byId('chat-input'), button: byId('chat-send'), selfRole: 'customer', notify });
  bindErrors(live, notify);
  live.signaling.on('joined', (joined) => {
    run.resume = joined.resume || null;
    keepRun(run);
  });
  presenceLine = makePresenceLine(live, byId('presence'), aloneText);
  live.signaling.on('presence', () => showPresence());
  setInterval(() => presenceLine(), 1000); // the reconnecting timers
  live.signaling.on('recording', () => showRecording(byId('recording-badge'), recordingStatus()));
  onLanguageChange(() => {
    presenceLine();
    if (live.state.joined) showRecording(byId('recording-badge'), recordingStatus());
    if (procedureState) showRunControls(procedureState);
    if (placeShown && !byId('queue-position').hidden) showPlace(placeShown);
  });
  live.start();
}

async function onStart() {
  const button = byId('start-button');
  button.disabled = true;
  showProblem('');
  try {
    camera = await openCamera(() => {
      setText(byId('mic-status'), 'help.micNone');
    });
  } catch (error) {
    showProblem(cameraProblem(error, t('help.start')));
    button.disabled = false;
    return;
  }
  let place;
  try {
    place = await openRun();
  } catch (error) {
    stopStream(camera);
    showProblem(explain(error));
    button.disabled = false;
    return;
  }
  consent = byId('consent-checkbox').checked;
  for (const track of camera.getVideoTracks()) {
    track.addEventListener('ended', () => notify(t('camera.stopped')));
  }
  byId('local-video').srcObject = camera;
  byId('intro').hidden = true;
  byId('live').hidden = false;
  document.body.classList.add('in-session');
  window.scrollTo(0, 0);
  startSession();
  if (place && place.state !== 'running') waitForExpert(place);
}

function main() {
  const button = byId('start-button');
  const missing = [];
  if (typeof RTCPeerConnection === 'undefined') missing.push('browser.webrtc');
  if (typeof WebSocket === 'undefined') missing.push('browser.websocket');
  if (missing.length) {
    byId('consent-block').hidden = true;
    showProblem(t('help.browserUnsupported', { missing: listOf(missing.map((key) => t(key))) }));
    return;
  }
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showProblem(t('help.linkInsecure'));
    button.disabled = true;
    return;
  }
  if (!linkToken) {
    showProblem(t('help.linkIncomplete'));
    button.disabled = true;
    return;
  }
  showIntro();
  button.addEventListener('click', onStart);
  byId('done-button').addEventListener('click', onDone);
  byId('escalate-button').addEventListener('click', () => escalate('asked'));
  byId('fixed-no').addEventListener('click', () => escalate('not_fixed'));
  byId('fixed-yes').addEventListener('click', onFixed);
}

main();
