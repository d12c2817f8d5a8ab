// The AR side of a live session, shared by the console and the customer page: the `ar` data
// channel (newest AR state wins), the procedure and step, the expert's marks and pointer, and a
// redraw scheduler for the overlay canvas.

import * as msg from './signaling.js';

/** An AR state older than this (by arrival) is stale: the device may have moved, so nothing tied to it is drawn. */
export const AR_STALE_MS = 2500;
/** A pointer the expert stopped moving disappears after this long, even without a hide message. */
export const POINTER_TIMEOUT_MS = 5000;

/**
 * The AR feed of one page. Create it before the session starts; call `attach(pc)` on every new
 * peer connection **before** its offer is created (the server can only answer a data channel the
 * offer has). `onChange(kind)` is called with 'ar' | 'procedure' | 'annotations' | 'pointer' | 'channel'.
 */
export class ArFeed {
  /**
   * @param {import('./peer.js').PeerSession} session
   * @param {(kind: string, message?: any) => void} onChange
   */
  constructor(session, onChange) {
    this.session = session;
    this.onChange = onChange;
    /**
     * What tests read as `window.repairsight.ar`; `drawn` is what the overlay shows now (noteDrawn).
     */
    this.ar = { last: null, count: 0, open: false, receivedAt: 0, frozen: null, drawn: null };
    /** The last `procedure` message (null before the first). */
    this.procedure = null;
    /** The session's marks, as `annotation_added` gave them (SessionAnnotation). */
    this.annotations = [];
    this.removedIds = new Set();
    /** The expert's pointer: {x_fraction, y_fraction, at} or null. */
    this.pointer = null;
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    this.bind();
  }

  /**
   * Add the `ar` data channel to a new peer connection (before createOffer).
   * @param {RTCPeerConnection} pc
   */
  attach(pc) {
    const channel = pc.createDataChannel(msg.AR_CHANNEL_LABEL, { ...msg.AR_CHANNEL_OPTIONS });
    this.listen(channel);
    // A server that opens its own `ar` channel instead is read the same way.
    pc.addEventListener('datachannel', (event) => {
      if (event.channel.label === msg.AR_CHANNEL_LABEL) this.listen(event.channel);
    });
  }

  /** @param {RTCDataChannel} channel */
  listen(channel) {
    channel.binaryType = 'arraybuffer';
    this.channel = channel;
    // A new connection may come with a restarted server: its sequence numbers start again.
    this.lastSeq = -Infinity;
    channel.addEventListener('open', () => {
      if (channel !== this.channel) return;
      this.ar.open = true;
      this.onChange('channel');
    });
    channel.addEventListener('close', () => {
      if (channel !== this.channel) return;
      this.ar.open = false;
      this.onChange('channel');
    });
    channel.addEventListener('message', (event) => {
      if (channel !== this.channel) return;
      const state = msg.parseArState(event.data);
      if (!state || state.seq <= this.lastSeq) return; // unordered: an older state that came late
      this.lastSeq = state.seq;
      this.ar.last = state;
      this.ar.count += 1;
      this.ar.receivedAt = performance.now();
      this.onChange('ar', state);
    });
  }

  bind() {
    const s = this.session.signaling;
    s.on('procedure', (m) => {
      this.procedure = {
        ...m,
        procedure: m.procedure ?? null,
        step_id: m.step_id ?? null,
        step_index: m.step_index ?? null,
        completed: Array.isArray(m.completed) ? m.completed : [],
        changed_by: m.changed_by ?? null,
      };
      this.onChange('procedure', this.procedure);
    });
    s.on('annotation_added', (m) => {
      const mark = m.annotation;
      if (!mark || !mark.id) return;
      this.removedIds.delete(mark.id);
      const index = this.annotations.findIndex((a) => a.id === mark.id);
      if (index >= 0) this.annotations[index] = mark;
      else this.annotations.push(mark);
      this.onChange('annotations', m);
    });
    s.on('annotation_removed', (m) => {
      this.removedIds.add(m.id);
      this.annotations = this.annotations.filter((a) => a.id !== m.id);
      this.onChange('annotations', m);
    });
    s.on('pointer', (m) => {
      const x = m.x_fraction;
      const y = m.y_fraction;
      this.pointer = Number.isFinite(x) && Number.isFinite(y) ? { x_fraction: x, y_fraction: y, at: performance.now() } : null;
      this.onChange('pointer', this.pointer);
    });
  }

