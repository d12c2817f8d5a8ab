// The customer's AR view: the overlay over the camera preview, the current step in a sheet (below
// the picture upright, where a tap folds it to its title; beside the picture sideways), "Point the
// camera at your device: …" while the device is not found, "Done! Next: …" when the camera saw a
// step done, "All steps done" at the end, and the expert's pointer.

import { ArFollower } from './ar-follow.js';
import { ArFeed, currentStep, deviceName, makeRedrawer, stepsOf } from './ar-session.js';
import { CustomerFrameSync, openSentFramesTap } from './frame-sync.js';
import { onLanguageChange, t } from './i18n.js';
import { drawOverlay } from './overlay.js';
import { byId, el } from './ui.js';

/** How long "Done! Next: …" stays. */
const STEP_DONE_MS = 2200;

/**
 * The sign shown while the camera does not see the device. The model is free text from the
 * procedure ("Any home router or small box", "ACME R-200"), so it follows a colon: an article
 * in front of it ("the …") reads well for some names and not for others.
 * @param {object|null} state a `procedure` message
 */
export function deviceSignText(state) {
  const model = deviceName(state, '');
  return model ? t('ar.pointAtModel', { model }) : t('ar.pointAtDevice');
}

/**
 * Every step is done and the expert is not showing an earlier one again: the server keeps
 * `completed` when the expert goes back, and stays on the last step once it is done.
 * @param {object|null} state a `procedure` message
 */
export function allStepsDone(state) {
  const steps = stepsOf(state);
  const done = new Set((state && state.completed) || []);
  const { index } = currentStep(state);
  return steps.length > 0 && steps.every((s) => done.has(s.id)) && (index < 0 || index === steps.length - 1);
}

/**
 * @param {import('./peer.js').PeerSession} live
 * @param {{video: HTMLVideoElement}} parts the camera preview (the same camera the server sees)
 * @returns {{attach: (pc: RTCPeerConnection) => void, feed: ArFeed}}
 */
