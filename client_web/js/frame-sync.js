// Which video frame an AR state was computed on, on each page (docs/ar-in-the-page.md).
//
// Every `ar_state` names its frame by RTP timestamps (90 kHz, 32 bits), exactly as each page's
// video knows it (the server reads both from its WebRTC stack): `rtp_timestamp` is the one the
// phone put on the frame, `stream_timestamp` the one the frame has in the video the expert receives.
//
// - the expert's video: `requestVideoFrameCallback` gives each displayed frame's `rtpTimestamp`,
//   which is the state's `stream_timestamp`;
// - the customer's preview shows camera frames by `captureTime` (ms). Chrome stamps a sent frame
//   with rtp = 90 * capture ms + a random constant, so the sent frames (read from an encoded
//   transform, RTCRtpScriptTransform) give that constant by a vote: each one belongs to the latest
//   preview frame captured before it left the encoder. Without an encoded transform, or a
//   `captureTime`, the page cannot tell which preview frame a state is for: it draws the newest
//   state as it is.
//
// A vote that is not clearly won (fewer than MIN_VOTES, or a runner-up too close) names no frame.

export const RTP_WRAP = 2 ** 32;
/** Votes a constant needs before it is used. */
export const MIN_VOTES = 8;
/** The winner must have this many times the runner-up's votes (see VOTE_HALF_LIFE_MS for why the runner-up is close). */
export const WIN_RATIO = 1.5;
/**
 * Votes fade with this half-life (ms). The constant holds for a connection's life (a new one resets
 * the votes), and a long memory lets it outvote the sent frames matched to a wrong capture (one
 * captured after the frame left, reported late by the preview).
 */
export const VOTE_HALF_LIFE_MS = 60000;
/** The most values a vote keeps; the weakest half goes when there are more. */
const VOTE_VALUES_KEPT = 4000;
/** A sent frame's constant is matched to preview frames captured up to this long before it left (ms). */
const SENT_FRAMES_KEPT = 120;
const CAPTURES_KEPT = 90;

/**
 * a - b on the 32-bit RTP circle, as a signed number of ticks in [-2^31, 2^31).
 * @param {number} a
 * @param {number} b
 */
export function rtpDelta(a, b) {
  const d = (((a - b) % RTP_WRAP) + RTP_WRAP) % RTP_WRAP;
  return d >= RTP_WRAP / 2 ? d - RTP_WRAP : d;
}

/**
 * The most frequent value among recent votes, with older votes fading.
 * `add(value, now)`; `winner()` is the value or null when the vote is not clearly won.
 */
export class Vote {
  /** @param {{halfLifeMs?: number, minVotes?: number, ratio?: number, spread?: number}} [options]
   *   `spread`: a vote also counts for values this far on either side (binned values) */
  constructor(options = {}) {
    this.halfLifeMs = options.halfLifeMs ?? VOTE_HALF_LIFE_MS;
    this.minVotes = options.minVotes ?? MIN_VOTES;
    this.ratio = options.ratio ?? WIN_RATIO;
    this.spread = options.spread ?? 0;
    /** @type {Map<number, {score: number, at: number}>} */
    this.scores = new Map();
    this.now = 0;
    /** winner() as of the last vote: [value] (value may be null), or null when a vote came since. */
    this.cached = null;
  }

  reset() {
    this.scores.clear();
    this.cached = null;
  }

  /** @param {number} value @param {number} now ms */
  add(value, now) {
    this.now = Math.max(this.now, now);
    this.cached = null;
    const entry = this.scores.get(value);
    if (entry) {
      entry.score = this.decayed(entry, now) + 1;
      entry.at = now;
    } else {
      this.scores.set(value, { score: 1, at: now });
    }
    if (this.scores.size > VOTE_VALUES_KEPT) this.prune();
  }

  decayed(entry, now = this.now) {
    return entry.score * 2 ** (-(now - entry.at) / this.halfLifeMs);
  }

  prune() {
    const ranked = [...this.scores].map(([value, entry]) => [value, this.decayed(entry)]).sort((a, b) => a[1] - b[1]);
    for (const [value] of ranked.slice(0, ranked.length >> 1)) this.scores.delete(value);
  }

