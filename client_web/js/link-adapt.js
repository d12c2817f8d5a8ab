// The customer's video steps down on a weak link and back up when it recovers; the voices go first
// (docs/customer-page.md, "Weak links").
//
// The server forwards the phone's VP8 as it is (no simulcast, no re-encoding) and tells the phone
// only how much it receives (REMB), which lets Chromium lower its bitrate but not choose what to give
// up. So the page does it: once a second it reads its own sender's statistics (the loss and round
// trip time the server's receiver reports, RFC 3550 receiver reports; the browser's bandwidth
// estimate) and moves its video sender through VIDEO_LEVELS with `RTCRtpSender.setParameters`:
// fewer pixels, fewer frames, fewer bits. The microphone's sender gets the high priority. Each
// change and, while the link is weak, every second's figures go to the server in a `link_quality`
// message, which the expert's console shows as a "weak connection" sign.
//
// The decision (`decideLevel`) is a pure function of the figures, tested on its own
// (tests/e2e/test_link_adapt_vectors.py); `readLinkSample` turns a getStats() report into figures.

import { linkQuality } from './signaling.js';

/**
 * The video's steps, from the camera as it is down to the least that still carries the device for
 * AR (240 px on the short side: the board is still located there, tests/vision). `needKbps` is the
 * bandwidth estimate a level needs: on a step down the page goes at least to the first level that
 * fits the estimate. Level 0 lifts every limit the page set.
 */
export const VIDEO_LEVELS = Object.freeze([
  Object.freeze({ shortSidePx: null, maxFramerate: null, maxBitrateKbps: null, needKbps: 600 }),
  Object.freeze({ shortSidePx: 480, maxFramerate: 20, maxBitrateKbps: 500, needKbps: 350 }),
  Object.freeze({ shortSidePx: 360, maxFramerate: 15, maxBitrateKbps: 250, needKbps: 180 }),
  Object.freeze({ shortSidePx: 240, maxFramerate: 10, maxBitrateKbps: 90, needKbps: 0 }),
]);
/** How often the page reads its statistics. */
export const SAMPLE_MS = 1000;
/** A second is bad at this share of packets lost, or this rise of the round trip over the best seen. */
export const LOSS_BAD = 0.05;
export const RTT_RISE_BAD_MS = 150;
/** A second this bad steps down at once (the link collapsed: the voice is being lost too). */
export const LOSS_SEVERE = 0.2;
export const RTT_RISE_SEVERE_MS = 300;
/** ...and good below these (between the two: neither, the page waits). */
export const LOSS_GOOD = 0.02;
export const RTT_RISE_GOOD_MS = 60;
/** Bad seconds in a row before a step down (one late report is not a weak link). */
export const DOWN_AFTER_BAD = 2;
/** Good seconds before a step up; a level that failed (the page stepped down again within
 * RETRY_WINDOW_S of stepping up to it) is tried again only after RETRY_HOLD_S, so a link just
 * below a level does not make the video flap every other second. */
export const UP_HOLD_S = 1;
export const RETRY_HOLD_S = 3;
export const RETRY_WINDOW_S = 10;
/** How long a failed level is remembered. */
export const FAILED_MEMORY_S = 30;
/**
 * Good seconds alone do not step up: once the page is down, the browser sends no more than the
 * server's estimate (REMB) allows, so a held link shows no loss and no delay. A step up also needs
 * the estimate to carry the level above, or to be growing (by RISING_FACTOR over RISING_WINDOW_S
 * seconds), as it does only when the link takes more (measured: flat at 61 and 71 kbit/s for 17 s
 * under a 150 kbit/s limit; once it was lifted, flat for about 4 s, then 10 kbit/s a second up:
 * the server's REMB estimator, aiortc's, grows slowly near its last maximum).
 */
export const RISING_FACTOR = 1.05;
export const RISING_WINDOW_S = 2;
/** The level changes kept in `state.changes` (for tests and diagnostics). */
const MAX_CHANGES_KEPT = 50;
/** While weak, figures go to the server every second; otherwise every this often. */
export const REPORT_EVERY_S = 5;

/** The decision's starting state: the full video, nothing learned yet. */
export function initialLinkState() {
  return {
    level: 0, badSeconds: 0, goodSinceS: null, baselineRttMs: null, upAtS: null, failedLevel: null, failedAtS: null,
    availableKbps: null, recentKbps: [],
  };
}

/**
 * The first level (the most video) whose need the bandwidth estimate meets; level 0 when there is
 * no estimate (a step down is then one level).
 * @param {number|null} availableKbps
 */
export function levelFitting(availableKbps) {
  if (availableKbps === null || availableKbps === undefined) return 0;
  const at = VIDEO_LEVELS.findIndex((level) => availableKbps >= level.needKbps);
  return at < 0 ? VIDEO_LEVELS.length - 1 : at;
}

