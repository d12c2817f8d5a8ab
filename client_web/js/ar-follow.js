// Keep the overlay on the device although AR state arrives a round trip late (docs/ar-in-the-page.md):
// each state is placed on the video frame it was computed on (frame-sync.js) and carried forward
// to the frame on screen with the device's motion between the two, tracked in the page on small
// grey copies of the video (frame-track.js, motion.js). The idea of edge-assisted mobile AR
// (Liu et al., MobiCom 2019): detection runs remotely, tracking locally hides its latency.
//
// A browser without `requestVideoFrameCallback`, a state whose frame is unknown or no longer kept,
// or motion that cannot be measured: the newest state is drawn as it is, as before.

import { FrameTracker } from './frame-track.js';
import { greyFromRgba, invert3, multiply3, normalize3, transformPoint } from './motion.js';

/**
 * Width of the grey copies (px): a quarter of 640 tracks to about a pixel of the full frame, and
 * the copy and its tracking cost little next to reading the frame at all (docs/ar-in-the-page.md).
 */
export const GREY_WIDTH = 160;
/** A placed state is carried forward at most this long after a newer one came that could not be placed (ms). */
export const HOLD_PLACED_MS = 600;
/** States that came before their frame was shown (the expert's video can trail its AR state) wait, this many at most. */
export const WAITING_KEPT = 8;

/**
 * The map from a frame's px to the px of a copy of it at another size (pixel centres kept:
 * (0, 0) is the centre of the top-left pixel in both).
 * @param {number[]} fromSize [w, h]
 * @param {number[]} toSize [w, h]
 * @returns {import('./motion.js').Matrix3}
 */
export function resizeMatrix(fromSize, toSize) {
  const sx = toSize[0] / fromSize[0];
  const sy = toSize[1] / fromSize[1];
  return [[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]];
}

/**
 * The state with everything tied to the device moved by `m` (frame px -> frame px): the outline,
 * the homography, the projected annotations and labels, the target, the hands. Pinned marks are
 * fractions of the screen and stay.
 * @param {object} state an `ar_state`
 * @param {import('./motion.js').Matrix3} m
 * @returns {object} a new state
 */
export function carryState(state, m) {
  const move = (p) => (Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]) ? transformPoint(m, p) || p : p);
  const moveAll = (points) => (Array.isArray(points) ? points.map(move) : points);
  return {
    ...state,
    outline_frame_px: moveAll(state.outline_frame_px),
    homography: Array.isArray(state.homography) ? normalize3(multiply3(m, state.homography)) : state.homography,
    annotations: Array.isArray(state.annotations)
      ? state.annotations.map((a) => (a && typeof a === 'object'
        ? { ...a, points_frame_px: moveAll(a.points_frame_px), label_at_frame_px: a.label_at_frame_px ? move(a.label_at_frame_px) : a.label_at_frame_px }
        : a))
      : state.annotations,
    target_frame_px: moveAll(state.target_frame_px),
    hands: Array.isArray(state.hands)
      ? state.hands.map((h) => (h && typeof h === 'object' ? { ...h, landmarks_frame_px: moveAll(h.landmarks_frame_px) } : h))
      : state.hands,
  };
}

/**
 * Follows one video element: a grey copy of every frame it shows (in its
 * `requestVideoFrameCallback`), tracked; `place(state)` gives the state to draw on the frame on screen.
 *
 * `sync` is an ExpertFrameSync or CustomerFrameSync (frame-sync.js). `onFrame()` is called after
 * each new frame is taken in: the page redraws then, so the overlay changes with the picture.
 */
export class ArFollower {
  /**
   * @param {HTMLVideoElement} video
   * @param {import('./frame-sync.js').ExpertFrameSync|import('./frame-sync.js').CustomerFrameSync} sync
   * @param {{onFrame?: () => void, greyWidth?: number}} [options]
   */
  constructor(video, sync, options = {}) {
    this.video = video;
    this.sync = sync;
    this.onFrame = options.onFrame || (() => {});
    this.greyWidth = options.greyWidth || GREY_WIDTH;
    this.tracker = new FrameTracker();
    /** The newest state placed on a kept frame: {state, frame, at}. */
    this.base = null;
    /** States whose frame is not shown yet, oldest first: {state, key}. */
    this.waiting = [];
    this.lastState = null;
    /** The key of the frame on screen (as far as the page knows), or null. */
    this.shownKey = null;
    this.canvas = null;
    this.context = null;
    /** new VideoFrame(video) tells which frame a copy holds; off if its timestamps do not match the metadata. */
    this.videoFrameChecks = { matched: 0, missed: 0 };
    this.supported = typeof HTMLVideoElement !== 'undefined' && 'requestVideoFrameCallback' in HTMLVideoElement.prototype;
    /** Off: no frame is copied or tracked (a page that can never name a state's frame). */
    this.active = true;
    if (this.supported) this.video.requestVideoFrameCallback((now, metadata) => this.onVideoFrame(now, metadata));
  }

  /**
   * A new connection: new RTP clocks. The kept frames go too unless `keepFrames` (the customer's
   * preview goes on showing the same camera, keyed by capture time).
   * @param {boolean} [keepFrames]
   */
  reset(keepFrames = false) {
    this.sync.reset();
    if (!keepFrames) this.tracker.reset();
    this.base = null;
    this.waiting = [];
    this.lastState = null;
    if (!keepFrames) this.shownKey = null;
  }

