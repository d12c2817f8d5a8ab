// Image motion for carrying AR state forward in the page: small grey images, image pyramids,
// corners worth tracking, pyramidal Lucas-Kanade point tracking and a robust homography fit.
// Pure functions on typed arrays: no DOM, no state (see frame-track.js for the tracker that
// keeps a history of frames and point tracks, docs/ar-in-the-page.md for why).
//
// Pixel convention (as OpenCV and the rest of RepairSight): x right, y down, the centre of the
// top-left pixel is (0, 0). A grey image is {data: Uint8Array, width, height}.
//
// Lucas-Kanade follows J.-Y. Bouguet, "Pyramidal implementation of the Lucas Kanade feature
// tracker" (OpenCV, 2000); corners are Shi and Tomasi's, "Good features to track" (CVPR 1994);
// the homography is the normalised DLT of Hartley and Zisserman (ch. 4) inside RANSAC.

/** @typedef {{data: Uint8Array, width: number, height: number}} GreyImage */
/** @typedef {number[][]} Matrix3 a 3x3 matrix as rows */

/**
 * Luma of RGBA pixels (`ImageData.data`), BT.601 weights in integers.
 * @param {Uint8ClampedArray|Uint8Array} rgba
 * @param {number} width
 * @param {number} height
 * @param {Uint8Array} [out] reused when given (width * height)
 * @returns {GreyImage}
 */
export function greyFromRgba(rgba, width, height, out) {
  const size = width * height;
  const data = out && out.length === size ? out : new Uint8Array(size);
  for (let i = 0, k = 0; i < size; i += 1, k += 4) {
    data[i] = (rgba[k] * 77 + rgba[k + 1] * 150 + rgba[k + 2] * 29 + 128) >> 8;
  }
  return { data, width, height };
}

/**
 * Half the size: each pixel the mean of a 2x2 block, so level k+1 pixel i is centred on level k
 * coordinate 2i + 0.5.
 * @param {GreyImage} image
 * @returns {GreyImage}
 */
export function halve(image) {
  const width = image.width >> 1;
  const height = image.height >> 1;
  const src = image.data;
  const stride = image.width;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    const row = 2 * y * stride;
    for (let x = 0; x < width; x += 1) {
      const k = row + 2 * x;
      data[y * width + x] = (src[k] + src[k + 1] + src[k + stride] + src[k + stride + 1] + 2) >> 2;
    }
  }
  return { data, width, height };
}

/**
 * The image and `levels - 1` halvings of it (stopping before a level gets smaller than 16 px).
 * @param {GreyImage} image
 * @param {number} levels
 * @returns {GreyImage[]}
 */
export function buildPyramid(image, levels) {
  const pyramid = [image];
  while (pyramid.length < levels) {
    const top = pyramid[pyramid.length - 1];
    if (top.width < 32 || top.height < 32) break;
    pyramid.push(halve(top));
  }
  return pyramid;
}

/** Bilinear sample; the caller keeps (x, y) inside [0, w-1) x [0, h-1). */
function sample(data, width, x, y) {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const ax = x - x0;
  const ay = y - y0;
  const k = y0 * width + x0;
  const top = data[k] + ax * (data[k + 1] - data[k]);
  const bottom = data[k + width] + ax * (data[k + width + 1] - data[k + width]);
  return top + ay * (bottom - top);
}

/**
 * Is [x, y] inside the polygon (even-odd rule)?
 * @param {number[][]} polygon
 * @param {number} x
 * @param {number} y
 */
export function insidePolygon(polygon, x, y) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Corners worth tracking (Shi-Tomasi: the smaller eigenvalue of the gradient structure tensor
 * over a 5x5 window), spread over the area: the strongest in each cell of a grid first, then the
 * next strongest anywhere, never closer than `minDistance` to each other or to `avoid`.
 *
 * @param {GreyImage} image
 * @param {{polygon?: number[][]|null, maxPoints?: number, minDistance?: number, quality?: number,
 *          border?: number, avoid?: number[][]}} [options]
 *   `polygon`: only inside it (image px); `quality`: at least this share of the best score;
 *   `border`: px kept clear of the image's edge (tracking windows must fit); `avoid`: points already tracked
 * @returns {number[][]} [x, y] in image px, strongest first
 */