  /** The winning value, or null. */
  winner() {
    if (!this.cached) this.cached = [this.count()];
    return this.cached[0];
  }

  count() {
    let best = null;
    let bestScore = 0;
    let second = 0;
    const score = (value) => {
      let sum = 0;
      for (let d = -this.spread; d <= this.spread; d += 1) {
        const entry = this.scores.get(value + d);
        if (entry) sum += this.decayed(entry);
      }
      return sum;
    };
    const scored = [];
    for (const value of this.scores.keys()) scored.push([value, score(value)]);
    for (const [value, s] of scored) {
      if (s > bestScore) {
        bestScore = s;
        best = value;
      }
    }
    for (const [value, s] of scored) {
      if (Math.abs(value - best) > 2 * this.spread && s > second) second = s;
    }
    if (best === null || bestScore < this.minVotes || bestScore < this.ratio * second) return null;
    return best;
  }
}

/** The expert's video: a state's frame is the displayed frame whose rtpTimestamp is its `stream_timestamp`. */
export class ExpertFrameSync {
  constructor() {
    /** Keys are RTP timestamps: a frame matches exactly. */
    this.tolerance = 0;
  }

  reset() {}

  /** How far frame key `a` is after `b` (RTP ticks, across the wrap; negative: before). */
  keyDelta(a, b) {
    return rtpDelta(a, b);
  }

  /** The frame key of a `requestVideoFrameCallback` metadata: its RTP timestamp, or null. */
  frameKey(metadata) {
    return Number.isFinite(metadata.rtpTimestamp) ? metadata.rtpTimestamp : null;
  }

  /** Nothing to learn: a state names the expert's frame itself. */
  noteState() {}

  noteFrame() {}

  /** The RTP timestamp of the frame `state` was computed on, or null when the server could not say. */
  frameOf(state) {
    return Number.isFinite(state.stream_timestamp) ? state.stream_timestamp >>> 0 : null;
  }
}

/**
 * The customer's preview: a state's frame is the preview frame captured at
 * (rtp_timestamp - clock constant) / 90 ms.
 */
export class CustomerFrameSync {
  constructor() {
    /** The phone's RTP timestamp - 90 * captureTime, in 1 ms bins (a vote counts for the bins beside it too). */
    this.clock = new Vote({ spread: 1 });
    /** Exact clock constants (ticks) of recent matches, to refine the winning bin. */
    this.clockSamples = [];
    /** Sent frames not yet matched (the preview reports a capture after the encoder may have sent it). */
    this.pending = [];
    /** Recent preview captureTimes, ascending. */
    this.captures = [];
    /** Preview keys are capture times: a frame matches within this many ms. */
    this.tolerance = 4;
  }

  reset() {
    this.clock.reset();
    this.clockSamples = [];
    this.pending = [];
  }

  /** How far frame key `a` is after `b` (ms; negative: before). */
  keyDelta(a, b) {
    return a - b;
  }

  /** The frame key of a `requestVideoFrameCallback` metadata: its capture time (ms), or null. */
  frameKey(metadata) {
    return Number.isFinite(metadata.captureTime) ? metadata.captureTime : null;
  }

  /**
   * A preview frame was shown (in capture order).
   * @param {number} captureTime ms
   */
  noteFrame(captureTime) {
    const last = this.captures[this.captures.length - 1];
    if (last !== undefined && captureTime <= last) return;
    this.captures.push(captureTime);
    if (this.captures.length > CAPTURES_KEPT) this.captures.shift();
    // Every sent frame that left before this capture has its candidates reported by now.
    while (this.pending.length && this.pending[0].leftAt < captureTime) this.matchSent(this.pending.shift());
  }

  /**
   * A frame left the encoder (from the encoded transform).
   * @param {number} rtpTimestamp
   * @param {number} leftAt ms, the page's clock
   */
  noteSent(rtpTimestamp, leftAt) {
    const frame = { rtp: rtpTimestamp >>> 0, leftAt };
    this.pending.push(frame);
    if (this.pending.length > SENT_FRAMES_KEPT) this.pending.shift();
  }

