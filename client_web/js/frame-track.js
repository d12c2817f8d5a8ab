// A short history of a video's frames (small grey pyramids) with points tracked through them, so
// the motion between any two of them (an AR state's frame and the frame on screen) is one
// homography fit away. No DOM: frames come in as grey images (ar-follow.js grabs them).
//
// Points live on the device: they are seeded inside an AR state's outline on the very frame the
// state was computed on (where the outline is exact), tracked from there to the newest frame
// through the frames kept, then frame to frame as new ones come. A homography fit (RANSAC) between
// the two frames' positions of the points they share gives the motion; points that disagree with
// it are dropped, as are points lost by the tracker. See docs/ar-in-the-page.md.

import { buildPyramid, findCorners, fitHomography, insidePolygon, trackPoints } from './motion.js';

/** @typedef {import('./motion.js').GreyImage} GreyImage */
/** @typedef {import('./motion.js').Matrix3} Matrix3 */

/**
 * @typedef {object} TrackedFrame
 * @property {number} key the frame's id (capture time or RTP timestamp)
 * @property {number} at when it came (ms, the page's clock)
 * @property {GreyImage[]} pyramid
 * @property {Map<number, number[]>} points point id -> [x, y] in grey px
 */

export const TRACKER_DEFAULTS = Object.freeze({
  /** Pyramid levels: at 160 px wide, 2 levels follow about 15 px (60 px of a 640-px frame) between two frames. */
  levels: 2,
  /** How long frames are kept: an AR state older than this cannot be placed. */
  historyMs: 1200,
  /** Points seeded on a state's frame (inside its outline), and the most tracked at once. */
  seedPoints: 40,
  maxPoints: 80,
  /** A state's frame gets new points when fewer than this share of seedPoints reach the newest frame. */
  reseedShare: 0.6,
  /** Tracking window (px) and the fit's inlier threshold (grey px). */
  window: 11,
  inlierPx: 0.8,
  /** The fewest agreeing points for a homography. */
  minInliers: 10,
  /** The outline is shrunk toward its centre by this share before seeding, so windows stay on the device. */
  shrink: 0.1,
});

/**
 * The polygon moved toward its centroid by `share` of the way.
 * @param {number[][]} polygon
 * @param {number} share
 */
export function shrinkPolygon(polygon, share) {
  const cx = polygon.reduce((s, p) => s + p[0], 0) / polygon.length;
  const cy = polygon.reduce((s, p) => s + p[1], 0) / polygon.length;
  return polygon.map(([x, y]) => [x + (cx - x) * share, y + (cy - y) * share]);
}

export class FrameTracker {
  /** @param {Partial<typeof TRACKER_DEFAULTS>} [options] */
  constructor(options = {}) {
    this.options = { ...TRACKER_DEFAULTS, ...options };
    /** @type {TrackedFrame[]} oldest first */
    this.frames = [];
    this.nextId = 1;
    /** The last motion asked for, kept while neither frame nor points change. */
    this.cache = null;
  }

  /** Forget every frame and point (a new video, another size). */
  reset() {
    this.frames = [];
    this.cache = null;
  }

  /** The newest frame, or null. */
  get newest() {
    return this.frames.length ? this.frames[this.frames.length - 1] : null;
  }

  /**
   * The kept frame whose key is nearest to `key`, within `tolerance`; null when there is none.
   * @param {number} key
   * @param {number} [tolerance]
   * @param {(a: number, b: number) => number} [delta] a - b in key units (RTP keys wrap)
   */
  find(key, tolerance = 0, delta = (a, b) => a - b) {
    let best = null;
    let bestDistance = Infinity;
    for (const frame of this.frames) {
      const distance = Math.abs(delta(frame.key, key));
      if (distance <= tolerance && distance < bestDistance) {
        best = frame;
        bestDistance = distance;
      }
    }
    return best;
  }

  /**
   * A new frame of the video: its points are tracked into it from the frame before.
   * @param {number} key
   * @param {GreyImage} grey
   * @param {number} at ms
   * @returns {TrackedFrame}
   */
  push(key, grey, at) {
    const previous = this.newest;
    if (previous && (previous.pyramid[0].width !== grey.width || previous.pyramid[0].height !== grey.height)) this.reset();
    const frame = { key, at, pyramid: buildPyramid(grey, this.options.levels), points: new Map() };
    const last = this.newest;
    if (last && last.points.size) this.follow(last, frame, [...last.points.keys()]);
    this.frames.push(frame);
    const oldest = at - this.options.historyMs;
    while (this.frames.length > 2 && this.frames[0].at < oldest) this.frames.shift();
    this.cache = null;
    return frame;
  }