export function findCorners(image, options = {}) {
  const { width, height, data } = image;
  const maxPoints = options.maxPoints ?? 50;
  const minDistance = options.minDistance ?? 6;
  const quality = options.quality ?? 0.03;
  const border = Math.max(3, options.border ?? 6);
  const polygon = options.polygon && options.polygon.length >= 3 ? options.polygon : null;
  let x0 = border;
  let y0 = border;
  let x1 = width - 1 - border;
  let y1 = height - 1 - border;
  if (polygon) {
    x0 = Math.max(x0, Math.floor(Math.min(...polygon.map((p) => p[0]))));
    x1 = Math.min(x1, Math.ceil(Math.max(...polygon.map((p) => p[0]))));
    y0 = Math.max(y0, Math.floor(Math.min(...polygon.map((p) => p[1]))));
    y1 = Math.min(y1, Math.ceil(Math.max(...polygon.map((p) => p[1]))));
  }
  if (x1 - x0 < 3 || y1 - y0 < 3) return [];
  // Gradient products over the box (with a 2 px margin for the 5x5 sums).
  const bx0 = Math.max(1, x0 - 2);
  const by0 = Math.max(1, y0 - 2);
  const bw = Math.min(width - 2, x1 + 2) - bx0 + 1;
  const bh = Math.min(height - 2, y1 + 2) - by0 + 1;
  const xx = new Float32Array(bw * bh);
  const xy = new Float32Array(bw * bh);
  const yy = new Float32Array(bw * bh);
  for (let j = 0; j < bh; j += 1) {
    const y = by0 + j;
    for (let i = 0; i < bw; i += 1) {
      const k = y * width + bx0 + i;
      const gx = data[k + 1] - data[k - 1];
      const gy = data[k + width] - data[k - width];
      const b = j * bw + i;
      xx[b] = gx * gx;
      xy[b] = gx * gy;
      yy[b] = gy * gy;
    }
  }
  const score = new Float32Array(bw * bh);
  let best = 0;
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      const ci = x - bx0;
      const cj = y - by0;
      if (ci < 2 || cj < 2 || ci >= bw - 2 || cj >= bh - 2) continue;
      if (polygon && !insidePolygon(polygon, x, y)) continue;
      let a = 0;
      let b = 0;
      let c = 0;
      for (let dj = -2; dj <= 2; dj += 1) {
        const row = (cj + dj) * bw + ci;
        for (let di = -2; di <= 2; di += 1) {
          a += xx[row + di];
          b += xy[row + di];
          c += yy[row + di];
        }
      }
      const half = (a + c) / 2;
      const s = half - Math.sqrt(((a - c) * (a - c)) / 4 + b * b);
      score[cj * bw + ci] = s;
      if (s > best) best = s;
    }
  }
  if (!(best > 0)) return [];
  const floor = best * quality;
  /** Local maxima over 3x3 above the floor. */
  const candidates = [];
  for (let j = 1; j < bh - 1; j += 1) {
    for (let i = 1; i < bw - 1; i += 1) {
      const s = score[j * bw + i];
      if (s < floor) continue;
      let peak = true;
      for (let dj = -1; dj <= 1 && peak; dj += 1) {
        for (let di = -1; di <= 1; di += 1) {
          if ((di || dj) && score[(j + dj) * bw + i + di] > s) {
            peak = false;
            break;
          }
        }
      }
      if (peak) candidates.push([bx0 + i, by0 + j, s]);
    }
  }
  candidates.sort((p, q) => q[2] - p[2]);
  const chosen = [];
  const taken = [...(options.avoid || [])];
  const farEnough = (p) => taken.every((q) => (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= minDistance * minDistance);
  // The strongest corner of each grid cell first, so the points cover the whole area.
  const cells = Math.max(2, Math.round(Math.sqrt(maxPoints / 2)));
  const cellW = (x1 - x0 + 1) / cells;
  const cellH = (y1 - y0 + 1) / cells;
  const seen = new Set();
  for (const p of candidates) {
    if (chosen.length >= maxPoints) break;
    const cell = Math.min(cells - 1, Math.floor((p[1] - y0) / cellH)) * cells + Math.min(cells - 1, Math.floor((p[0] - x0) / cellW));
    if (seen.has(cell) || !farEnough(p)) continue;
    seen.add(cell);
    chosen.push([p[0], p[1]]);
    taken.push(p);
  }
  for (const p of candidates) {
    if (chosen.length >= maxPoints) break;
    if (!farEnough(p)) continue;
    chosen.push([p[0], p[1]]);
    taken.push(p);
  }
  return chosen;
}