  onVideoFrame(now, metadata) {
    this.video.requestVideoFrameCallback((t, m) => this.onVideoFrame(t, m));
    try {
      const key = this.sync.frameKey(metadata);
      if (key === null) return;
      this.sync.noteFrame(key, now);
      const grey = this.active ? this.grab(metadata) : null;
      if (grey) {
        const frame = this.tracker.push(key, grey, now);
        this.shownKey = key;
        this.placeWaiting(frame);
      }
    } catch (error) {
      console.error('overlay: following the video failed', error);
    }
    this.onFrame();
  }

  /** A grey copy of the frame the metadata describes, or null when the picture holds another one. */
  grab(metadata) {
    const video = this.video;
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!(width > 0 && height > 0)) return null;
    const greyWidth = Math.min(this.greyWidth, width);
    const greyHeight = Math.max(1, Math.round((greyWidth * height) / width));
    if (!this.canvas) {
      this.canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(greyWidth, greyHeight) : document.createElement('canvas');
    }
    if (this.canvas.width !== greyWidth || this.canvas.height !== greyHeight || !this.context) {
      this.canvas.width = greyWidth;
      this.canvas.height = greyHeight;
      this.context = this.canvas.getContext('2d', { willReadFrequently: true });
    }
    let source = video;
    let frame = null;
    const checks = this.videoFrameChecks;
    if (typeof VideoFrame !== 'undefined' && Number.isFinite(metadata.mediaTime) && (checks.matched > 0 || checks.missed < 30)) {
      // The picture may already be a newer frame than the callback's: a VideoFrame says which it is.
      try {
        frame = new VideoFrame(video);
      } catch {
        frame = null;
      }
      if (frame) {
        if (Math.abs(frame.timestamp - Math.round(metadata.mediaTime * 1e6)) > 1) {
          frame.close();
          checks.missed += 1;
          return null;
        }
        checks.matched += 1;
        source = frame;
      }
    }
    try {
      this.context.drawImage(source, 0, 0, greyWidth, greyHeight);
    } finally {
      if (frame) frame.close();
    }
    return greyFromRgba(this.context.getImageData(0, 0, greyWidth, greyHeight).data, greyWidth, greyHeight);
  }

  /**
   * A new state came: it votes for the sync's constants, and is placed on its frame if that frame
   * is kept, or waits for it if it is not shown yet.
   * @param {object} state
   */
  noteState(state) {
    if (!this.supported || !state) return;
    const now = performance.now();
    this.sync.noteState(state, this.tracker.frames.map((f) => f.key), now);
    this.lastState = state;
    const key = this.sync.frameOf(state, now);
    if (key === null) return;
    const frame = this.findFrame(key);
    if (frame) {
      this.placeOn(state, frame, now);
      return;
    }
    const newest = this.tracker.newest;
    if (newest && this.sync.keyDelta(key, newest.key) > this.sync.tolerance) {
      this.waiting.push({ state, key });
      if (this.waiting.length > WAITING_KEPT) this.waiting.shift();
    }
  }

  /** @param {number} key */
  findFrame(key) {
    return this.tracker.find(key, this.sync.tolerance, (a, b) => this.sync.keyDelta(a, b));
  }

  /**
   * A new frame is shown: the states that waited for it are placed on it, those whose frame was
   * passed over (never shown) are dropped.
   * @param {import('./frame-track.js').TrackedFrame} frame
   */
  placeWaiting(frame) {
    const now = performance.now();
    while (this.waiting.length && this.sync.keyDelta(this.waiting[0].key, frame.key) <= this.sync.tolerance) {
      const { state, key } = this.waiting.shift();
      const on = this.findFrame(key);
      if (on) this.placeOn(state, on, now);
    }
  }

  /**
   * `state` was computed on the kept `frame`: it becomes the base, and the device gets points there.
   * @param {object} state
   * @param {import('./frame-track.js').TrackedFrame} frame
   * @param {number} now
   */
  placeOn(state, frame, now) {
    if (this.base && this.base.state.seq > state.seq) return;
    this.base = { state, frame, at: now };
    const outline = state.outline_frame_px;
    if (state.found && Array.isArray(outline) && outline.length >= 3 && Array.isArray(state.frame_size)) {
      const toGrey = resizeMatrix(state.frame_size, [frame.pyramid[0].width, frame.pyramid[0].height]);
      this.tracker.seed(frame, outline.map((p) => transformPoint(toGrey, p)));
    }
  }

  /**
   * What to draw on the frame on screen for the newest state `latest`:
   * {state, how: 'tracked'|'newest', stateFrame, shownFrame} (state null when `latest` is).
   * @param {object|null} latest
   */
  place(latest) {
    const shownFrame = this.shownKey;
    const asIs = { state: latest, how: 'newest', stateFrame: null, shownFrame };
    if (!latest || !this.supported || !this.active) return asIs;
    if (latest !== this.lastState) this.noteState(latest);
    const base = this.base;
    const newest = this.tracker.newest;
    if (!base || !newest || !this.tracker.frames.includes(base.frame)) return asIs;
    // A newer state that could not be placed: the placed one stands in for a moment only.
    if (base.state !== latest && performance.now() - base.at > HOLD_PLACED_MS) return asIs;
    const frameSize = base.state.frame_size;
    if (!Array.isArray(frameSize) || !(frameSize[0] > 0 && frameSize[1] > 0)) return asIs;
    const motion = this.tracker.motion(base.frame, newest);
    if (!motion) return asIs;
    const toGrey = resizeMatrix(frameSize, [newest.pyramid[0].width, newest.pyramid[0].height]);
    const fromGrey = invert3(toGrey);
    const m = multiply3(fromGrey, multiply3(motion.h, toGrey));
    return { state: carryState(base.state, m), how: 'tracked', stateFrame: base.frame.key, shownFrame: newest.key };
  }
}
