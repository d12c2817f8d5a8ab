// The console's AR controls: the overlay over the customer's video, the procedure picker and
// steps, the drawing tools, freeze-frame, snapshots, burn-in and the list of marks.

import { listProcedures } from './api.js';
import { ArFollower } from './ar-follow.js';
import { ArFeed, currentStep, deviceName, makeRedrawer, stepsOf } from './ar-session.js';
import { ArTools, TOOLS } from './ar-tools.js';
import { ExpertFrameSync } from './frame-sync.js';
import { drawOverlay } from './overlay.js';
import * as msg from './signaling.js';
import { byId, el, formatClock } from './ui.js';

const SHAPE_NAMES = { arrow: 'Arrow', circle: 'Circle', rect: 'Box', freehand: 'Line', text: 'Text' };
const TOOL_HINTS = {
  arrow: 'Arrow: drag from the tail to the tip.',
  circle: 'Circle: drag from the centre out to the rim.',
  rect: 'Box: drag from one corner to the opposite corner.',
  freehand: 'Draw: drag to draw a line.',
  text: 'Text: click where the text goes, type it, press Enter.',
  pointer: 'Pointer: the customer sees a red dot where your mouse is.',
};
const IDLE_HINT = 'Pick a tool to draw on the video. Esc puts it down.';

/**
 * Wire the AR controls of the console to a live session.
 * @param {import('./peer.js').PeerSession} live
 * @param {{video: HTMLVideoElement, notify: (text: string, kind?: string) => void}} parts
 * @returns {{attach: (pc: RTCPeerConnection) => void, disable: () => void}}
 */
