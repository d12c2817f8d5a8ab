// The AR layer of a recorded session, rebuilt from its event log at any moment of the video.
//
// The recording holds the customer's picture only; what was drawn on it is data
// (GET /api/sessions/{id}/playback, see docs/playback.md). At video time t (ms on the
// recording's clock, which is also the WebM's clock) outline.js says where the device was (the
// same rule as an exported MP4's burn-in), and we project the current step's marks and the
// expert's anchored marks through that homography (reference px -> frame px) and hand overlay.js
// an ar_state-like object to draw. Pure functions apart from drawPlaybackLayer().

import { applyHomography, drawOverlay, markGeometry, projectMark } from './overlay.js';
import { lastAtOrBefore, placeAt } from './outline.js';

/** Which parts of the layer are shown: all of it, the step marks, the outline, the expert's marks. */
export function defaultLayers() {
  return { annotations: true, steps: true, outline: true, marks: true };
}

/** The chapter (step) in force at t ms, or null before the first one. */
export function chapterIndexAt(chapters, tMs) {
  return lastAtOrBefore(chapters || [], tMs, (c) => c.t_ms);
}

/** The expert's marks on screen at t ms (added at or before it, not yet removed). */
export function marksAt(marks, tMs) {
  return (marks || []).filter((m) => m.added_t_ms <= tMs && (m.removed_t_ms === null || m.removed_t_ms === undefined || m.removed_t_ms > tMs));
}

function projectAll(h, points) {
  const out = [];
  for (const p of points) {
    const q = applyHomography(h, p);
    if (!q) return null;
    out.push(q);
  }
  return out;
}

/**
 * A procedure annotation (reference px, as GET /api/procedures/{id} gives it) in frame px.
 * @returns {{kind: string, points_frame_px: number[][], closed: boolean, label: string|null}|null}
 */
export function projectStepAnnotation(annotation, h) {
  let kind = annotation.kind;
  let points;
  let closed = false;
  switch (annotation.kind) {
    case 'rect': {
      const [[x0, y0], [x1, y1]] = annotation.ref_px;
      points = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
      closed = true;
      break;
    }
    case 'circle': {
      const geometry = markGeometry('circle', [annotation.centre_ref_px,
        [annotation.centre_ref_px[0] + annotation.radius_ref_px, annotation.centre_ref_px[1]]]);
      points = geometry.points;
      closed = true;
      break;
    }
    case 'arrow':
      points = [annotation.from_ref_px, annotation.to_ref_px];
      break;
    case 'polyline':
      points = annotation.points_ref_px;
      closed = Boolean(annotation.closed);
      break;
    case 'label':
      points = [annotation.at_ref_px];
      break;
    default:
      return null;
  }
  const projected = projectAll(h, points);
  if (!projected) return null;
  if (kind === 'circle') kind = 'polyline';
  return { kind, points_frame_px: projected, closed, label: annotation.label || annotation.text || null };
}

/**
 * What to draw at t ms: an ar_state-like object for overlay.drawOverlay and the pinned marks.
 * @param {object} data the playback JSON
 * @param {number} tMs
 * @param {{annotations: boolean, steps: boolean, outline: boolean, marks: boolean}} layers
 * @returns {{state: object|null, pinned: object[], stale: boolean, chapter: object|null, ar: object|null}}
 */
export function layerAt(data, tMs, layers) {
  const chapterIndex = chapterIndexAt(data.chapters, tMs);
  const chapter = chapterIndex >= 0 ? data.chapters[chapterIndex] : null;
  const ar = placeAt(data.ar, tMs);
  const alive = layers.annotations && layers.marks ? marksAt(data.marks, tMs) : [];
  const pinned = alive.filter((m) => !m.anchored && Array.isArray(m.points_frame_fraction));
  if (!layers.annotations || !ar) {
    return { state: null, pinned, stale: true, chapter, ar };
  }
  const h = ar.homography;
  const annotations = [];
  const procedure = chapter && chapter.procedure_id ? (data.procedures || {})[chapter.procedure_id] : null;
  // The step is the chapter's (what was shown then), as in an export's burn-in; the summary gives
  // only where the device was.
  const stepId = chapter && chapter.step_id;
  if (layers.steps && procedure && stepId) {
    const step = procedure.steps.find((s) => s.id === stepId);
    for (const annotation of (step && step.annotations) || []) {
      const shape = projectStepAnnotation(annotation, h);
      if (shape) annotations.push(shape);
    }
  }
  for (const mark of alive) {
    if (!mark.anchored) continue;
    const shape = projectMark(mark, h);
    if (shape) annotations.push(shape);
  }
  let outline = null;
  // Without a chapter (marks before any step), the session's procedure still names the device.
  const device = (procedure || Object.values(data.procedures || {})[0] || {}).device;
  const refSize = device ? device.reference_size : null;
  if (layers.outline && Array.isArray(refSize)) {
    const [w, h2] = refSize;
    outline = projectAll(h, [[0, 0], [w, 0], [w, h2], [0, h2]]);
  }
  const state = { found: true, frame_size: ar.frame_size, outline_frame_px: outline, annotations };
  return { state, pinned, stale: false, chapter, ar };
}

/**
 * Draw the layer for the video's current time on `canvas` (laid over `video`).
 * @returns {object} what layerAt() returned
 */
export function drawPlaybackLayer(canvas, video, data, layers, offsetMs = 0) {
  const tMs = video.currentTime * 1000 - offsetMs;
  const layer = layerAt(data, tMs, layers);
  drawOverlay(canvas, video, layer.state, { pinned: layer.pinned, stale: layer.stale });
  return layer;
}