/**
 * Track points from one image to the next with pyramidal Lucas-Kanade.
 *
 * @param {GreyImage[]} from pyramid of the first image (buildPyramid)
 * @param {GreyImage[]} to pyramid of the second image, with as many levels
 * @param {number[][]} points [x, y] in level-0 px of the first image
 * @param {{window?: number, iterations?: number, epsilon?: number, minEigen?: number, maxError?: number,
 *          guesses?: (number[]|null)[]}} [options]
 *   `window`: odd side of the square window (px at every level); `minEigen`: texture needed at the
 *   finest level (per pixel, grey levels squared); `maxError`: largest mean absolute difference
 *   (grey levels) between the windows after tracking; `guesses`: where each point may be in the second image
 * @returns {{points: number[][], ok: boolean[], error: number[]}} tracked positions (level-0 px)
 */
export function trackPoints(from, to, points, options = {}) {
  const half = (options.window ?? 11) >> 1;
  const iterations = options.iterations ?? 12;
  const epsilon = options.epsilon ?? 0.01;
  const minEigen = options.minEigen ?? 1e-3;
  const maxError = options.maxError ?? 24;
  const levels = Math.min(from.length, to.length);
  const side = 2 * half + 1;
  const n = side * side;
  const tpl = new Float32Array(n);
  const gx = new Float32Array(n);
  const gy = new Float32Array(n);
  const result = { points: [], ok: [], error: [] };
  for (let index = 0; index < points.length; index += 1) {
    const p = points[index];
    const guess = options.guesses && options.guesses[index];
    // The displacement found so far, in the current level's px.
    let dx = 0;
    let dy = 0;
    if (guess) {
      const scale = 2 ** (levels - 1);
      dx = (guess[0] - p[0]) / scale;
      dy = (guess[1] - p[1]) / scale;
    }
    let ok = true;
    let error = 0;
    for (let level = levels - 1; level >= 0; level -= 1) {
      const scale = 2 ** level;
      const a = from[level];
      const b = to[level];
      // Level-0 (x, y) is at (x + 0.5) / 2^L - 0.5 on level L (each level averages 2x2 blocks).
      const px = (p[0] + 0.5) / scale - 0.5;
      const py = (p[1] + 0.5) / scale - 0.5;
      if (px - half - 1 < 0 || py - half - 1 < 0 || px + half + 1 >= a.width - 1 || py + half + 1 >= a.height - 1) {
        // Too near the edge for this level's window: the finer levels take over (the finest must fit).
        if (level === 0) {
          ok = false;
          break;
        }
        dx *= 2;
        dy *= 2;
        continue;
      }
      // The template and its gradients (central differences of bilinear samples).
      let gxx = 0;
      let gxy = 0;
      let gyy = 0;
      for (let j = -half, k = 0; j <= half; j += 1) {
        for (let i = -half; i <= half; i += 1, k += 1) {
          const x = px + i;
          const y = py + j;
          tpl[k] = sample(a.data, a.width, x, y);
          const ix = (sample(a.data, a.width, x + 1, y) - sample(a.data, a.width, x - 1, y)) / 2;
          const iy = (sample(a.data, a.width, x, y + 1) - sample(a.data, a.width, x, y - 1)) / 2;
          gx[k] = ix;
          gy[k] = iy;
          gxx += ix * ix;
          gxy += ix * iy;
          gyy += iy * iy;
        }
      }
      const det = gxx * gyy - gxy * gxy;
      const eigen = (gxx + gyy - Math.sqrt((gxx - gyy) ** 2 + 4 * gxy * gxy)) / 2 / n;
      if (!(det > 1e-9) || (level === 0 && eigen < minEigen)) {
        ok = false;
        break;
      }
      for (let iteration = 0; iteration < iterations; iteration += 1) {
        const qx = px + dx;
        const qy = py + dy;
        if (qx - half < 0 || qy - half < 0 || qx + half >= b.width - 1 || qy + half >= b.height - 1) {
          ok = false;
          break;
        }
        let bx = 0;
        let by = 0;
        for (let j = -half, k = 0; j <= half; j += 1) {
          for (let i = -half; i <= half; i += 1, k += 1) {
            const diff = tpl[k] - sample(b.data, b.width, qx + i, qy + j);
            bx += diff * gx[k];
            by += diff * gy[k];
          }
        }
        const sx = (gyy * bx - gxy * by) / det;
        const sy = (gxx * by - gxy * bx) / det;
        dx += sx;
        dy += sy;
        if (sx * sx + sy * sy < epsilon * epsilon) break;
      }
      if (!ok) break;
      if (level === 0) {
        let sum = 0;
        for (let j = -half, k = 0; j <= half; j += 1) {
          for (let i = -half; i <= half; i += 1, k += 1) sum += Math.abs(tpl[k] - sample(b.data, b.width, px + dx + i, py + dy + j));
        }
        error = sum / n;
        if (error > maxError) ok = false;
      } else {
        dx *= 2;
        dy *= 2;
      }
    }
    result.points.push([p[0] + dx, p[1] + dy]);
    result.ok.push(ok);
    result.error.push(error);
  }
  return result;
}