export function bindConsoleAr(live, { video, notify }) {
  const canvas = /** @type {HTMLCanvasElement} */ (byId('overlay-canvas'));
  const send = (message) => live.state.joined && live.send(message);
  /** The previous `procedure` message, to name the step vision just completed. */
  let previousProcedure = null;

  const feed = new ArFeed(live, (kind, message) => {
    if (kind === 'procedure') onProcedure(message);
    if (kind === 'annotations') {
      renderAnnotations();
      if (message && message.annotation) tools.noteAdded(message.annotation);
    }
    if (kind === 'ar') follower.noteState(message);
    if (kind === 'ar' || kind === 'channel') showArStatus();
    redraw(kind === 'ar');
  });
  feed.expose();

  // Live, each state is put on the received frame it was computed on and carried to the frame on
  // screen (ar-follow.js); every new frame redraws the overlay. Frozen, the frozen state is drawn.
  const follower = new ArFollower(video, new ExpertFrameSync(), { onFrame: () => redraw(true) });

  const redraw = makeRedrawer(() => {
    const frozen = tools.frozenAt;
    const placed = frozen
      ? { state: frozen.state, how: 'frozen', stateFrame: null, shownFrame: null }
      : follower.place(feed.ar.last);
    const stale = !frozen && feed.isStale();
    drawOverlay(canvas, tools.media, placed.state, {
      ...tools.overlayExtras(),
      pinned: feed.pinnedMarks(placed.state),
      stale,
    });
    feed.noteDrawn(placed, stale);
  });

  const tools = new ArTools({
    video,
    canvas,
    frozen: /** @type {HTMLCanvasElement} */ (byId('frozen-frame')),
    feed,
    send: (message) => send(message),
    notify,
    redraw,
    textForm: byId('text-form'),
    textInput: /** @type {HTMLInputElement} */ (byId('annotation-text')),
    onChange: showTools,
  });

  // --- tools, freeze, snapshot, burn-in ---

  for (const tool of TOOLS) {
    byId(`tool-${tool}`).addEventListener('click', () => tools.select(tool));
  }
  byId('freeze-frame').addEventListener('click', () => tools.toggleFreeze());
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target && target.id === 'chat-input') return;
    tools.escape();
  });

  function showTools() {
    for (const tool of TOOLS) byId(`tool-${tool}`).setAttribute('aria-pressed', String(tools.tool === tool));
    const freeze = byId('freeze-frame');
    freeze.setAttribute('aria-pressed', String(tools.isFrozen));
    freeze.textContent = tools.isFrozen ? '▶ Unfreeze' : '❄ Freeze';
    byId('frozen-badge').hidden = !tools.isFrozen;
    byId('video-frame').classList.toggle('frozen', tools.isFrozen);
    byId('tool-hint').textContent = (tools.tool ? TOOL_HINTS[tools.tool] : IDLE_HINT)
      + (tools.isFrozen ? ' The picture is frozen: marks go on the device as it was then.' : '');
  }

  byId('snapshot').addEventListener('click', () => {
    if (!send(msg.snapshot())) notify('Not connected: no snapshot was taken. Try again in a moment.');
  });
  live.signaling.on('snapshot_saved', (m) => {
    const when = formatClock(new Date().toISOString());
    byId('snapshot-list').prepend(el('li', { className: 'snapshot-item' },
      el('a', { href: m.url, target: '_blank', rel: 'noopener', 'data-testid': 'snapshot-link' }, `Snapshot ${when}`.trim()),
      ' ', el('span', { className: 'muted' }, m.device_found ? '(device located)' : '(no device located)'),
      ' ', el('a', { href: m.clean_url, target: '_blank', rel: 'noopener', className: 'muted', 'data-testid': 'snapshot-clean-link' }, 'without marks')));
    notify('Snapshot saved to the case.', 'info');
  });

  const burnIn = /** @type {HTMLInputElement} */ (byId('burn-in'));
  burnIn.addEventListener('change', () => {
    if (!send(msg.burnIn(burnIn.checked))) {
      burnIn.checked = !burnIn.checked;
      notify('Not connected: burn-in was not changed.');
    }
  });
  live.signaling.on('burn_in', (m) => { burnIn.checked = Boolean(m.enabled); });

  // AR stopping and coming back on its own (its media worker restarted): say so, the call goes on.
  live.signaling.on('vision_status', (m) => {
    const line = byId('vision-status');
    line.textContent = m.state === 'running' ? '' : m.message;
    line.hidden = m.state === 'running';
    line.dataset.state = m.state;
    notify(m.message, m.state === 'running' ? 'info' : 'error');
  });

  // --- procedure and steps ---

  const select = /** @type {HTMLSelectElement} */ (byId('procedure-select'));
  // Usable once the console has joined: a choice made before would have nowhere to go.
  let ended = false;
  select.disabled = true;
  live.signaling.on('joined', () => { if (!ended) select.disabled = false; });
  listProcedures().then((procedures) => {
    for (const item of procedures) {
      if (!item || !item.id || select.querySelector(`option[value="${CSS.escape(item.id)}"]`)) continue;
      select.append(el('option', { value: item.id }, item.title || item.id));
    }
    syncSelect();
  }).catch((error) => {
    select.title = `The procedures could not be loaded: ${error.message}`;
    notify(`The procedures could not be loaded: ${error.message}`);
  });
  select.addEventListener('change', () => {
    if (!send(msg.setProcedure(select.value || null))) {
      notify('Not connected: the procedure was not changed.');
      syncSelect();
    }
  });
  byId('step-previous').addEventListener('click', () => stepCommand('previous'));
  byId('step-next').addEventListener('click', () => stepCommand('next'));
  byId('step-complete').addEventListener('click', () => stepCommand('complete'));
  byId('step-list').addEventListener('click', (event) => {
    const item = /** @type {HTMLElement} */ (event.target).closest('[data-step-id]');
    if (item) stepCommand('jump', item.dataset.stepId);
  });
  // A refused command (an error) leaves the controls showing the server's state.
  live.signaling.on('error', () => syncSelect());

  function stepCommand(action, stepId) {
    if (!send(msg.step(action, stepId))) notify('Not connected: the step was not changed.');
  }

  function syncSelect() {
    const state = feed.procedure;
    const id = state && state.procedure ? state.procedure.id : '';
    if (id && !select.querySelector(`option[value="${CSS.escape(id)}"]`)) {
      select.append(el('option', { value: id }, state.procedure.title || id));
    }
    select.value = id || '';
  }

  function onProcedure(state) {
    const before = previousProcedure;
    previousProcedure = state;
    syncSelect();
    renderSteps(state);
    if (state.changed_by === 'vision' && before) {
      const done = currentStep(before).step;
      notify(`Step done, seen by the camera${done ? `: ${done.title}` : ''}.`, 'info');
    }
    showArStatus();
  }

  function renderSteps(state) {
    const steps = stepsOf(state);
    const { step, index } = currentStep(state);
    const completed = new Set(state.completed || []);
    byId('step-list').replaceChildren(...steps.map((s, i) => {
      const isCurrent = i === index;
      const isDone = completed.has(s.id);
      return el('li', {
        className: `step-item${isCurrent ? ' current' : ''}${isDone ? ' done' : ''}`,
        'data-testid': 'step-item',
        'data-step-id': s.id,
        'data-current': isCurrent ? 'true' : 'false',
        'data-completed': isDone ? 'true' : 'false',
        'aria-current': isCurrent ? 'step' : null,
      }, el('button', { type: 'button', className: 'step-button', title: `Go to this step: ${s.title}` },
        el('span', { className: 'step-tick', 'aria-hidden': 'true' }, isDone ? '✓' : String(i + 1)),
        el('span', { className: 'step-name' }, s.title || s.id),
        isDone ? el('span', { className: 'visually-hidden' }, ' (done)') : null));
    }));
    const has = steps.length > 0;
    byId('step-previous').disabled = !has || index <= 0;
    byId('step-next').disabled = !has || index < 0 || index >= steps.length - 1;
    byId('step-complete').disabled = !step;
    const box = byId('current-step');
    box.hidden = !step;
    if (step) {
      byId('current-step-number').textContent = `Step ${index + 1} of ${steps.length}`;
      byId('current-step-title').textContent = step.title || step.id;
      byId('current-step-instruction').textContent = step.instruction || '';
      const safety = Array.isArray(step.safety) ? step.safety : [];
      byId('current-step-safety').replaceChildren(...safety.map((line) => el('li', {}, `⚠ ${line}`)));
    }
  }

  // --- marks ---

  /** "step 2, Find header J5" for a step of the current procedure; the id only for one it lacks. */
  function stepName(stepId) {
    const steps = stepsOf(feed.procedure);
    const index = steps.findIndex((s) => s.id === stepId);
    return index >= 0 ? `step ${index + 1}, ${steps[index].title || stepId}` : `step ${stepId}`;
  }

  function renderAnnotations() {
    const list = byId('annotation-list');
    list.replaceChildren(...feed.annotations.map((mark) => {
      const name = SHAPE_NAMES[mark.shape] || mark.shape;
      const where = mark.anchored ? 'on the device' : 'pinned to the screen';
      return el('li', { className: 'annotation-item', 'data-testid': 'annotation-item', 'data-annotation-id': mark.id, 'data-anchored': String(Boolean(mark.anchored)) },
        el('span', { className: 'annotation-name' }, mark.text ? `${name} “${mark.text}”` : name),
        ' ', el('span', { className: 'muted' }, `${where}${mark.step_id ? ` · ${stepName(mark.step_id)}` : ''}`),
        el('button', {
          type: 'button', className: 'secondary small', 'data-testid': 'annotation-remove', title: 'Remove this mark',
          'aria-label': `Remove ${name}`, onclick: () => {
            if (!send(msg.removeAnnotation(mark.id))) notify('Not connected: the mark was not removed.');
          },
        }, 'Remove'));
    }));
    byId('annotation-empty').hidden = feed.annotations.length > 0;
  }

  // --- AR status and redraws ---

  function showArStatus() {
    const line = byId('ar-status');
    const state = feed.ar.last;
    let text;
    let found;
    if (!state) [text, found] = [feed.ar.open ? 'No AR data yet' : 'AR channel closed', 'none'];
    else if (feed.isStale()) [text, found] = ['AR paused (no recent data)', 'stale'];
    else if (state.found) [text, found] = ['Device located', 'true'];
    else if (feed.procedure && feed.procedure.procedure) {
      const model = deviceName(feed.procedure, '');
      [text, found] = [model ? `Looking for the device: ${model}…` : 'Looking for the device…', 'false'];
    }
    else [text, found] = ['No device located', 'false'];
    if (line.textContent !== text) line.textContent = text;
    line.dataset.found = found;
  }

  setInterval(() => {
    showArStatus();
    redraw();
  }, 500);
  new ResizeObserver(() => redraw()).observe(byId('video-frame'));
  video.addEventListener('resize', redraw);
  video.addEventListener('loadedmetadata', redraw);
  showTools();
  renderAnnotations();

  return {
    attach(pc) {
      follower.reset(); // a new connection: a new stream, with its own RTP timestamps
      feed.attach(pc);
    },
    disable() {
      ended = true;
      if (tools.isFrozen) tools.toggleFreeze();
      tools.select(null);
      for (const tool of TOOLS) byId(`tool-${tool}`).disabled = true;
      for (const id of ['freeze-frame', 'snapshot', 'burn-in', 'procedure-select', 'step-previous', 'step-next', 'step-complete']) {
        byId(id).disabled = true;
      }
    },
    feed,
    tools,
  };
}
