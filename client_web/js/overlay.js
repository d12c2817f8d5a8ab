// Drawing the AR state on a canvas laid over a video element. Pure drawing: no state is kept here.
//
// Coordinate spaces (docs/protocol.md, "Coordinate spaces"):
// - frame px: pixels of the frame the server decoded (`ar_state.frame_size` = [w, h]), x right, y down;
// - fractions: 0..1 of that frame (pinned marks, the expert's pointer);
// - element px: CSS pixels inside the video element's box. The video is shown with
//   `object-fit: contain` (letterboxed), so the frame fills a centred rectangle of that box:
//   `displayBox()` finds that rectangle, `frameToElement()`/`elementToFrame()` map between them.

import { clearanceBox, placeLabels } from './labels.js';

/** Index of the index fingertip among MediaPipe's 21 hand landmarks. */
export const INDEX_FINGERTIP = 8;

const COLORS = Object.freeze({
  found: '#00e64d',
  lost: '#ffb020',
  mark: '#ffd400',
  pinned: '#00e5ff',
  draft: '#ffffff',
  target: '#3da5ff',
  fingertip: '#ff4fd8',
  pointer: '#ff2d55',
  halo: 'rgba(0, 0, 0, 0.78)',
  labelBg: 'rgba(10, 16, 24, 0.88)',
  labelText: '#ffffff',
});

/** Points of a circle drawn as a polygon. */
const CIRCLE_SEGMENTS = 48;

/**
 * The rectangle the video's picture fills inside the element's box, in element CSS px,
 * honouring `object-fit` (contain, cover, fill, none, scale-down) centred as by the default
 * `object-position: 50% 50%`.
 *
 * @param {HTMLVideoElement|HTMLCanvasElement|{width: number, height: number, intrinsicWidth?: number, intrinsicHeight?: number, fit?: string}} media
 *   the element, or a plain description of it (sizes in CSS px) for tests
 * @param {number[]|null} [frameSize] [w, h] used for the picture's shape while the element has no intrinsic size yet
 * @returns {{left: number, top: number, width: number, height: number, elementWidth: number, elementHeight: number}}
 */
export function displayBox(media, frameSize) {
  let elementWidth;
  let elementHeight;
  let intrinsicWidth;
  let intrinsicHeight;
  let fit = 'contain';
  if (typeof HTMLElement !== 'undefined' && media instanceof HTMLElement) {
    elementWidth = media.clientWidth;
    elementHeight = media.clientHeight;
    if (media instanceof HTMLVideoElement) {
      intrinsicWidth = media.videoWidth;
      intrinsicHeight = media.videoHeight;
    } else {
      intrinsicWidth = /** @type {any} */ (media).width;
      intrinsicHeight = /** @type {any} */ (media).height;
    }
    fit = getComputedStyle(media).objectFit || 'contain';
  } else {
    elementWidth = media.width;
    elementHeight = media.height;
    intrinsicWidth = media.intrinsicWidth;
    intrinsicHeight = media.intrinsicHeight;
    fit = media.fit || 'contain';
  }
  if (!(intrinsicWidth > 0 && intrinsicHeight > 0)) {
    [intrinsicWidth, intrinsicHeight] = frameSize && frameSize[0] > 0 && frameSize[1] > 0
      ? frameSize : [elementWidth, elementHeight];
  }
  let width = elementWidth;
  let height = elementHeight;
  if (fit !== 'fill' && intrinsicWidth > 0 && intrinsicHeight > 0) {
    const sx = elementWidth / intrinsicWidth;
    const sy = elementHeight / intrinsicHeight;
    let scale;
    if (fit === 'cover') scale = Math.max(sx, sy);
    else if (fit === 'none') scale = 1;
    else if (fit === 'scale-down') scale = Math.min(1, sx, sy);
    else scale = Math.min(sx, sy);
    width = intrinsicWidth * scale;
    height = intrinsicHeight * scale;
  }
  return {
    left: (elementWidth - width) / 2,
    top: (elementHeight - height) / 2,
    width,
    height,
    elementWidth,
    elementHeight,
  };
}

