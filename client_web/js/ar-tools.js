// The expert's drawing tools on the console's overlay canvas: arrow, circle, rect, freehand, text,
// the pointer, and freeze-frame. Marks are sent as `annotate` in the pixels of the frame the AR
// state describes (the live one, or the one frozen), converted from the canvas's CSS pixels with
// the video's displayed box (letterboxing honoured).

import { displayBox, elementToFrame, insideBox, projectMark } from './overlay.js';
import * as msg from './signaling.js';

export const TOOLS = Object.freeze(['arrow', 'circle', 'rect', 'freehand', 'text', 'pointer']);
/** Pointer messages per second, at most. */
export const POINTER_RATE_HZ = 15;
/** A drag shorter than this (CSS px) draws nothing. */
const MIN_DRAG_PX = 6;
/** Freehand: a new point only after the pointer moved this far (CSS px). */
const FREEHAND_STEP_PX = 2;

const TOOL_NAMES = {
  arrow: 'arrow', circle: 'circle', rect: 'rectangle', freehand: 'freehand line', text: 'text', pointer: 'pointer',
};

/**
 * Ramer-Douglas-Peucker: the points that keep a line within `epsilon` of the original.
 * @param {number[][]} points
 * @param {number} epsilon
 */
export function simplifyLine(points, epsilon) {
  if (points.length <= 2) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [first, last] = stack.pop();
    const [ax, ay] = points[first];
    const [bx, by] = points[last];
    const length = Math.hypot(bx - ax, by - ay);
    let farthest = -1;
    let farthestDistance = 0;
    for (let i = first + 1; i < last; i += 1) {
      const [px, py] = points[i];
      const distance = length > 0
        ? Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
        : Math.hypot(px - ax, py - ay);
      if (distance > farthestDistance) {
        farthestDistance = distance;
        farthest = i;
      }
    }
    if (farthest >= 0 && farthestDistance > epsilon) {
      keep[farthest] = 1;
      stack.push([first, farthest], [farthest, last]);
    }
  }
  return points.filter((_, i) => keep[i]);
}

/**
 * A freehand line with at most `max` points: simplified, more coarsely until it fits.
 * @param {number[][]} points
 * @param {number} [max]
 */
export function simplifyToLimit(points, max = msg.MAX_FREEHAND_POINTS) {
  let epsilon = 1;
  let line = simplifyLine(points, epsilon);
  while (line.length > max) {
    epsilon *= 1.5;
    line = simplifyLine(points, epsilon);
  }
  return line;
}

/**
 * The console's drawing tools.
 *
 * parts: `video` (the remote video), `canvas` (the overlay canvas, over the video), `frozen`
 * (a canvas shown in place of the video while frozen), `feed` (ArFeed), `send(message)`,
 * `notify(text, kind)`, `redraw()`, `textForm`/`textInput` (the text tool's input), `onChange()`
 * (tool or freeze changed: update the buttons).
 */
export class ArTools {
  constructor(parts) {
    Object.assign(this, parts);
    /** The selected tool, or null (the canvas then lets clicks through). */
    this.tool = null;
    /** The mark being drawn: {shape, points_frame_px, frame_size, text?} (for the overlay) plus its reference. */
    this.draft = null;
    this.draftElementPoints = [];
    this.activePointerId = null;
    /** Set while frozen: {state: the AR state of that moment (or null), knownIds: marks there were then}. */
    this.frozenAt = null;
    /** The expert's own pointer, drawn on the console too: {x_fraction, y_fraction} or null. */
    this.localPointer = null;
    this.pointerSentAt = 0;
    this.pointerTimer = null;
    this.pointerPending = undefined;
    this.pointerShown = false;
    /** When the last annotate was sent (to tell the expert when a mark could not be anchored). */
    this.lastAnnotateAt = -Infinity;
    this.textAt = null;
    this.bindCanvas();
    this.bindTextForm();
  }

