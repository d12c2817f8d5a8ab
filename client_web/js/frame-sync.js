// Which video frame an AR state was computed on, on each page (docs/ar-in-the-page.md).
//
// Every `ar_state` names its frame by RTP timestamps (90 kHz, 32 bits): `rtp_timestamp` on the
// server's clock of the phone's stream (the phone's RTP timestamp less a constant: the first one
// the server received), `stream_timestamp` in the stream the expert receives less that sender's
// random origin. Each page finds its constant by voting, then names the frame:
//
// - the expert's video: `requestVideoFrameCallback` gives each displayed frame's `rtpTimestamp`;
//   (rtpTimestamp - stream_timestamp) mod 2^32 over pairs of recent frames and states takes the
//   origin's value once per state, any other value only when frame intervals happen to repeat;
// - the customer's preview shows camera frames by `captureTime` (ms). Chrome stamps a sent frame
//   with rtp = 90 * capture ms + a random constant, so the sent frames (read from an encoded
//   transform, RTCRtpScriptTransform) give that constant: each one belongs to the latest preview
//   frame captured before it left the encoder. The sent frames' RTP timestamps also give the
//   server's constant, by the vote above. Without an encoded transform, or a `captureTime`, the
//   page cannot tell which preview frame a state is for: it draws the newest state as it is.
//
// A vote that is not clearly won (fewer than MIN_VOTES, or a runner-up too close) names no frame.

export const RTP_WRAP = 2 ** 32;
/** Votes a constant needs before it is used. */
export const MIN_VOTES = 8;
/** The winner must have this many times the runner-up's votes (see VOTE_HALF_LIFE_MS for why the runner-up is close). */
export const WIN_RATIO = 1.5;
/**
 * Votes fade with this half-life (ms). The constants hold for a connection's life (a new one resets
 * the votes), and a long memory matters: frames come about every 3000 ticks, so a constant one or
 * a few frames off the true one collects nearly as many votes while the frame rate is steady; only
 * the irregular intervals (a late or dropped frame) tell them apart, and they are rare.
 */
export const VOTE_HALF_LIFE_MS = 60000;
/** The most values a vote keeps; the weakest half goes when there are more. */
const VOTE_VALUES_KEPT = 4000;
/** A frame and a state vote together when they came at most this far apart (ms); about the frames ar-follow.js keeps. */
export const PAIR_WINDOW_MS = 1200;
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

/**
 * The expert's video: a state's frame is the displayed frame whose rtpTimestamp is
 * (origin + stream_timestamp) mod 2^32.
 *
 * Every pair of a displayed frame and a state that came within PAIR_WINDOW_MS of each other votes,
 * whichever came first: the expert's video can trail the AR state (a jitter buffer, a busy page),
 * and a vote taken only when a state comes would then miss the true origin and count its
 * neighbours a frame or more off.
 */
export class ExpertFrameSync {
  constructor() {
    this.origin = new Vote();
    /** Keys are RTP timestamps: a frame matches exactly. */
    this.tolerance = 0;
    /** Recent states' stream timestamps and when they came: {stream: number, at: number}. */
    this.states = [];
  }

  reset() {
    this.origin.reset();
    this.states = [];
  }

  /** How far frame key `a` is after `b` (RTP ticks, across the wrap; negative: before). */
  keyDelta(a, b) {
    return rtpDelta(a, b);
  }

  /** The frame key of a `requestVideoFrameCallback` metadata: its RTP timestamp, or null. */
  frameKey(metadata) {
    return Number.isFinite(metadata.rtpTimestamp) ? metadata.rtpTimestamp : null;
  }

  /**
   * A state came: vote with the frames shown lately (the caller keeps about PAIR_WINDOW_MS of them).
   * @param {object} state
   * @param {number[]} frameKeys RTP timestamps of the frames kept
   * @param {number} now
   */
  noteState(state, frameKeys, now) {
    if (!Number.isFinite(state.stream_timestamp)) return;
    for (const key of frameKeys) this.origin.add((key - state.stream_timestamp) >>> 0, now);
    this.states.push({ stream: state.stream_timestamp, at: now });
  }

  /**
   * A frame is shown: vote with the states that came lately.
   * @param {number} key its RTP timestamp
   * @param {number} now
   */
  noteFrame(key, now) {
    while (this.states.length && now - this.states[0].at > PAIR_WINDOW_MS) this.states.shift();
    for (const { stream } of this.states) this.origin.add((key - stream) >>> 0, now);
  }

  /** The RTP timestamp of the frame `state` was computed on, or null while unknown. */
  frameOf(state) {
    const origin = this.origin.winner();
    if (origin === null || !Number.isFinite(state.stream_timestamp)) return null;
    return (origin + state.stream_timestamp) >>> 0;
  }
}

/**
 * The customer's preview: a state's frame is the preview frame captured at
 * ((server constant + rtp_timestamp) - clock constant) / 90 ms.
 */
export class CustomerFrameSync {
  constructor() {
    /** The phone's RTP timestamp - 90 * captureTime, in 1 ms bins (a vote counts for the bins beside it too). */
    this.clock = new Vote({ spread: 1 });
    /** The phone's RTP timestamp - the state's rtp_timestamp (exact). */
    this.server = new Vote();
    /** Exact clock constants (ticks) of recent matches, to refine the winning bin. */
    this.clockSamples = [];
    /** Sent frames not yet matched (the preview reports a capture after the encoder may have sent it). */
    this.pending = [];
    /** Recent sent frames' RTP timestamps and when they left. */
    this.sent = [];
    /** Recent preview captureTimes, ascending. */
    this.captures = [];
    /** Preview keys are capture times: a frame matches within this many ms. */
    this.tolerance = 4;
  }

  reset() {
    this.clock.reset();
    this.server.reset();
    this.clockSamples = [];
    this.pending = [];
    this.sent = [];
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
    this.sent.push(frame);
    if (this.sent.length > SENT_FRAMES_KEPT) this.sent.shift();
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

  /**
   * A state came: vote for the server's constant with the frames sent lately.
   * @param {object} state
   * @param {number[]} _frameKeys the preview frames kept (unused: the sent frames vote)
   * @param {number} now
   */
  noteState(state, _frameKeys, now) {
    if (!Number.isFinite(state.rtp_timestamp)) return;
    for (const frame of this.sent) this.server.add((frame.rtp - state.rtp_timestamp) >>> 0, now);
  }

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
    const server = this.server.winner();
    const clock = this.clockConstant();
    if (server === null || clock === null || !Number.isFinite(state.rtp_timestamp)) return null;
    const rtp = (server + state.rtp_timestamp) >>> 0;
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