/** A media element or an already computed displayBox(). */
function toBox(mediaOrBox, frameSize) {
  if (mediaOrBox && typeof mediaOrBox.left === 'number' && typeof mediaOrBox.elementWidth === 'number') return mediaOrBox;
  return displayBox(mediaOrBox, frameSize);
}

/**
 * A point in frame px -> element CSS px.
 * @param {HTMLElement|object} mediaOrBox the video element (or a displayBox() result)
 * @param {number[]} frameSize [w, h] of the frame the point is in
 * @param {number[]} point [x, y] in frame px
 * @returns {number[]} [x, y] in element CSS px
 */
export function frameToElement(mediaOrBox, frameSize, point) {
  const box = toBox(mediaOrBox, frameSize);
  return [
    box.left + (point[0] * box.width) / frameSize[0],
    box.top + (point[1] * box.height) / frameSize[1],
  ];
}

/**
 * A point in element CSS px (e.g. `event.offsetX/Y` on a canvas covering the element) -> frame px.
 * Points in the letterbox bars fall outside 0..w / 0..h; `clamp` (default true) pulls them onto the frame's edge.
 * @param {HTMLElement|object} mediaOrBox the video element (or a displayBox() result)
 * @param {number[]} frameSize [w, h] of the frame to map into
 * @param {number[]} point [x, y] in element CSS px
 * @param {boolean} [clamp]
 * @returns {number[]} [x, y] in frame px
 */
export function elementToFrame(mediaOrBox, frameSize, point, clamp = true) {
  const box = toBox(mediaOrBox, frameSize);
  let x = ((point[0] - box.left) * frameSize[0]) / box.width;
  let y = ((point[1] - box.top) * frameSize[1]) / box.height;
  if (clamp) {
    x = Math.min(Math.max(x, 0), frameSize[0]);
    y = Math.min(Math.max(y, 0), frameSize[1]);
  }
  return [x, y];
}

/**
 * True if an element CSS px point lies on the picture (not in a letterbox bar).
 * @param {object} box a displayBox() result
 * @param {number[]} point
 */
export function insideBox(box, point) {
  return point[0] >= box.left && point[0] <= box.left + box.width && point[1] >= box.top && point[1] <= box.top + box.height;
}

/**
 * Apply a 3x3 homography (rows) to a point: reference px -> frame px. Null if the point is behind the camera.
 * @param {number[][]} h
 * @param {number[]} p
 */
export function applyHomography(h, p) {
  const w = h[2][0] * p[0] + h[2][1] * p[1] + h[2][2];
  if (!(w > 1e-9)) return null;
  return [(h[0][0] * p[0] + h[0][1] * p[1] + h[0][2]) / w, (h[1][0] * p[0] + h[1][1] * p[1] + h[1][2]) / w];
}

/**
 * The outline of an expert mark (as `annotate` draws it) as polylines in the same space as its points.
 * Circles become polygons; the caller maps the points into element px before or after, as fits the
 * space (a circle must be built where the scale is uniform).
 * @param {string} shape arrow | circle | rect | freehand | text
 * @param {number[][]} points
 * @returns {{kind: string, points: number[][], closed: boolean}|null}
 */
export function markGeometry(shape, points) {
  if (!Array.isArray(points) || !points.length) return null;
  const [a, b] = points;
  switch (shape) {
    case 'arrow':
      return b ? { kind: 'arrow', points: [a, b], closed: false } : null;
    case 'rect':
      return b ? { kind: 'rect', points: [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]]], closed: true } : null;
    case 'circle': {
      if (!b) return null;
      const r = Math.hypot(b[0] - a[0], b[1] - a[1]);
      const rim = [];
      for (let i = 0; i < CIRCLE_SEGMENTS; i += 1) {
        const t = (2 * Math.PI * i) / CIRCLE_SEGMENTS;
        rim.push([a[0] + r * Math.cos(t), a[1] + r * Math.sin(t)]);
      }
      return { kind: 'circle', points: rim, closed: true };
    }
    case 'freehand':
      return { kind: 'polyline', points, closed: false };
    case 'text':
      return { kind: 'label', points: [a], closed: false };
    default:
      return null;
  }
}