/**
 * One second's decision: the video's level after the figures `sample` read at `nowS` (seconds).
 * Pure: the state goes in and a new one comes out.
 * @param {ReturnType<typeof initialLinkState>} state
 * @param {{lossFraction: number|null, rttMs: number|null, availableKbps: number|null}} sample
 * @param {number} nowS
 * @returns {{state: ReturnType<typeof initialLinkState>, level: number, weak: boolean, bad: boolean}}
 */
export function decideLevel(state, sample, nowS) {
  const next = { ...state };
  const last = VIDEO_LEVELS.length - 1;
  if (next.failedAtS !== null && nowS - next.failedAtS > FAILED_MEMORY_S) [next.failedLevel, next.failedAtS] = [null, null];
  const rtt = sample.rttMs;
  if (rtt !== null && rtt !== undefined) next.baselineRttMs = next.baselineRttMs === null ? rtt : Math.min(next.baselineRttMs, rtt);
  const rise = rtt !== null && rtt !== undefined ? rtt - next.baselineRttMs : 0;
  const loss = sample.lossFraction || 0;
  // A second without an estimate keeps the last one.
  const available = typeof sample.availableKbps === 'number' ? sample.availableKbps : next.availableKbps;
  const earlier = next.recentKbps.length >= RISING_WINDOW_S ? next.recentKbps[next.recentKbps.length - RISING_WINDOW_S] : null;
  next.availableKbps = available;
  next.recentKbps = available === null ? [] : [...next.recentKbps, available].slice(-RISING_WINDOW_S);
  const severe = loss >= LOSS_SEVERE || rise >= RTT_RISE_SEVERE_MS;
  const bad = severe || loss >= LOSS_BAD || rise >= RTT_RISE_BAD_MS;
  const good = loss < LOSS_GOOD && rise < RTT_RISE_GOOD_MS;
  if (bad) {
    next.badSeconds += 1;
    next.goodSinceS = null;
    if ((severe || next.badSeconds >= DOWN_AFTER_BAD) && next.level < last) {
      if (next.upAtS !== null && nowS - next.upAtS <= RETRY_WINDOW_S) [next.failedLevel, next.failedAtS] = [next.level, nowS];
      next.level = Math.min(last, Math.max(next.level + 1, levelFitting(available)));
      next.badSeconds = 0;
      next.upAtS = null;
    }
  } else {
    next.badSeconds = 0;
    if (!good) {
      next.goodSinceS = null;
    } else if (next.goodSinceS === null) {
      next.goodSinceS = nowS;
    } else if (next.level > 0) {
      const hold = next.failedLevel === next.level - 1 ? RETRY_HOLD_S : UP_HOLD_S;
      const carries = available === null || available >= VIDEO_LEVELS[next.level - 1].needKbps;
      const rising = available !== null && earlier !== null && available >= RISING_FACTOR * earlier;
      if (nowS - next.goodSinceS >= hold && (carries || rising)) {
        if (next.failedLevel === next.level) [next.failedLevel, next.failedAtS] = [null, null]; // it held
        next.level -= 1;
        next.upAtS = nowS;
        next.goodSinceS = nowS;
      }
    }
  }
  return { state: next, level: next.level, weak: next.level > 0 || bad, bad };
}

/**
 * The video sender's encoding at `level` for a camera whose short side is `shortSidePx`.
 * @param {number} level
 * @param {number} shortSidePx
 */
export function videoEncoding(level, shortSidePx) {
  const step = VIDEO_LEVELS[level];
  if (step.shortSidePx === null) return { scaleResolutionDownBy: 1, maxFramerate: null, maxBitrate: null };
  return {
    scaleResolutionDownBy: Math.max(1, shortSidePx / step.shortSidePx),
    maxFramerate: step.maxFramerate,
    maxBitrate: step.maxBitrateKbps * 1000,
  };
}

/**
 * The figures of one second from two getStats() reports of the customer's peer connection (their
 * entries as plain objects; `before` null for the first): what is sent, what is lost, the round trip
 * and the browser's bandwidth estimate.
 * @param {object[]} now
 * @param {object[]|null} before
 */