  /**
   * Record what the overlay drew (for tests and diagnostics, `window.repairsight.ar.drawn`): the
   * outline and the projected marks in frame px, the state's sequence number, how it was placed ('tracked': carried from
   * its own frame to the frame on screen; 'newest': as it came), and the two frames' keys
   * (capture time on the customer's page, RTP timestamp on the console).
   * @param {{state: object|null, how: string, stateFrame: number|null, shownFrame: number|null}} placed
   * @param {boolean} stale nothing tied to the device was drawn
   */
  noteDrawn(placed, stale) {
    const state = placed.state;
    this.ar.drawn = state ? {
      seq: state.seq,
      how: placed.how,
      outline_frame_px: stale ? null : state.outline_frame_px,
      annotations: stale ? [] : state.annotations,
      frame_size: state.frame_size,
      state_frame: placed.stateFrame,
      shown_frame: placed.shownFrame,
      at: performance.now(),
    } : null;
  }

  /** The newest AR state is older than AR_STALE_MS (or there is none). */
  isStale(now = performance.now()) {
    return !this.ar.last || now - this.ar.receivedAt > AR_STALE_MS;
  }

  /** The pointer to draw, or null (hidden, or not moved for POINTER_TIMEOUT_MS). */
  currentPointer(now = performance.now()) {
    return this.pointer && now - this.pointer.at < POINTER_TIMEOUT_MS ? this.pointer : null;
  }

  /**
   * The marks pinned to the screen: the page's own list (up to date at once) plus any the AR state
   * carries that the page has not heard of (it joined later), minus those removed since.
   * @param {object|null} arState
   */
  pinnedMarks(arState) {
    const mine = this.annotations.filter((a) => !a.anchored && Array.isArray(a.points_frame_fraction));
    const known = new Set(this.annotations.map((a) => a.id));
    const fromState = (arState && Array.isArray(arState.pinned) ? arState.pinned : [])
      .filter((a) => a && !known.has(a.id) && !this.removedIds.has(a.id));
    return [...mine, ...fromState];
  }

  /** Expose the feed for automated tests: window.repairsight.ar / .procedure / .annotations. */
  expose() {
    const target = window.repairsight || (window.repairsight = {});
    const feed = this;
    Object.defineProperties(target, {
      ar: { get() { return feed.ar; }, configurable: true, enumerable: true },
      procedure: { get() { return feed.procedure; }, configurable: true, enumerable: true },
      annotations: { get() { return feed.annotations; }, configurable: true, enumerable: true },
    });
  }
}

// --- procedure helpers -------------------------------------------------------------------

/**
 * The steps of the procedure in a `procedure` message ([] when there is none).
 * @param {object|null} state a `procedure` message
 */
export function stepsOf(state) {
  const steps = state && state.procedure && state.procedure.steps;
  return Array.isArray(steps) ? steps : [];
}

/**
 * The current step (object) and its index, or {step: null, index: -1}.
 * @param {object|null} state a `procedure` message
 */
export function currentStep(state) {
  const steps = stepsOf(state);
  let index = -1;
  if (state && state.step_id) index = steps.findIndex((s) => s.id === state.step_id);
  if (index < 0 && state && Number.isInteger(state.step_index) && steps[state.step_index]) index = state.step_index;
  return { step: index >= 0 ? steps[index] : null, index };
}

/**
 * The device model the procedure names (free text, such as "Any home router or small box").
 * @param {object|null} state a `procedure` message
 * @param {string} [fallback] what to return when the procedure names no model
 */
export function deviceName(state, fallback = 'device') {
  const device = state && state.procedure && state.procedure.device;
  return (device && (device.model || device.name)) || fallback;
}

/**
 * Call `draw` at most once per animation frame, however often `request()` is called;
 * `request(true)` draws at once (a new AR state: the canvas then always shows `ar.last`).
 * @param {() => void} draw
 */
export function makeRedrawer(draw) {
  let pending = false;
  const paint = () => {
    try {
      draw();
    } catch (error) {
      console.error('overlay: drawing failed', error);
    }
  };
  const run = () => {
    if (!pending) return;
    pending = false;
    paint();
  };
  return function request(now = false) {
    if (now) {
      pending = false;
      paint();
      return;
    }
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
  };
}
