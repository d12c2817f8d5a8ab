// Where the device is at any moment of a recording, from the `ar` summaries of its event log.
//
// Mirrors server/recordings/outline.py (the export's burn-in uses that one); both are tested
// against tests/data/outline_vectors.json, so the player and an exported MP4 place the outline at
// the same point between two summaries:
// - the summary in force at t is the last one at or before it; none before the first, when it did
//   not find the device, or when it is more than STALE_MS old;
// - between it and the next summary (found too, at most STALE_MS later, same frame size) the
//   homography is interpolated linearly, entry by entry, after normalising H[2][2] to 1.

/** An `ar` summary older than this says nothing about where the device is now. */
export const STALE_MS = 1000;

function isHomography(h) {
  return Array.isArray(h) && h.length === 3 && h.every((row) => Array.isArray(row) && row.length === 3
    && row.every((v) => typeof v === 'number' && Number.isFinite(v)));
}

function normalised(h) {
  if (!isHomography(h) || Math.abs(h[2][2]) < 1e-12) return null;
  return h.map((row) => row.map((v) => v / h[2][2]));
}

function sameSize(a, b) {
  return Array.isArray(a) && Array.isArray(b) && a[0] === b[0] && a[1] === b[1];
}

/**
 * Index of the last item whose `key(item)` is <= t in a list sorted by that key, or -1.
 * @template T
 * @param {T[]} items
 * @param {number} t
 * @param {(item: T) => number} key
 */
export function lastAtOrBefore(items, t, key) {
  let low = 0;
  let high = items.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (key(items[mid]) <= t) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/**
 * The device's place at t ms: {homography (reference px -> frame px, H[2][2] = 1), frame_size,
 * step_id}, or null when no summary says where it is.
 * @param {{t_ms: number, found: boolean, homography: number[][]|null, frame_size: number[]|null, step_id: string|null}[]} summaries sorted by t_ms
 * @param {number} tMs
 */
export function placeAt(summaries, tMs) {
  const list = summaries || [];
  const index = lastAtOrBefore(list, tMs, (summary) => summary.t_ms);
  if (index < 0) return null;
  const before = list[index];
  let h = before.found ? normalised(before.homography) : null;
  if (!h || !Array.isArray(before.frame_size) || tMs - before.t_ms > STALE_MS) return null;
  const after = list[index + 1];
  if (after) {
    const hAfter = after.found ? normalised(after.homography) : null;
    const span = after.t_ms - before.t_ms;
    if (hAfter && span > 0 && span <= STALE_MS && sameSize(after.frame_size, before.frame_size)) {
      const alpha = (tMs - before.t_ms) / span;
      h = h.map((row, i) => row.map((v, j) => (1 - alpha) * v + alpha * hAfter[i][j]));
    }
  }
  return { homography: h, frame_size: before.frame_size, step_id: before.step_id ?? null };
}