// --- 3x3 matrices ------------------------------------------------------------------------------

/** @returns {Matrix3} */
export function identity3() {
  return [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
}

/**
 * A·B.
 * @param {Matrix3} a
 * @param {Matrix3} b
 * @returns {Matrix3}
 */
export function multiply3(a, b) {
  const out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let r = 0; r < 3; r += 1) {
    for (let c = 0; c < 3; c += 1) out[r][c] = a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c];
  }
  return out;
}

/**
 * The inverse, or null when the matrix is singular.
 * @param {Matrix3} m
 * @returns {Matrix3|null}
 */
export function invert3(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/**
 * A point through a homography; null when it maps to infinity or behind.
 * @param {Matrix3} h
 * @param {number[]} p
 * @returns {number[]|null}
 */
export function transformPoint(h, p) {
  const w = h[2][0] * p[0] + h[2][1] * p[1] + h[2][2];
  if (!(Math.abs(w) > 1e-12)) return null;
  return [(h[0][0] * p[0] + h[0][1] * p[1] + h[0][2]) / w, (h[1][0] * p[0] + h[1][1] * p[1] + h[1][2]) / w];
}

/**
 * The matrix scaled so its last element is 1 (when it can be).
 * @param {Matrix3} h
 * @returns {Matrix3}
 */
export function normalize3(h) {
  const s = h[2][2];
  return Math.abs(s) > 1e-12 ? h.map((row) => row.map((v) => v / s)) : h;
}

/**
 * Solve A x = b (n x n, rows) by Gaussian elimination with partial pivoting; null when singular.
 * @param {number[][]} a modified
 * @param {number[]} b modified
 */
function solve(a, b) {
  const n = b.length;
  for (let col = 0; col < n; col += 1) {
    let pivot = col;
    for (let r = col + 1; r < n; r += 1) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (!(Math.abs(a[pivot][col]) > 1e-12)) return null;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [b[col], b[pivot]] = [b[pivot], b[col]];
    for (let r = col + 1; r < n; r += 1) {
      const f = a[r][col] / a[col][col];
      if (!f) continue;
      for (let c = col; c < n; c += 1) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r -= 1) {
    let s = b[r];
    for (let c = r + 1; c < n; c += 1) s -= a[r][c] * x[c];
    x[r] = s / a[r][r];
  }
  return x;
}

/** Hartley's normalisation: centroid to the origin, mean distance sqrt(2). */
function normaliser(points) {
  let cx = 0;
  let cy = 0;
  for (const p of points) {
    cx += p[0];
    cy += p[1];
  }
  cx /= points.length;
  cy /= points.length;
  let d = 0;
  for (const p of points) d += Math.hypot(p[0] - cx, p[1] - cy);
  d /= points.length;
  const s = d > 1e-9 ? Math.SQRT2 / d : 1;
  return [[s, 0, -s * cx], [0, s, -s * cy], [0, 0, 1]];
}

/**
 * The homography mapping `src` to `dst` in the least-squares sense (normalised DLT with h33 = 1);
 * exact for 4 points. Null when the points are degenerate (fewer than 4, or 3 on a line).
 * @param {number[][]} src
 * @param {number[][]} dst
 * @returns {Matrix3|null}
 */
export function homographyFromPoints(src, dst) {
  const n = src.length;
  if (n < 4 || dst.length !== n) return null;
  const ts = normaliser(src);
  const td = normaliser(dst);
  const ata = Array.from({ length: 8 }, () => new Array(8).fill(0));
  const atb = new Array(8).fill(0);
  for (let k = 0; k < n; k += 1) {
    const x = ts[0][0] * src[k][0] + ts[0][2];
    const y = ts[1][1] * src[k][1] + ts[1][2];
    const u = td[0][0] * dst[k][0] + td[0][2];
    const v = td[1][1] * dst[k][1] + td[1][2];
    const rows = [
      [[x, y, 1, 0, 0, 0, -u * x, -u * y], u],
      [[0, 0, 0, x, y, 1, -v * x, -v * y], v],
    ];
    for (const [row, rhs] of rows) {
      for (let i = 0; i < 8; i += 1) {
        if (!row[i]) continue;
        atb[i] += row[i] * rhs;
        for (let j = 0; j < 8; j += 1) ata[i][j] += row[i] * row[j];
      }
    }
  }
  const h = solve(ata, atb);
  if (!h || h.some((v) => !Number.isFinite(v))) return null;
  const hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1]];
  const tdInv = invert3(td);
  if (!tdInv) return null;
  return normalize3(multiply3(tdInv, multiply3(hn, ts)));
}

