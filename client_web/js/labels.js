// Where annotation labels go: off each other, off the step's target and off the marked parts.
//
// Mirrors vision/labels.py (the burn-in of live video and exports uses that one); both are tested
// against tests/data/label_vectors.json, so a label sits in the same place, relative to its part, on
// the pages and in an exported video. Plain arithmetic on boxes (+ - * /, min, max, comparisons; no
// rounding, no square roots), so both languages compute the same numbers. Each side measures its own
// text and passes box sizes in. Boxes are [left, top, right, bottom] in the caller's pixels.
//
// The rule: labels are placed one after another, in the order given. For each, candidate boxes are
// tried around its anchor ring by ring, at the distances gap + ring * (height + 2 * gap), in the order
// of DIRECTIONS; a candidate is moved inside the bounds, then scored; the first scoring 0 is taken,
// else the first with the lowest score (`clear` is then false). The score adds up what the candidate,
// grown by half a gap, would spoil: the area it overlaps of the labels placed before it and of the
// keep-clear boxes (target, closed shapes, its own included); a penalty for each label anchor it
// covers; when it needs a leader line (more than LEADER_GAPS gaps from its anchor), a penalty for each
// placed label, keep-clear box and other anchor that line runs through (not a box the anchor is in or on);
// and a penalty for each placed leader that runs through the candidate. A leader goes from the anchor
// to the nearest point of the box.

/** [x, y] steps of the places tried around an anchor at each distance, in order. Above and below, the
 * box stays over the anchor, so labels of parts in a row stack in rows in the parts' order. */
export const DIRECTIONS = Object.freeze([
  [0, -1], // above, centred on the anchor
  [1, -1], // above, reaching right from just left of the anchor
  [-1, -1], // above, reaching left from just right of the anchor
  [1, 0], // right, centred vertically
  [-1, 0], // left, centred vertically
  [0, 1], // below, centred
  [1, 1], // below, reaching right
  [-1, 1], // below, reaching left
]);

/** Distances tried: a label much further from its part reads as belonging to something else. */
export const RINGS = 4;

/** A box further than this many gaps from its anchor is joined to it by a leader line. */
export const LEADER_GAPS = 1.5;

/**
 * The box a shape keeps free of labels: the bounds of a closed shape (rect, circle, closed polyline,
 * a target polygon) of at least 3 points; null for arrows, open lines and text marks.
 * @param {string} kind
 * @param {number[][]} points
 * @param {boolean} closed
 * @returns {number[]|null} [left, top, right, bottom]
 */
export function clearanceBox(kind, points, closed) {
  if (kind === 'arrow' || kind === 'label' || !closed || points.length < 3) return null;
  // Folded with the same comparisons as Python's min()/max(): the first of equal values wins.
  let [left, top] = points[0];
  let [right, bottom] = points[0];
  for (const [x, y] of points) {
    if (x < left) left = x;
    if (y < top) top = y;
    if (x > right) right = x;
    if (y > bottom) bottom = y;
  }
  return [left, top, right, bottom];
}

function overlap(a, b) {
  const width = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const height = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (width <= 0 || height <= 0) return 0;
  return width * height;
}

/** True when the segment a-b runs through the inside of `box` (Liang-Barsky; edges do not count). */
function crosses(a, b, box) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  let enter = 0;
  let leave = 1;
  for (const [p, q] of [[-dx, a[0] - box[0]], [dx, box[2] - a[0]], [-dy, a[1] - box[1]], [dy, box[3] - a[1]]]) {
    if (p === 0) {
      if (q <= 0) return false;
    } else if (p < 0) {
      enter = Math.max(enter, q / p);
    } else {
      leave = Math.min(leave, q / p);
    }
  }
  return enter < leave;
}

/** True when `point` is inside `box` or on its edge: the box of the shape a label names (its anchor is
 * on top of it), which a leader line may cross to reach the label. */