/**
 * An anchored expert mark (reference px) projected through `h` (reference px -> frame px), shaped
 * as drawOverlay draws annotations; null when it cannot be drawn there.
 * @param {{shape: string, points_ref_px: number[][], text?: string|null}} mark
 * @param {number[][]} h
 */
export function projectMark(mark, h) {
  const geometry = markGeometry(mark.shape, mark.points_ref_px || []);
  if (!geometry) return null;
  const points = geometry.points.map((p) => applyHomography(h, p));
  if (points.some((p) => !p)) return null;
  const kind = geometry.kind === 'circle' || geometry.kind === 'rect' ? 'polyline' : geometry.kind;
  return { kind, points_frame_px: points, closed: geometry.closed, label: mark.text || null };
}

// --- drawing -----------------------------------------------------------------------------

function isPoint(p) {
  return Array.isArray(p) && p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]);
}

function validPoints(points) {
  return Array.isArray(points) ? points.filter(isPoint) : [];
}

/** Make the canvas cover the media element exactly, at the device pixel ratio; returns the CSS size. */
function fitCanvas(canvas, media) {
  const width = media.clientWidth;
  const height = media.clientHeight;
  const style = canvas.style;
  const left = `${media.offsetLeft}px`;
  const top = `${media.offsetTop}px`;
  if (style.left !== left) style.left = left;
  if (style.top !== top) style.top = top;
  if (style.width !== `${width}px`) style.width = `${width}px`;
  if (style.height !== `${height}px`) style.height = `${height}px`;
  const ratio = Math.min(window.devicePixelRatio || 1, 3);
  const pixelWidth = Math.max(1, Math.round(width * ratio));
  const pixelHeight = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== pixelWidth) canvas.width = pixelWidth;
  if (canvas.height !== pixelHeight) canvas.height = pixelHeight;
  return { width, height, ratio };
}

function tracePath(ctx, points, closed) {
  ctx.beginPath();
  ctx.moveTo(points[0][0], points[0][1]);
  for (let i = 1; i < points.length; i += 1) ctx.lineTo(points[i][0], points[i][1]);
  if (closed) ctx.closePath();
}