  /** Vote for the clock constant: the frame was captured last before it left. */
  matchSent(frame) {
    let capture = null;
    for (let i = this.captures.length - 1; i >= 0; i -= 1) {
      if (this.captures[i] <= frame.leftAt) {
        capture = this.captures[i];
        break;
      }
    }
    if (capture === null) return;
    const constant = (((frame.rtp - 90 * capture) % RTP_WRAP) + RTP_WRAP) % RTP_WRAP;
    this.clock.add(Math.round(constant / 90), frame.leftAt);
    this.clockSamples.push(constant);
    if (this.clockSamples.length > 64) this.clockSamples.shift();
  }

  /** Nothing to learn from a state: it carries the phone's own RTP timestamp (the sent frames vote). */
  noteState() {}

  /** The clock constant (ticks, fractional), or null while unknown. */
  clockConstant() {
    const bin = this.clock.winner();
    if (bin === null) return null;
    const near = this.clockSamples.filter((c) => Math.abs(rtpDelta(c, bin * 90)) <= 135);
    if (!near.length) return bin * 90;
    return bin * 90 + near.reduce((s, c) => s + rtpDelta(c, bin * 90), 0) / near.length;
  }

  /**
   * The capture time (ms) of the preview frame `state` was computed on, or null while unknown.
   * @param {object} state
   * @param {number} now ms: the answer is the capture time nearest to it with that RTP timestamp
   */
  frameOf(state, now = performance.now()) {
    const clock = this.clockConstant();
    if (clock === null || !Number.isFinite(state.rtp_timestamp)) return null;
    const rtp = state.rtp_timestamp >>> 0;
    return now - rtpDelta(90 * now + clock, rtp) / 90;
  }
}

/** How long a page waits for the encoded transform's worker to start before it goes without (ms). */
export const TAP_START_TIMEOUT_MS = 2000;

/**
 * Start reading the RTP timestamp of every frame a video sender will send, with an encoded
 * transform where the browser has one (RTCRtpScriptTransform: Chrome, Safari, Firefox).
 *
 * Resolves, once the transform's worker runs, to `{install(sender), stop()}`, or to null without
 * support or when the worker does not start within TAP_START_TIMEOUT_MS. `install(sender)` must be
 * called in the very task that created the sender (`pc.addTrack`): Chrome passes no frames through a
 * transform set any later, although it accepts it. The worker passes each frame on untouched before
 * it reports it, and a transform is only set on a worker that already runs, because a sender whose
 * transform's worker never starts sends nothing.
 *
 * @param {(rtpTimestamp: number, leftAt: number) => void} onFrame `leftAt` on the page's clock (ms)
 * @returns {Promise<{install: (sender: RTCRtpSender) => boolean, stop: () => void}|null>}
 */
export async function openSentFramesTap(onFrame) {
  if (typeof RTCRtpScriptTransform === 'undefined' || typeof Worker === 'undefined'
    || typeof RTCRtpSender === 'undefined' || !('transform' in RTCRtpSender.prototype)) return null;
  let worker;
  try {
    worker = new Worker(new URL('./sent-frames-worker.js', import.meta.url));
  } catch (error) {
    console.warn('frame sync: no worker for the encoded transform', error);
    return null;
  }
  let stopped = false;
  let installed = null;
  const started = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), TAP_START_TIMEOUT_MS);
    worker.onerror = (event) => {
      console.warn('frame sync: the encoded transform\'s worker failed', event.message);
      clearTimeout(timer);
      resolve(false);
    };
    worker.onmessage = (event) => {
      const data = event.data;
      if (data === 'ready') {
        clearTimeout(timer);
        resolve(true);
      } else if (!stopped && Array.isArray(data)) {
        // The worker's clock has its own origin: both sides pass absolute time.
        onFrame(data[0], data[1] - performance.timeOrigin);
      }
    };
  });
  if (!started) {
    worker.terminate();
    return null;
  }
  return {
    install(sender) {
      if (stopped || installed) return false;
      try {
        sender.transform = new RTCRtpScriptTransform(worker, { name: 'sent-frames' });
        installed = sender;
        return true;
      } catch (error) {
        console.warn('frame sync: the encoded transform was refused', error);
        return false;
      }
    },
    stop() {
      // The worker goes with its connection: a sender's transform stays for the sender's life.
      stopped = true;
      worker.terminate();
    },
  };
}