function within(point, box) {
  return box[0] <= point[0] && point[0] <= box[2] && box[1] <= point[1] && point[1] <= box[3];
}

/** `box` moved (not resized) into `bounds`; flush left / top when it is larger. */
function inside(bounds, box) {
  const width = box[2] - box[0];
  const height = box[3] - box[1];
  const left = Math.max(Math.min(box[0], bounds[2] - width), bounds[0]);
  const top = Math.max(Math.min(box[1], bounds[3] - height), bounds[1]);
  return [left, top, left + width, top + height];
}

function candidate(anchor, size, direction, distance, gap) {
  const [ax, ay] = anchor;
  const [width, height] = size;
  const [dx, dy] = direction;
  let left;
  let top;
  if (dy === 0) {
    left = dx > 0 ? ax + distance : ax - distance - width;
    top = ay - height / 2;
  } else {
    if (dx === 0) left = ax - width / 2;
    else if (dx > 0) left = ax - gap;
    else left = ax + gap - width;
    top = dy > 0 ? ay + distance : ay - distance - height;
  }
  return [left, top, left + width, top + height];
}

function leaderTo(box, anchor, gap) {
  const to = [Math.min(Math.max(anchor[0], box[0]), box[2]), Math.min(Math.max(anchor[1], box[1]), box[3])];
  const dx = to[0] - anchor[0];
  const dy = to[1] - anchor[1];
  const limit = LEADER_GAPS * gap;
  return dx * dx + dy * dy > limit * limit ? to : null;
}

/**
 * A place for every label, in order (the rule is at the top of this file).
 * @param {number[]} bounds [left, top, right, bottom] where labels may go (the picture)
 * @param {{anchor: number[], size: number[]}[]} labels the point each names and its box's [w, h], padding included
 * @param {number[][]} keepClear boxes no label may cover (see clearanceBox)
 * @param {number} gapPx space between a label and its anchor, the step between rings, and (half of it)
 *   the least space between two labels
 * @returns {{box: number[], leader_to: number[]|null, clear: boolean}[]} as vision/labels.py's PlacedLabel
 */
export function placeLabels(bounds, labels, keepClear, gapPx) {
  const margin = gapPx / 2;
  const penalty = (2 * margin) * (2 * margin);
  const anchors = labels.map((label) => label.anchor);
  const placed = [];
  const leaders = [];
  const result = [];
  labels.forEach((label, index) => {
    const others = [];
    anchors.forEach(([x, y], i) => {
      if (i !== index) others.push([x - margin, y - margin, x + margin, y + margin]);
    });
    let best = null;
    let bestScore = 0;
    for (let ring = 0; ring < RINGS; ring += 1) {
      const distance = gapPx + ring * (label.size[1] + 2 * gapPx);
      for (const direction of DIRECTIONS) {
        const box = inside(bounds, candidate(label.anchor, label.size, direction, distance, gapPx));
        const grown = [box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin];
        let score = 0;
        for (const other of placed) score += overlap(grown, other);
        for (const region of keepClear) score += overlap(grown, region);
        for (const [x, y] of anchors) {
          if (grown[0] < x && x < grown[2] && grown[1] < y && y < grown[3]) score += penalty;
        }
        for (const [start, end] of leaders) {
          if (crosses(start, end, grown)) score += penalty;
        }
        const to = leaderTo(box, label.anchor, gapPx);
        if (to !== null) {
          for (const crossed of [...placed, ...keepClear, ...others]) {
            if (crosses(label.anchor, to, crossed) && !within(label.anchor, crossed)) score += penalty;
          }
        }
        if (best === null || score < bestScore) {
          best = { box, leader_to: to, clear: score === 0 };
          bestScore = score;
        }
        if (score === 0) break;
      }
      if (best !== null && best.clear) break;
    }
    placed.push(best.box);
    if (best.leader_to !== null) leaders.push([label.anchor, best.leader_to]);
    result.push(best);
  });
  return result;
}