/** A line with a dark halo under it, so it reads on light and dark pictures alike. */
function strokeWithHalo(ctx, points, closed, color, width, dash) {
  if (points.length < 2) return;
  ctx.lineJoin = 'round';
  ctx.lineCap = 'round';
  tracePath(ctx, points, closed);
  ctx.setLineDash([]);
  ctx.strokeStyle = COLORS.halo;
  ctx.lineWidth = width + 4;
  ctx.stroke();
  ctx.setLineDash(dash || []);
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawArrow(ctx, from, to, color, width, dash) {
  const length = Math.hypot(to[0] - from[0], to[1] - from[1]);
  if (length < 1) return;
  const head = Math.min(Math.max(width * 4.5, 14), length * 0.6);
  const angle = Math.atan2(to[1] - from[1], to[0] - from[0]);
  const wing = Math.PI / 7;
  const left = [to[0] - head * Math.cos(angle - wing), to[1] - head * Math.sin(angle - wing)];
  const right = [to[0] - head * Math.cos(angle + wing), to[1] - head * Math.sin(angle + wing)];
  // The shaft stops inside the head so its round cap does not poke through the tip.
  const shaftEnd = [to[0] - head * 0.6 * Math.cos(angle), to[1] - head * 0.6 * Math.sin(angle)];
  strokeWithHalo(ctx, [from, shaftEnd], false, color, width, dash);
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.moveTo(to[0], to[1]);
  ctx.lineTo(left[0], left[1]);
  ctx.lineTo(right[0], right[1]);
  ctx.closePath();
  ctx.lineJoin = 'round';
  ctx.strokeStyle = COLORS.halo;
  ctx.lineWidth = 4;
  ctx.stroke();
  ctx.fillStyle = color;
  ctx.fill();
}

/** The font of label text at `fontPx`. */
function labelFont(fontPx) {
  return `600 ${fontPx}px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif`;
}

/** The text shown (shortened with an ellipsis to fit `maxWidth` with its padding) and its box's size. */
function measureLabel(ctx, text, fontPx, maxWidth) {
  ctx.font = labelFont(fontPx);
  const padX = Math.round(fontPx * 0.5);
  const padY = Math.round(fontPx * 0.3);
  let shown = String(text).slice(0, 200);
  while (shown.length > 1 && ctx.measureText(shown).width + 2 * padX > maxWidth) shown = `${shown.slice(0, -2)}…`;
  return { shown, padX, size: [ctx.measureText(shown).width + 2 * padX, fontPx + 2 * padY] };
}

/** A label's text in a dark rounded box (`box` = [left, top, right, bottom]) with an `accent` border. */
function drawLabel(ctx, shown, box, padX, fontPx, accent) {
  const [x, y] = box;
  const width = box[2] - box[0];
  const height = box[3] - box[1];
  ctx.font = labelFont(fontPx);
  ctx.fillStyle = COLORS.labelBg;
  ctx.strokeStyle = accent || COLORS.mark;
  ctx.lineWidth = 2;
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(x, y, width, height, 6);
  else ctx.rect(x, y, width, height);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = COLORS.labelText;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillText(shown, x + padX, y + height / 2 + 1);
}

/**
 * Every collected label, placed by the shared rule (labels.js, mirrored by vision/labels.py): inside
 * the picture, off each other, off `keepClear` (the target, the closed shapes), with a leader line
 * from its part when it had to move away.
 * @param {{text: string, at: number[], accent: string, dot: boolean}[]} labels in drawing order
 */
function drawLabels(ctx, labels, keepClear, bounds, fontPx, lineWidth) {
  if (!labels.length) return;
  const inset = 4;
  const area = [bounds.left + inset, bounds.top + inset, bounds.left + bounds.width - inset, bounds.top + bounds.height - inset];
  const measured = labels.map((label) => measureLabel(ctx, label.text, fontPx, Math.max(40, bounds.width - 2 * inset)));
  const placed = placeLabels(
    area,
    labels.map((label, i) => ({ anchor: label.at, size: measured[i].size })),
    keepClear,
    Math.max(4, fontPx * 0.4),
  );
  const leaderWidth = Math.max(2, lineWidth - 1);
  placed.forEach((place, i) => {
    if (!place.leader_to) return;
    const { at, accent, dot } = labels[i];
    strokeWithHalo(ctx, [at, place.leader_to], false, accent, leaderWidth);
    if (dot) return;
    // A small end on the part (a big dot would hide a small part).
    ctx.beginPath();
    ctx.arc(at[0], at[1], leaderWidth + 1.5, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS.halo;
    ctx.fill();
    ctx.beginPath();
    ctx.arc(at[0], at[1], leaderWidth, 0, 2 * Math.PI);
    ctx.fillStyle = accent;
    ctx.fill();
  });
  placed.forEach((place, i) => drawLabel(ctx, measured[i].shown, place.box, measured[i].padX, fontPx, labels[i].accent));
}

function drawDot(ctx, at, radius, color) {
  ctx.beginPath();
  ctx.arc(at[0], at[1], radius + 3, 0, 2 * Math.PI);
  ctx.fillStyle = COLORS.halo;
  ctx.fill();
  ctx.beginPath();
  ctx.arc(at[0], at[1], radius + 1.5, 0, 2 * Math.PI);
  ctx.fillStyle = '#ffffff';
  ctx.fill();
  ctx.beginPath();
  ctx.arc(at[0], at[1], radius - 1, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
}

/**
 * One shape already in element px: {kind: rect|circle|arrow|polyline|label, points, closed, label}.
 * Its label (at `labelAt`, or the first point) is not drawn here but added to `style.labels`, and the
 * area it keeps clear of labels to `style.keepClear`: drawLabels places them all at the end.
 */
function drawShape(ctx, shape, style) {
  const points = validPoints(shape.points);
  if (!points.length) return;
  const { color, width, dash } = style;
  const closed = shape.closed !== undefined ? Boolean(shape.closed) : shape.kind === 'rect' || shape.kind === 'circle';
  if (shape.kind === 'arrow' && points.length >= 2) {
    drawArrow(ctx, points[0], points[points.length - 1], color, width, dash);
  } else if (shape.kind === 'label') {
    drawDot(ctx, points[0], 4, color);
  } else if (points.length >= 2) {
    strokeWithHalo(ctx, points, closed, color, width, dash);
  } else {
    drawDot(ctx, points[0], 4, color);
  }
  const clear = clearanceBox(shape.kind, points, closed);
  if (clear) style.keepClear.push(clear);
  if (shape.label) {
    const at = isPoint(shape.labelAt) ? shape.labelAt : points[0];
    style.labels.push({ text: shape.label, at, accent: color, dot: shape.kind === 'label' || points.length < 2 });
  }
}

/** An expert mark ({shape, points, text}) whose points are already in element px. */
function markToShape(mark, points) {
  const geometry = markGeometry(mark.shape, points);
  if (!geometry) return null;
  let labelAt = points[0];
  if (mark.shape === 'circle' || mark.shape === 'rect') {
    labelAt = geometry.points.reduce((top, p) => (p[1] < top[1] ? p : top), geometry.points[0]);
  }
  return { ...geometry, label: mark.text || null, labelAt };
}

/**
 * Size `canvas` to the video element's box and draw the AR state on it, scaled from the state's
 * `frame_size` to the rectangle the picture fills (letterboxing honoured).
 *
 * Draws, in order: the touch target, the device outline (green when found), the projected
 * annotations (thick, with a dark halo; arrows with heads), extra marks, the pinned marks (fractions
 * of the frame), a draft (a mark being drawn), then all their labels in boxes placed by labels.js
 * (on the picture, off each other, off the target and the closed shapes, with leader lines), the
 * index fingertips (landmark 8) and the pointer dot.
 *
 * @param {HTMLCanvasElement} canvas absolutely positioned in the same container as `video`
 * @param {HTMLVideoElement} video the element the picture is shown in (its box is the canvas's)
 * @param {object|null} arState the newest `ar_state` (see docs/protocol.md), or null
 * @param {{
 *   pointer?: {x_fraction: number, y_fraction: number}|null,
 *   pinned?: object[]|null,
 *   marks?: {kind: string, points_frame_px: number[][], closed?: boolean, label?: string}[],
 *   draft?: {shape: string, points_frame_px: number[][], text?: string, frame_size: number[]}|null,
 *   stale?: boolean,
 *   fontPx?: number,
 *   lineWidth?: number,
 * }} [extras]
 *   `pinned`: SessionAnnotations with `points_frame_fraction` to draw instead of `arState.pinned`;
 *   `marks`: more frame-px shapes (in the state's frame); `draft`: the mark being drawn;
 *   `stale`: the state is old, so nothing tied to the device is drawn (pinned marks and the pointer still are).
 * @returns {object} the display box used (element CSS px)
 */
export function drawOverlay(canvas, video, arState, extras = {}) {
  const { width, height, ratio } = fitCanvas(canvas, video);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const state = arState || null;
  const frameSize = state && Array.isArray(state.frame_size) && state.frame_size[0] > 0 && state.frame_size[1] > 0
    ? state.frame_size : null;
  const box = displayBox(video, frameSize || (extras.draft && extras.draft.frame_size) || null);
  if (!(width > 0 && height > 0 && box.width > 0 && box.height > 0)) return box;
  const fontPx = extras.fontPx || Math.round(Math.min(Math.max(box.width / 42, 14), 22));
  const lineWidth = extras.lineWidth || Math.min(Math.max(box.width / 220, 3), 6);
  const labels = [];
  const keepClear = [];
  const style = { width: lineWidth, dash: null, labels, keepClear };
  const toEl = (size, p) => frameToElement(box, size, p);
  const fromFraction = (p) => [box.left + p[0] * box.width, box.top + p[1] * box.height];

  if (state && frameSize && !extras.stale) {
    const map = (points) => validPoints(points).map((p) => toEl(frameSize, p));
    const target = map(state.target_frame_px);
    if (target.length >= 3) {
      tracePath(ctx, target, true);
      ctx.fillStyle = 'rgba(61, 165, 255, 0.28)';
      ctx.fill();
      strokeWithHalo(ctx, target, true, COLORS.target, Math.max(2, lineWidth - 1), [10, 6]);
      keepClear.push(clearanceBox('target', target, true));
    }
    const outline = map(state.outline_frame_px);
    if (outline.length >= 3) {
      strokeWithHalo(ctx, outline, true, state.found ? COLORS.found : COLORS.lost, lineWidth, state.found ? null : [12, 8]);
    }
    for (const annotation of Array.isArray(state.annotations) ? state.annotations : []) {
      if (!annotation || typeof annotation !== 'object') continue;
      drawShape(ctx, {
        kind: annotation.kind,
        points: map(annotation.points_frame_px),
        closed: annotation.closed,
        label: annotation.label,
        labelAt: isPoint(annotation.label_at_frame_px) ? toEl(frameSize, annotation.label_at_frame_px) : null,
      }, { ...style, color: COLORS.mark });
    }
    for (const mark of extras.marks || []) {
      drawShape(ctx, {
        kind: mark.kind, points: map(mark.points_frame_px), closed: mark.closed, label: mark.label,
        labelAt: isPoint(mark.label_at_frame_px) ? toEl(frameSize, mark.label_at_frame_px) : null,
      }, { ...style, color: COLORS.mark });
    }
  }

  const pinned = Array.isArray(extras.pinned) ? extras.pinned : (state && Array.isArray(state.pinned) ? state.pinned : []);
  for (const mark of pinned) {
    if (!mark || !Array.isArray(mark.points_frame_fraction)) continue;
    const shape = markToShape(mark, validPoints(mark.points_frame_fraction).map(fromFraction));
    if (shape) drawShape(ctx, shape, { ...style, color: COLORS.pinned });
  }

  const draft = extras.draft;
  if (draft && Array.isArray(draft.frame_size)) {
    const points = validPoints(draft.points_frame_px).map((p) => toEl(draft.frame_size, p));
    const shape = markToShape({ shape: draft.shape, text: draft.text }, points);
    if (shape) drawShape(ctx, shape, { ...style, color: COLORS.draft, dash: [10, 7] });
  }
  drawLabels(ctx, labels, keepClear, box, fontPx, lineWidth);

  if (state && frameSize && !extras.stale) {
    for (const hand of Array.isArray(state.hands) ? state.hands : []) {
      const tip = hand && Array.isArray(hand.landmarks_frame_px) ? hand.landmarks_frame_px[INDEX_FINGERTIP] : null;
      if (isPoint(tip)) drawDot(ctx, toEl(frameSize, tip), Math.max(6, lineWidth * 1.6), COLORS.fingertip);
    }
  }

  const pointer = extras.pointer;
  if (pointer && Number.isFinite(pointer.x_fraction) && Number.isFinite(pointer.y_fraction)) {
    const at = fromFraction([pointer.x_fraction, pointer.y_fraction]);
    const radius = Math.max(10, lineWidth * 2.6);
    ctx.beginPath();
    ctx.arc(at[0], at[1], radius * 1.9, 0, 2 * Math.PI);
    ctx.strokeStyle = 'rgba(255, 45, 85, 0.55)';
    ctx.lineWidth = 3;
    ctx.stroke();
    drawDot(ctx, at, radius, COLORS.pointer);
  }
  return box;
}

/** The colours the overlay uses (for tests and legends). */
export const OVERLAY_COLORS = COLORS;