  // --- what is shown and drawn on ---

  /** The element the picture is in: the frozen canvas while frozen, else the video. */
  get media() {
    return this.frozenAt ? this.frozen : this.video;
  }

  get isFrozen() {
    return Boolean(this.frozenAt);
  }

  /** The AR state drawings refer to: the frozen one, else the newest. */
  referenceState() {
    return this.frozenAt ? this.frozenAt.state : this.feed.ar.last;
  }

  /**
   * The frame that element points map into: {frameSize, timestampMs, box}; null if there is no picture yet.
   */
  reference() {
    const state = this.referenceState();
    const media = this.media;
    let frameSize = state && Array.isArray(state.frame_size) ? state.frame_size : null;
    if (!frameSize) {
      const w = media instanceof HTMLVideoElement ? media.videoWidth : media.width;
      const h = media instanceof HTMLVideoElement ? media.videoHeight : media.height;
      if (w > 0 && h > 0) frameSize = [w, h];
    }
    if (!frameSize) return null;
    return {
      frameSize,
      timestampMs: state && Number.isFinite(state.timestamp_ms) ? state.timestamp_ms : null,
      box: displayBox(media, frameSize),
    };
  }

  /** Extras for drawOverlay: the draft, the expert's own pointer, marks added while frozen. */
  overlayExtras() {
    const extras = { draft: this.draft, pointer: this.localPointer, marks: [] };
    const frozen = this.frozenAt;
    if (frozen && frozen.state && Array.isArray(frozen.state.homography)) {
      // Marks anchored since the freeze: the frozen state cannot carry them, so project them here
      // through that frame's homography (reference px -> frame px).
      for (const mark of this.feed.annotations) {
        if (!mark.anchored || frozen.knownIds.has(mark.id) || !Array.isArray(mark.points_ref_px)) continue;
        const shape = projectMark(mark, frozen.state.homography);
        if (shape) extras.marks.push(shape);
      }
    }
    return extras;
  }

  // --- tools ---

  /**
   * Select a tool (or null / the same tool again to put it down).
   * @param {string|null} tool
   */
  select(tool) {
    const next = tool && tool !== this.tool ? tool : null;
    if (this.tool === 'pointer' && next !== 'pointer') this.hidePointer();
    this.cancelDraft();
    this.tool = next;
    this.canvas.classList.toggle('drawing', Boolean(next));
    this.canvas.dataset.tool = next || '';
    this.onChange();
  }

  cancelDraft() {
    this.draft = null;
    this.draftElementPoints = [];
    this.activePointerId = null;
    this.textAt = null;
    this.textForm.hidden = true;
    this.redraw();
  }

  /** Escape: the draft first, then the tool. */
  escape() {
    if (this.draft || this.textAt) this.cancelDraft();
    else if (this.tool) this.select(null);
  }

  bindCanvas() {
    const canvas = this.canvas;
    canvas.addEventListener('pointerdown', (event) => this.onDown(event));
    canvas.addEventListener('pointermove', (event) => this.onMove(event));
    canvas.addEventListener('pointerup', (event) => this.onUp(event));
    canvas.addEventListener('pointercancel', () => this.cancelDraft());
    canvas.addEventListener('pointerleave', () => {
      if (this.tool === 'pointer') this.hidePointer();
    });
    canvas.addEventListener('contextmenu', (event) => {
      if (this.tool) event.preventDefault();
    });
  }

  /** The event's position in the canvas's (= the media element's) CSS px. */
  elementPoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  onDown(event) {
    if (!this.tool || event.button > 0) return;
    event.preventDefault();
    const ref = this.reference();
    if (!ref) {
      this.notify('There is no video to draw on yet.', 'info');
      return;
    }
    const point = this.elementPoint(event);
    if (this.tool === 'pointer') {
      this.movePointer(point, ref);
      return;
    }
    if (!insideBox(ref.box, point)) return; // on a letterbox bar: not on the picture
    if (this.tool === 'text') {
      this.startText(point, ref);
      return;
    }
    this.canvas.setPointerCapture(event.pointerId);
    this.activePointerId = event.pointerId;
    this.draftRef = ref;
    this.draftElementPoints = [point, point];
    this.updateDraft();
  }