/** A small deterministic random generator (mulberry32), so fits are repeatable. */
function random32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inliersOf(h, src, dst, threshold) {
  const inliers = [];
  const t2 = threshold * threshold;
  for (let k = 0; k < src.length; k += 1) {
    const q = transformPoint(h, src[k]);
    if (q && (q[0] - dst[k][0]) ** 2 + (q[1] - dst[k][1]) ** 2 <= t2) inliers.push(k);
  }
  return inliers;
}

/**
 * A homography from point pairs with RANSAC (4-point samples), refined by least squares on the
 * inliers. Null when fewer than `minInliers` pairs agree.
 *
 * @param {number[][]} src
 * @param {number[][]} dst
 * @param {{threshold?: number, iterations?: number, minInliers?: number, seed?: number}} [options]
 *   `threshold`: largest reprojection error of an inlier (px)
 * @returns {{h: Matrix3, inliers: number[], rms: number}|null}
 */
export function fitHomography(src, dst, options = {}) {
  const threshold = options.threshold ?? 1.0;
  const minInliers = Math.max(4, options.minInliers ?? 8);
  const n = src.length;
  if (n < minInliers) return null;
  const rand = random32(options.seed ?? 12345);
  let best = [];
  let iterations = options.iterations ?? 200;
  for (let it = 0; it < iterations; it += 1) {
    const pick = new Set();
    while (pick.size < 4) pick.add(Math.floor(rand() * n));
    const idx = [...pick];
    const h = homographyFromPoints(idx.map((k) => src[k]), idx.map((k) => dst[k]));
    if (!h) continue;
    const inliers = inliersOf(h, src, dst, threshold);
    if (inliers.length > best.length) {
      best = inliers;
      // Enough iterations to draw one all-inlier sample with 99% confidence.
      const share = inliers.length / n;
      const needed = Math.ceil(Math.log(0.01) / Math.log(Math.max(1e-9, 1 - share ** 4)));
      iterations = Math.min(iterations, Math.max(needed, 8));
    }
  }
  if (best.length < minInliers) return null;
  let h = null;
  let inliers = best;
  for (let round = 0; round < 3; round += 1) {
    const refit = homographyFromPoints(inliers.map((k) => src[k]), inliers.map((k) => dst[k]));
    if (!refit) break;
    h = refit;
    const next = inliersOf(h, src, dst, threshold);
    if (next.length < minInliers) break;
    const same = next.length === inliers.length && next.every((k, i) => k === inliers[i]);
    inliers = next;
    if (same) break;
  }
  if (!h) return null;
  let sum = 0;
  for (const k of inliers) {
    const q = transformPoint(h, src[k]);
    sum += (q[0] - dst[k][0]) ** 2 + (q[1] - dst[k][1]) ** 2;
  }
  return { h, inliers, rms: Math.sqrt(sum / inliers.length) };
}
