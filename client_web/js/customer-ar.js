// The customer's AR view: the overlay over the camera preview, the current step in a bottom
// sheet, "Point the camera at …" while the device is not found, "Done! Next: …" when the camera
// saw a step done, and the expert's pointer.

import { ArFeed, currentStep, deviceName, makeRedrawer, stepsOf } from './ar-session.js';
import { drawOverlay } from './overlay.js';
import { byId, el } from './ui.js';

/** How long "Done! Next: …" stays. */
const STEP_DONE_MS = 2200;

/**
 * @param {import('./peer.js').PeerSession} live
 * @param {{video: HTMLVideoElement}} parts the camera preview (the same camera the server sees)
 * @returns {{attach: (pc: RTCPeerConnection) => void, feed: ArFeed}}
 */
export function bindCustomerAr(live, { video }) {
  const canvas = /** @type {HTMLCanvasElement} */ (byId('overlay-canvas'));
  let doneTimer = null;
  let previous = null;

  const feed = new ArFeed(live, (kind, message) => {
    if (kind === 'procedure') onProcedure(message);
    showDeviceSign();
    redraw(kind === 'ar');
  });
  feed.expose();

  // The AR state's frame_size is the frame the server decoded from this phone's stream; the
  // preview shows the same camera, so the state is scaled onto the preview's displayed box.
  const redraw = makeRedrawer(() => {
    const state = feed.ar.last;
    drawOverlay(canvas, video, state, {
      pinned: feed.pinnedMarks(state),
      pointer: feed.currentPointer(),
      stale: feed.isStale(),
      fontPx: 17,
    });
  });

  function onProcedure(state) {
    const before = previous;
    previous = state;
    const steps = stepsOf(state);
    const { step, index } = currentStep(state);
    const panel = byId('step-panel');
    panel.hidden = !state.procedure;
    if (state.procedure) {
      if (step) {
        byId('step-count').textContent = `Step ${index + 1} of ${steps.length}`;
        byId('step-title').textContent = step.title || '';
        byId('step-instruction').textContent = step.instruction || '';
        const safety = Array.isArray(step.safety) ? step.safety : [];
        byId('step-safety').replaceChildren(...safety.map((line) => el('li', {}, `⚠ ${line}`)));
      } else {
        byId('step-count').textContent = state.procedure.title || '';
        byId('step-title').textContent = steps.length && state.completed.length >= steps.length ? 'All steps done' : 'Follow the expert';
        byId('step-instruction').textContent = steps.length && state.completed.length >= steps.length
          ? 'Well done! The expert will tell you what comes next.' : '';
        byId('step-safety').replaceChildren();
      }
    }
    const progressed = before && (before.step_id !== state.step_id || state.completed.length > before.completed.length);
    if (state.changed_by === 'vision' && progressed) {
      const allDone = steps.length > 0 && steps.every((s) => state.completed.includes(s.id));
      if (step && state.step_id !== before.step_id) showStepDone(`Done! Next: ${step.title}`);
      else showStepDone(allDone ? 'Done! All steps complete.' : 'Done!');
    }
  }

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

  /** "Point the camera at the <device>": a procedure is active and the newest AR state says not found. */
  function showDeviceSign() {
    const sign = byId('device-not-found');
    const procedure = feed.procedure && feed.procedure.procedure;
    const state = feed.ar.last;
    const show = Boolean(procedure && state && !state.found) && byId('step-done').hidden;
    if (show) {
      const text = `Point the camera at the ${deviceName(feed.procedure)}`;
      if (sign.textContent !== text) sign.textContent = text;
    }
    sign.hidden = !show;
  }

  setInterval(redraw, 500); // staleness and the pointer's timeout
  new ResizeObserver(() => redraw()).observe(byId('video-frame'));
  video.addEventListener('resize', redraw);
  video.addEventListener('loadedmetadata', redraw);

  return { attach: (pc) => feed.attach(pc), feed };
}