  onMove(event) {
    if (this.tool === 'pointer') {
      const ref = this.reference();
      if (ref) this.movePointer(this.elementPoint(event), ref);
      return;
    }
    if (this.activePointerId !== event.pointerId || !this.draft) return;
    const point = this.elementPoint(event);
    const points = this.draftElementPoints;
    if (this.tool === 'freehand') {
      const last = points[points.length - 1];
      if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= FREEHAND_STEP_PX) points.push(point);
    } else {
      points[1] = point;
    }
    this.updateDraft();
  }

  onUp(event) {
    if (this.activePointerId !== event.pointerId || !this.draft) return;
    if (this.tool !== 'freehand') this.draftElementPoints[1] = this.elementPoint(event);
    else this.draftElementPoints.push(this.elementPoint(event));
    this.activePointerId = null;
    const shape = this.tool;
    const ref = this.draftRef;
    let points = this.draftElementPoints;
    if (shape === 'freehand') {
      points = simplifyToLimit(points.filter((p, i) => i === 0 || p !== points[i - 1]));
      const length = points.reduce((sum, p, i) => (i ? sum + Math.hypot(p[0] - points[i - 1][0], p[1] - points[i - 1][1]) : 0), 0);
      if (points.length < 2 || length < MIN_DRAG_PX) {
        this.cancelDraft();
        this.notify('Drag to draw a freehand line.', 'info');
        return;
      }
    } else {
      const [a, b] = points;
      if (Math.hypot(b[0] - a[0], b[1] - a[1]) < MIN_DRAG_PX) {
        this.cancelDraft();
        this.notify(`Drag to draw ${shape === 'arrow' ? 'an' : 'a'} ${TOOL_NAMES[shape]}.`, 'info');
        return;
      }
    }
    const framePoints = points.map((p) => elementToFrame(ref.box, ref.frameSize, p));
    this.sendMark(shape, framePoints, ref);
    this.cancelDraft();
  }

  updateDraft() {
    const ref = this.draftRef;
    this.draft = {
      shape: this.tool,
      points_frame_px: this.draftElementPoints.map((p) => elementToFrame(ref.box, ref.frameSize, p)),
      frame_size: ref.frameSize,
    };
    this.redraw();
  }

  sendMark(shape, framePoints, ref, text) {
    const message = msg.annotate(shape, framePoints, ref.frameSize, ref.timestampMs, text);
    if (this.send(message)) this.lastAnnotateAt = performance.now();
    else this.notify('Not connected: the mark was not sent. Try again in a moment.');
  }

  // --- text ---

  bindTextForm() {
    this.textInput.maxLength = msg.MAX_ANNOTATION_TEXT_CHARS;
    this.textForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.finishText();
    });
    this.textInput.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.cancelDraft();
      }
    });
    this.textInput.addEventListener('input', () => {
      if (this.draft && this.draft.shape === 'text') {
        this.draft = { ...this.draft, text: this.textInput.value };
        this.redraw();
      }
    });
  }

  startText(point, ref) {
    this.textAt = { point, ref, framePoint: elementToFrame(ref.box, ref.frameSize, point) };
    this.draftRef = ref;
    this.draft = { shape: 'text', points_frame_px: [this.textAt.framePoint], frame_size: ref.frameSize, text: '' };
    const form = this.textForm;
    form.hidden = false;
    // Next to the point, kept inside the picture.
    const frameWidth = this.canvas.clientWidth;
    const formWidth = Math.min(280, frameWidth - 16);
    form.style.width = `${formWidth}px`;
    form.style.left = `${Math.min(Math.max(point[0] + 12, 8), frameWidth - formWidth - 8)}px`;
    form.style.top = `${Math.min(Math.max(point[1] + 12, 8), this.canvas.clientHeight - 56)}px`;
    this.textInput.value = '';
    this.textInput.focus();
    this.redraw();
  }

  finishText() {
    const at = this.textAt;
    const text = this.textInput.value.trim();
    if (!at) return;
    if (!text) {
      this.notify('Type the text for the mark, or press Escape.', 'info');
      this.textInput.focus();
      return;
    }
    this.sendMark('text', [at.framePoint], at.ref, text);
    this.cancelDraft();
  }

  // --- pointer ---

  movePointer(point, ref) {
    if (!insideBox(ref.box, point)) {
      this.hidePointer();
      return;
    }
    const framePoint = elementToFrame(ref.box, ref.frameSize, point);
    this.localPointer = { x_fraction: framePoint[0] / ref.frameSize[0], y_fraction: framePoint[1] / ref.frameSize[1] };
    this.redraw();
    this.queuePointer(msg.pointer(framePoint, ref.frameSize));
  }

  hidePointer() {
    const wasShown = this.pointerShown || this.localPointer;
    this.localPointer = null;
    this.redraw();
    if (!wasShown) return;
    const ref = this.reference();
    this.queuePointer(msg.pointer(null, ref ? ref.frameSize : [640, 480]), true);
  }

  /** Send pointer messages at most POINTER_RATE_HZ a second; the last one always goes out. */
  queuePointer(message, now = false) {
    const interval = 1000 / POINTER_RATE_HZ;
    const wait = this.pointerSentAt + interval - performance.now();
    if (now || wait <= 0) {
      clearTimeout(this.pointerTimer);
      this.pointerTimer = null;
      this.pointerPending = undefined;
      this.sendPointer(message);
      return;
    }
    this.pointerPending = message;
    if (!this.pointerTimer) {
      this.pointerTimer = setTimeout(() => {
        this.pointerTimer = null;
        const pending = this.pointerPending;
        this.pointerPending = undefined;
        if (pending) this.sendPointer(pending);
      }, wait);
    }
  }

  sendPointer(message) {
    this.pointerSentAt = performance.now();
    this.pointerShown = message.x_frame_px !== null;
    this.send(message);
  }

  // --- freeze ---

  /** Freeze the current picture (and its AR state), or go back to the live video. */
  toggleFreeze() {
    if (this.frozenAt) {
      this.frozenAt = null;
      this.feed.ar.frozen = null;
      this.cancelDraft();
      this.frozen.hidden = true;
      this.video.classList.remove('is-frozen');
    } else {
      const video = this.video;
      if (!(video.videoWidth > 0 && video.videoHeight > 0)) {
        this.notify('There is no video to freeze yet.', 'info');
        return;
      }
      this.cancelDraft();
      this.frozen.width = video.videoWidth;
      this.frozen.height = video.videoHeight;
      this.frozen.getContext('2d').drawImage(video, 0, 0, video.videoWidth, video.videoHeight);
      this.frozenAt = {
        state: this.feed.ar.last,
        knownIds: new Set(this.feed.annotations.map((a) => a.id)),
      };
      // For tests and diagnostics: window.repairsight.ar.frozen is the AR state drawn on now.
      this.feed.ar.frozen = this.frozenAt.state;
      this.frozen.hidden = false;
      // Hidden, not paused: the customer's voice plays on from this element.
      video.classList.add('is-frozen');
    }
    this.onChange();
    this.redraw();
  }

  /**
   * A mark came back from the server: say so when it could not be anchored to the device.
   * @param {object} mark SessionAnnotation
   */
  noteAdded(mark) {
    if (!mark.anchored && performance.now() - this.lastAnnotateAt < 15000) {
      this.notify('No device located: the mark is pinned to the screen', 'info');
    }
  }
}