export function readLinkSample(now, before) {
  const find = (report, type, kind) => report.filter((s) => s.type === type && (!kind || s.kind === kind));
  const prior = (entry) => (before || []).find((s) => s.id === entry.id);
  const outbound = find(now, 'outbound-rtp');
  let sentBits = 0;
  let seconds = 0;
  let sentPackets = 0;
  for (const entry of outbound) {
    const was = prior(entry);
    if (!was) continue;
    sentBits += 8 * ((entry.bytesSent || 0) + (entry.headerBytesSent || 0) - (was.bytesSent || 0) - (was.headerBytesSent || 0));
    sentPackets += (entry.packetsSent || 0) - (was.packetsSent || 0);
    seconds = Math.max(seconds, (entry.timestamp - was.timestamp) / 1000);
  }
  let lost = 0;
  let rttMs = null;
  for (const entry of find(now, 'remote-inbound-rtp')) {
    const was = prior(entry);
    if (was) lost += Math.max(0, (entry.packetsLost || 0) - (was.packetsLost || 0));
    if (typeof entry.roundTripTime === 'number') rttMs = Math.max(rttMs || 0, entry.roundTripTime * 1000);
  }
  const transport = now.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  const pair = now.find((s) => (transport ? s.id === transport.selectedCandidatePairId
    : s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded'));
  if (rttMs === null && pair && typeof pair.currentRoundTripTime === 'number') rttMs = pair.currentRoundTripTime * 1000;
  const video = find(now, 'outbound-rtp', 'video')[0] || {};
  return {
    sentKbps: seconds > 0 ? sentBits / seconds / 1000 : null,
    lossFraction: sentPackets > 0 ? Math.min(1, lost / sentPackets) : null,
    rttMs,
    availableKbps: pair && typeof pair.availableOutgoingBitrate === 'number' ? pair.availableOutgoingBitrate / 1000 : null,
    videoFps: typeof video.framesPerSecond === 'number' ? video.framesPerSecond : 0,
    width: video.frameWidth || 0,
    height: video.frameHeight || 0,
    qualityLimitation: video.qualityLimitationReason || null,
  };
}

/**
 * Give the microphone the high priority on a new peer connection's senders (W3C webrtc-priority:
 * the bandwidth share and the packets' DSCP marking).
 * @param {RTCRtpSender} sender
 */
async function preferAudio(sender) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length) return;
  for (const encoding of params.encodings) Object.assign(encoding, { priority: 'high', networkPriority: 'high' });
  await sender.setParameters(params);
}

/**
 * Put `level` on the video sender.
 * @param {RTCRtpSender} sender
 * @param {number} level
 */
async function applyLevel(sender, level) {
  const params = sender.getParameters();
  if (!params.encodings || !params.encodings.length || !sender.track) return;
  const settings = sender.track.getSettings();
  const shortSide = Math.min(settings.width || 720, settings.height || 720);
  const wanted = videoEncoding(level, shortSide);
  // While the page limits the video it chooses the size, and the browser lowers the frame rate
  // rather than the size (by itself Chromium went down to 240x180, where the board was sometimes
  // not found). At level 0 the browser balances the two again: right after a weak link the server's
  // estimate is still low, and it kept 640x480 at 2 fps.
  params.degradationPreference = level > 0 ? 'maintain-resolution' : 'balanced';
  for (const encoding of params.encodings) {
    encoding.scaleResolutionDownBy = wanted.scaleResolutionDownBy;
    for (const key of ['maxFramerate', 'maxBitrate']) {
      if (wanted[key] === null) delete encoding[key];
      else encoding[key] = wanted[key];
    }
  }
  await sender.setParameters(params);
}

/**
 * Watch the customer's link while the session runs and adapt the video to it.
 * `state` is what the page and tests read: the level, whether the link is weak, the last figures,
 * and each change (`changes`: {atS, level}).
 * @param {{getPc: () => (RTCPeerConnection|null), send: (message: object) => boolean}} parts
 */
export function adaptToLink({ getPc, send }) {
  const state = { level: 0, weak: false, figures: null, changes: [] };
  let decision = initialLinkState();
  let pc = null;
  let before = null;
  let lastReportS = -Infinity;
  let appliedTo = null;
  let audioDone = null;
  let busy = false;

  async function tick() {
    const current = getPc();
    if (busy || !current || current.connectionState !== 'connected') return;
    busy = true;
    try {
      if (current !== pc) {
        // A new call (a reconnect): the round trip and the counters start afresh; the level stays.
        pc = current;
        before = null;
        decision = { ...initialLinkState(), level: decision.level };
      }
      const senders = pc.getSenders().filter((s) => s.track);
      const audio = senders.find((s) => s.track.kind === 'audio');
      if (audio && audioDone !== audio) {
        await preferAudio(audio);
        audioDone = audio;
      }
      const report = [];
      (await pc.getStats()).forEach((entry) => report.push(entry));
      const sample = readLinkSample(report, before);
      before = report;
      const nowS = performance.now() / 1000;
      const decided = decideLevel(decision, sample, nowS);
      decision = decided.state;
      const changed = decided.level !== state.level || decided.weak !== state.weak;
      const video = senders.find((s) => s.track.kind === 'video');
      if (video && (decided.level !== state.level || appliedTo !== video)) {
        await applyLevel(video, decided.level);
        appliedTo = video;
      }
      if (decided.level !== state.level) {
        state.changes.push({ atS: nowS, level: decided.level });
        if (state.changes.length > MAX_CHANGES_KEPT) state.changes.shift();
      }
      Object.assign(state, { level: decided.level, weak: decided.weak, figures: sample });
      if (changed || (decided.weak && nowS - lastReportS >= 0.9) || nowS - lastReportS >= REPORT_EVERY_S) {
        if (send(linkQuality(decided.weak, decided.level, sample))) lastReportS = nowS;
      }
    } catch (error) {
      console.warn('could not read or adapt the link', error);
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(tick, SAMPLE_MS);
  return { state, stop: () => clearInterval(timer) };
}