  /**
   * Track the points `ids` of frame `a` into frame `b` (the next one kept); lost ones end there.
   * @param {TrackedFrame} a
   * @param {TrackedFrame} b
   * @param {number[]} ids
   */
  follow(a, b, ids) {
    const from = ids.map((id) => a.points.get(id));
    const guesses = ids.map((id) => b.points.get(id) || null);
    const tracked = trackPoints(a.pyramid, b.pyramid, from, { window: this.options.window, guesses });
    const alive = [];
    ids.forEach((id, i) => {
      if (tracked.ok[i]) {
        b.points.set(id, tracked.points[i]);
        alive.push(id);
      }
    });
    return alive;
  }

  /**
   * Make sure the device, inside `polygon` (grey px) on frame `key`, has points that reach the
   * newest frame: if too few do, seed new ones there and track them through the kept frames.
   * @param {TrackedFrame} frame a kept frame
   * @param {number[][]} polygon grey px on that frame
   * @returns {number} how many of its points inside the polygon reach the newest frame
   */
  seed(frame, polygon) {
    const { seedPoints, maxPoints, reseedShare, shrink, window } = this.options;
    const newest = this.newest;
    const index = this.frames.indexOf(frame);
    if (index < 0 || !newest) return 0;
    const area = shrinkPolygon(polygon, shrink);
    const reaching = [...frame.points.entries()].filter(([id, p]) => newest.points.has(id) && insidePolygon(area, p[0], p[1]));
    if (reaching.length >= seedPoints * reseedShare) return reaching.length;
    const wanted = seedPoints - reaching.length;
    // Room for them: points that are not on this frame cannot help its state, so they go first.
    let excess = newest.points.size + wanted - maxPoints;
    for (const id of [...newest.points.keys()]) {
      if (excess <= 0) break;
      if (!frame.points.has(id)) {
        newest.points.delete(id);
        excess -= 1;
      }
    }
    const corners = findCorners(frame.pyramid[0], {
      polygon: area,
      maxPoints: wanted,
      minDistance: Math.max(4, Math.round(frame.pyramid[0].width / 48)),
      border: (window >> 1) + 2,
      avoid: reaching.map(([, p]) => p),
    });
    let ids = corners.map((p) => {
      const id = this.nextId;
      this.nextId += 1;
      frame.points.set(id, p);
      return id;
    });
    for (let i = index + 1; i < this.frames.length && ids.length; i += 1) ids = this.follow(this.frames[i - 1], this.frames[i], ids);
    this.cache = null;
    return reaching.length + ids.length;
  }

  /**
   * The motion of the device from frame `from` to frame `to` (default: the newest) as a homography
   * in grey px, fitted to the points both frames share; null when too few agree. Points on `to`
   * that disagree are dropped when `to` is the newest frame (they were not on the device, or slipped).
   * @param {TrackedFrame} from
   * @param {TrackedFrame} [to]
   * @returns {{h: Matrix3, inliers: number, points: number, rms: number}|null}
   */
  motion(from, to = this.newest) {
    if (!from || !to) return null;
    if (this.cache && this.cache.from === from && this.cache.to === to) return this.cache.result;
    const ids = [];
    const src = [];
    const dst = [];
    for (const [id, p] of from.points) {
      const q = to.points.get(id);
      if (!q) continue;
      ids.push(id);
      src.push(p);
      dst.push(q);
    }
    let result = null;
    if (from === to) {
      result = { h: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], inliers: ids.length, points: ids.length, rms: 0 };
    } else {
      const fit = fitHomography(src, dst, { threshold: this.options.inlierPx, minInliers: this.options.minInliers });
      if (fit) {
        result = { h: fit.h, inliers: fit.inliers.length, points: ids.length, rms: fit.rms };
        if (to === this.newest && fit.inliers.length < ids.length) {
          const keep = new Set(fit.inliers.map((k) => ids[k]));
          for (const id of ids) if (!keep.has(id)) to.points.delete(id);
        }
      }
    }
    this.cache = { from, to, result };
    return result;
  }
}