export function bindCustomerAr(live, { video }) {
  const canvas = /** @type {HTMLCanvasElement} */ (byId('overlay-canvas'));
  const panel = byId('step-panel');
  const toggle = byId('step-toggle');
  let doneTimer = null;
  let previous = null;

  const feed = new ArFeed(live, (kind, message) => {
    if (kind === 'procedure') onProcedure(message);
    if (kind === 'ar') follower.noteState(message);
    showDeviceSign();
    redraw(kind === 'ar');
  });
  feed.expose();

  // Each state is put on the preview frame it was computed on and carried to the frame on screen
  // (ar-follow.js); the preview's every new frame redraws the overlay. The state's frame_size is
  // the frame the server decoded from this phone's stream; the preview shows the same camera, so
  // the state is scaled onto the preview's displayed box.
  const sync = new CustomerFrameSync();
  const follower = new ArFollower(video, sync, { onFrame: () => redraw(true) });
  /** Reads the frames the current connection's video sender sends (openSentFramesTap), or null. */
  let tap = null;

  const redraw = makeRedrawer(() => {
    const placed = follower.place(feed.ar.last);
    const stale = feed.isStale();
    drawOverlay(canvas, video, placed.state, {
      pinned: feed.pinnedMarks(placed.state),
      pointer: feed.currentPointer(),
      stale,
      fontPx: 17,
    });
    feed.noteDrawn(placed, stale);
  });

  /**
   * Before a new peer connection's tracks are added: start reading the frames its video sender will
   * send (a new sender has a new RTP clock). Resolves to a function to call with the video sender
   * in the very task that made it (openSentFramesTap says why).
   * @returns {Promise<(sender: RTCRtpSender) => void>}
   */
  async function prepareSender() {
    if (tap) tap.stop();
    tap = null;
    const opened = follower.supported ? await openSentFramesTap((rtpTimestamp, leftAt) => sync.noteSent(rtpTimestamp, leftAt)) : null;
    tap = opened;
    // Without the sent frames no state can be put on its preview frame: copying frames is wasted.
    follower.active = Boolean(opened);
    return (sender) => {
      if (opened && opened === tap && !opened.install(sender)) follower.active = false;
    };
  }

  /**
   * A new peer connection (its tracks added, before its offer): the AR channel.
   * @param {RTCPeerConnection} pc
   */
  function attach(pc) {
    follower.reset(true);
    feed.attach(pc);
  }

  function onProcedure(state) {
    const before = previous;
    previous = state;
    const steps = stepsOf(state);
    const { step, index } = currentStep(state);
    const finished = allStepsDone(state);
    panel.hidden = !state.procedure;
    if (state.procedure) {
      if (finished) {
        showStep(t('step.allDoneCount', { total: steps.length }), t('step.allDone'), t('step.allDoneNext'), [], 'done');
      } else if (step) {
        showStep(t('step.count', { n: index + 1, total: steps.length }), step.title || '', step.instruction || '',
          Array.isArray(step.safety) ? step.safety : [], 'step');
      } else {
        showStep(state.procedure.title || '', t('step.follow'), '', [], 'step');
      }
      // A new step, or the end, opens a folded sheet: its text is what the person reads next.
      if (!before || before.step_id !== state.step_id || finished !== allStepsDone(before)) setFolded(false);
    }
    const progressed = before && (before.step_id !== state.step_id || state.completed.length > before.completed.length);
    if (state.changed_by === 'vision' && progressed) {
      if (step && state.step_id !== before.step_id) showStepDone(t('step.doneNext', { title: step.title }));
      else showStepDone(finished ? t('step.doneAll') : t('step.done'));
    }
  }

  /**
   * @param {string} count @param {string} title @param {string} instruction
   * @param {string[]} safety @param {'step'|'done'} kind
   */
  function showStep(count, title, instruction, safety, kind) {
    byId('step-count').textContent = count;
    byId('step-title').textContent = title;
    byId('step-instruction').textContent = instruction;
    byId('step-safety').replaceChildren(...safety.map((line) => el('li', {}, `⚠ ${line}`)));
    panel.dataset.state = kind;
  }

  /** Fold the sheet to its head (count and title) or open it; upright only (see app.css). */
  function setFolded(folded) {
    panel.dataset.folded = String(folded);
    toggle.setAttribute('aria-expanded', String(!folded));
    toggle.setAttribute('aria-label', folded ? t('step.showLabel') : t('step.hideLabel'));
    toggle.replaceChildren(el('span', { 'aria-hidden': 'true' }, folded ? t('step.show') : t('step.hide')));
  }

  // A tap anywhere on the head (handle, count, title) folds or opens the sheet. Sideways the
  // handle is not shown and the text, beside the picture, does not fold.
  byId('step-head').addEventListener('click', () => {
    if (toggle.offsetParent !== null) setFolded(panel.dataset.folded !== 'true');
  });
  setFolded(false);
  // Another language picked: the sheet and the sign in its words now.
  onLanguageChange(() => {
    setFolded(panel.dataset.folded === 'true');
    if (previous) onProcedure(previous);
    showDeviceSign();
  });

  function showStepDone(text) {
    const note = byId('step-done');
    note.textContent = `✓ ${text}`;
    note.hidden = false;
    try {
      if (navigator.vibrate) navigator.vibrate(120);
    } catch {
      // vibration is a nicety
    }
    clearTimeout(doneTimer);
    doneTimer = setTimeout(() => {
      note.hidden = true;
      showDeviceSign();
    }, STEP_DONE_MS);
    showDeviceSign();
  }

  /** "Point the camera at your device: …": a procedure is active and the newest AR state says not found. */
  function showDeviceSign() {
    const sign = byId('device-not-found');
    const procedure = feed.procedure && feed.procedure.procedure;
    const state = feed.ar.last;
    const show = Boolean(procedure && state && !state.found) && byId('step-done').hidden;
    if (show) {
      const text = deviceSignText(feed.procedure);
      if (sign.textContent !== text) sign.textContent = text;
    }
    sign.hidden = !show;
  }

  setInterval(redraw, 500); // staleness and the pointer's timeout
  new ResizeObserver(() => redraw()).observe(byId('video-frame'));
  video.addEventListener('resize', redraw);
  video.addEventListener('loadedmetadata', redraw);

  return { prepareSender, attach, feed };
}
