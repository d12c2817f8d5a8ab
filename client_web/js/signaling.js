// The /ws signaling protocol, mirrored from signaling/messages.py (the one definition).
// docs/protocol.md describes every message; keep the three in step.

/**
 * The protocol version this page speaks (PROTOCOL_VERSION in signaling/messages.py), sent in every
 * `join`: a page of another version is refused with `outdated_page` and told to reload.
 */
export const PROTOCOL_VERSION = 1;
/** Largest frame the server accepts; a bigger one closes the socket with 1009. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Longest chat line the server accepts, in characters. */
export const MAX_CHAT_CHARS = 2000;
/** Chat lines one participant may send at once, then one a second (signaling/rate.py). */
export const CHAT_BURST_LINES = 10;
export const CHAT_LINES_PER_S = 1;
/** Errors that refuse a chat line: the chat itself says why, and the line goes back to the input. */
export const CHAT_ERROR_CODES = Object.freeze(['chat_too_long', 'chat_rate_limited']);

/** Longest annotation text, in characters. */
export const MAX_ANNOTATION_TEXT_CHARS = 200;
/** Most points in one `annotate` (the console sends at most MAX_FREEHAND_POINTS for a freehand line). */
export const MAX_ANNOTATION_POINTS = 500;
/** Most points the console sends for one freehand line (simplified first). */
export const MAX_FREEHAND_POINTS = 200;

/** Client -> server message types. */
export const CLIENT_TYPES = Object.freeze([
  'join', 'offer', 'ice', 'chat', 'end_session', 'ping',
  'set_procedure', 'step', 'annotate', 'remove_annotation', 'pointer', 'snapshot', 'burn_in',
  'client_problem', 'link_quality', 'set_language',
]);
/** Server -> client message types (on the WebSocket). */
export const SERVER_TYPES = Object.freeze([
  'joined', 'answer', 'presence', 'chat', 'recording', 'replaced', 'session_ended', 'pong', 'error',
  'procedure', 'annotation_added', 'annotation_removed', 'pointer', 'snapshot_saved', 'burn_in',
  'vision_status', 'participant_info', 'link_quality',
]);
/** Client -> server types only the expert may send (a customer gets `forbidden`). */
export const EXPERT_ONLY_TYPES = Object.freeze([
  'end_session', 'set_procedure', 'step', 'annotate', 'remove_annotation', 'pointer', 'snapshot', 'burn_in',
]);
/** Step command actions. */
export const STEP_ACTIONS = Object.freeze(['next', 'previous', 'jump', 'complete']);
/** Shapes the expert can draw. */
export const SHAPES = Object.freeze(['arrow', 'circle', 'rect', 'freehand', 'text']);

/** The WebRTC data channel that carries AR state, server -> client; unordered, no retransmits (the newest wins). */
export const AR_CHANNEL_LABEL = 'ar';
export const AR_CHANNEL_OPTIONS = Object.freeze({ ordered: false, maxRetransmits: 0 });
/** The one message type on the `ar` data channel. */
export const AR_STATE_TYPE = 'ar_state';

/** WebSocket close codes (RFC 6455 section 7.4; 4000-4999 are the application's). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  TOO_LARGE: 1009,
  REPLACED: 4001,
  SESSION_ENDED: 4002,
  FORBIDDEN: 4003,
  /** The page did not read the server's messages fast enough and was dropped (it reconnects). */
  TOO_SLOW: 4008,
  /** Sent by a page that drops its socket to rejoin at once: the server shows "reconnecting", not "left". */
  RECONNECTING: 4000,
});

/** Close codes after which reconnecting cannot help. */
const FINAL_CLOSE_CODES = new Set([CloseCode.REPLACED, CloseCode.SESSION_ENDED, CloseCode.FORBIDDEN]);
/** Server messages after which the socket will be closed for good. */
const FINAL_MESSAGES = new Set(['replaced', 'session_ended']);
/** Error codes sent in answer to a join that no retry will fix. */
export const FATAL_JOIN_ERRORS = new Set([
  'bad_token', 'token_expired', 'token_mismatch', 'session_ended', 'forbidden', 'unauthorized', 'not_found',
  'outdated_page', 'seat_taken', 'storage_unavailable',
]);

// --- client message constructors -------------------------------------------------------

/** A random id for this page, in hex. */
function newPageId() {
  const bytes = new Uint8Array(12);
  if (globalThis.crypto && globalThis.crypto.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * This page's id (`page_id` in a customer's join), made once per page load and kept in memory only.
 * A copy of the tab carries the seat's `resume` secret in its copied sessionStorage but not this, so
 * the server tells the copy taking the page over (the expert hears of it) from this page rejoining.
 */
export const PAGE_ID = newPageId();

/**
 * The customer's join: proves itself with the link token and says whether it consents to the recording.
 * @param {string} token the token from /join/<token>
 * @param {boolean} consent true if the customer agreed that the session is recorded
 * @param {string|null} [resume] the secret of this page's seat, from its first `joined` (a rejoin)
 */
export function joinCustomer(token, consent, resume) {
  const message = {
    type: 'join', role: 'customer', token, consent: Boolean(consent), client: clientInfo(), version: PROTOCOL_VERSION,
    page_id: PAGE_ID,
  };
  if (resume) message.resume = resume;
  return message;
}

/** What a join says of the browser and the page's language, for the other side to see. */
export function clientInfo() {
  const info = { user_agent: String(navigator.userAgent || '').slice(0, 400) };
  // The language the page is shown in (i18n.js sets <html lang>), for the expert to see.
  const language = typeof document === 'undefined' ? '' : document.documentElement.lang;
  if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(language)) info.language = language;
  return info;
}

/** Client -> server types only the customer may send (an expert gets `forbidden`). */
export const CUSTOMER_ONLY_TYPES = Object.freeze(['set_language', 'link_quality']);

/**
 * The customer's page is now shown in `language` (its picker changed it): the server sends the
 * procedure's steps and overlay labels in that language, and tells the expert.
 * @param {string} language a language tag such as `de` or `pt-BR`
 */
export function setLanguage(language) {
  return { type: 'set_language', language };
}

/**
 * Something on this page failed that the server cannot see (the call could not start): logged and
 * told to the other side.
 * @param {string} problem at most 500 characters
 */
export function clientProblem(problem) {
  return { type: 'client_problem', problem: String(problem).slice(0, 500) };
}

/** Steps of the customer's video on a weak link the server accepts in `link_quality` (MAX_LINK_LEVEL). */
export const MAX_LINK_LEVEL = 9;

/**
 * The customer's link, as its page reads it (link-adapt.js): whether it is weak, the level the
 * video is stepped down to, and the figures of the last second (null where the browser had none).
 * @param {boolean} weak
 * @param {number} level
 * @param {{sentKbps: number|null, videoFps: number, width: number, height: number,
 *          lossFraction: number|null, rttMs: number|null, availableKbps: number|null}} figures
 */
export function linkQuality(weak, level, figures) {
  // A figure the browser did not have (or gave as nonsense) is left out; the rest is held to the
  // server's bounds (LinkFigures in signaling/messages.py).
  const round = (value, max, digits = 0) => (typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? Number(Math.min(value, max).toFixed(digits)) : null);
  const message = {
    type: 'link_quality',
    weak: Boolean(weak),
    level: Math.min(MAX_LINK_LEVEL, Math.max(0, Math.round(level) || 0)),
    video_fps: round(figures.videoFps, 1000, 1) || 0,
    video_width: round(figures.width, 16384) || 0,
    video_height: round(figures.height, 16384) || 0,
  };
  const optional = {
    sent_kbps: round(figures.sentKbps, 1e6),
    loss_pct: round(typeof figures.lossFraction === 'number' ? figures.lossFraction * 100 : null, 100, 1),
    rtt_ms: round(figures.rttMs, 600000),
    available_kbps: round(figures.availableKbps, 1e8),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== null) message[key] = value;
  return message;
}

/**
 * The expert's join (the expert is known by its signed-in cookie on the socket handshake).
 * @param {string} sessionId the session id from /console/<session_id>
 */
export function joinExpert(sessionId) {
  return { type: 'join', role: 'expert', session_id: sessionId, client: clientInfo(), version: PROTOCOL_VERSION };
}

/**
 * The SDP offer of a new peer connection.
 * @param {string} sdp RTCSessionDescription.sdp
 */
export function offer(sdp) {
  return { type: 'offer', sdp };
}

/**
 * One trickled ICE candidate; pass null for the end of candidates (sent as candidate "").
 * @param {RTCIceCandidate|null} candidate
 */
export function ice(candidate) {
  if (!candidate || !candidate.candidate) {
    return { type: 'ice', candidate: '' };
  }
  return {
    type: 'ice',
    candidate: candidate.candidate,
    sdpMid: candidate.sdpMid,
    sdpMLineIndex: candidate.sdpMLineIndex,
  };
}

/**
 * A chat line for the other side.
 * @param {string} text 1 to MAX_CHAT_CHARS characters
 */
export function chat(text) {
  return { type: 'chat', text };
}

/** Expert only: end the session for everyone. */
export function endSession() {
  return { type: 'end_session' };
}

/** Keeps proxies from closing an idle socket; answered with pong. */
export function ping() {
  return { type: 'ping' };
}

/**
 * Expert only: guide with this procedure from its first step; null for no procedure.
 * @param {string|null} procedureId an id from GET /api/procedures
 */
export function setProcedure(procedureId) {
  return { type: 'set_procedure', procedure_id: procedureId || null };
}

/**
 * Expert only: move through the procedure's steps.
 * @param {'next'|'previous'|'jump'|'complete'} action `complete` marks the current step done and moves on
 * @param {string} [stepId] the step to go to, for `jump`
 */
export function step(action, stepId) {
  const message = { type: 'step', action };
  if (stepId) message.step_id = stepId;
  return message;
}

/**
 * Expert only: a mark drawn on the video.
 * @param {'arrow'|'circle'|'rect'|'freehand'|'text'} shape
 * @param {number[][]} pointsFramePx in pixels of the frame the AR state describes: arrow and rect
 *   [from, to], circle [centre, a point on the rim], freehand 2..500 points, text [anchor]
 * @param {number[]} frameSize [w, h] of that frame
 * @param {number|null} frameTimestampMs the AR state's `timestamp_ms` (the live one or the frozen one); null if none
 * @param {string} [text] for `text`, at most MAX_ANNOTATION_TEXT_CHARS
 */
export function annotate(shape, pointsFramePx, frameSize, frameTimestampMs, text) {
  const message = {
    type: 'annotate',
    shape,
    points_frame_px: pointsFramePx.map((p) => [round2(p[0]), round2(p[1])]),
    frame_timestamp_ms: Number.isFinite(frameTimestampMs) ? Math.round(frameTimestampMs) : null,
    frame_size: [Math.round(frameSize[0]), Math.round(frameSize[1])],
  };
  if (text !== undefined && text !== null) message.text = String(text).slice(0, MAX_ANNOTATION_TEXT_CHARS);
  return message;
}

/**
 * Expert only: take a mark away.
 * @param {string} id the id from `annotation_added`
 */
export function removeAnnotation(id) {
  return { type: 'remove_annotation', id };
}

/**
 * Expert only: the transient pointer dot, in frame px; pass null for x/y to hide it.
 * @param {number[]|null} pointFramePx [x, y], or null
 * @param {number[]} frameSize [w, h]
 */
export function pointer(pointFramePx, frameSize) {
  return {
    type: 'pointer',
    x_frame_px: pointFramePx ? round2(pointFramePx[0]) : null,
    y_frame_px: pointFramePx ? round2(pointFramePx[1]) : null,
    frame_size: [Math.round(frameSize[0]), Math.round(frameSize[1])],
  };
}

/** Expert only: save the current full-resolution frame with its AR state to the case. */
export function snapshot() {
  return { type: 'snapshot' };
}

/**
 * Expert only: draw the overlay into the expert's video on the server (costs a re-encode).
 * @param {boolean} enabled
 */
export function burnIn(enabled) {
  return { type: 'burn_in', enabled: Boolean(enabled) };
}

function round2(value) {
  return Math.round(value * 100) / 100;
}

/**
 * Decode one message from the `ar` data channel: the `ar_state` object, or null if it is not one.
 * Fields the server leaves out (it drops nulls) come back as null / empty lists.
 * @param {string|ArrayBuffer|ArrayBufferView} data
 */
export function parseArState(data) {
  let text = data;
  if (typeof data !== 'string') {
    try {
      text = new TextDecoder().decode(data);
    } catch {
      return null;
    }
  }
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (!message || typeof message !== 'object' || message.type !== AR_STATE_TYPE) return null;
  if (!Number.isFinite(message.seq) || !Array.isArray(message.frame_size)) return null;
  return {
    ...message,
    step_id: message.step_id ?? null,
    timestamp_ms: Number.isFinite(message.timestamp_ms) ? message.timestamp_ms : null,
    found: Boolean(message.found),
    outline_frame_px: message.outline_frame_px ?? null,
    homography: message.homography ?? null,
    annotations: Array.isArray(message.annotations) ? message.annotations : [],
    target_frame_px: message.target_frame_px ?? null,
    hands: Array.isArray(message.hands) ? message.hands : [],
    step_completed: Boolean(message.step_completed),
    pinned: Array.isArray(message.pinned) ? message.pinned : [],
    // Which frame the state was computed on (ar-follow.js, frame-sync.js), and how far behind.
    rtp_timestamp: Number.isFinite(message.rtp_timestamp) ? message.rtp_timestamp : null,
    stream_timestamp: Number.isFinite(message.stream_timestamp) ? message.stream_timestamp : null,
    lag_ms: Number.isFinite(message.lag_ms) ? message.lag_ms : null,
  };
}

// --- the client ------------------------------------------------------------------------

/** A ping this often; a socket that has said nothing for SILENT_MS is taken as dead (its network
 * went away without closing it) and replaced. */
const PING_INTERVAL_MS = 2000;
const SILENT_MS = 5000;
/** A socket that is not open after this long (a network that swallows packets) is given up and retried. */
const CONNECT_TIMEOUT_MS = 3000;
/** Tries once a second for the first minute of a drop (a phone's network comes back any moment), then back off. */
const FAST_RETRIES = 60;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 10000;

/**
 * The reconnect delay after `attempt` failed tries in a row: 1 s for the first FAST_RETRIES, then
 * 2 s, 4 s, 8 s, then 10 s.
 * @param {number} attempt 0 for the first retry
 */
export function backoffDelayMs(attempt) {
  if (attempt < FAST_RETRIES) return BACKOFF_FIRST_MS;
  return Math.min(BACKOFF_FIRST_MS * 2 ** (attempt - FAST_RETRIES + 1), BACKOFF_MAX_MS);
}

/** The URL of the signaling socket on the page's own host. */
export function signalingUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/**
 * A WebSocket to /ws that dispatches server messages by type and reconnects after an unexpected close.
 *
 * Handlers: `on(type, fn)` for every server message type, plus these events of its own:
 * `open` (a socket is open: send join now), `close` ({code, reason, reconnecting}),
 * `status` ('connecting' | 'open' | 'reconnecting' | 'closed'), `invalid` (a frame that is not a
 * JSON object with a type).
 * It does not reconnect after `replaced` or `session_ended`, after close codes 4001/4002/4003,
 * or after `stop()`. The backoff starts again once the server says `joined`.
 */
export class SignalingClient {
  /** @param {{url?: string}} [options] */
  constructor(options = {}) {
    this.url = options.url || signalingUrl();
    /** @type {WebSocket|null} */
    this.socket = null;
    /** 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' */
    this.status = 'idle';
    this.attempt = 0;
    this.stopped = false;
    this.handlers = new Map();
    this.retryTimer = null;
    this.pingTimer = null;
    /** When the server last said anything (Date.now()). */
    this.heardAt = 0;
    this.watchingNetwork = false;
  }

  /**
   * Register a handler for a server message type or a client event; returns a function that removes it.
   * @param {string} type
   * @param {(payload: any) => void} fn
   */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  /** Open the socket (once; later sockets are opened by the reconnect logic). */
  connect() {
    this.stopped = false;
    if (!this.watchingNetwork) {
      this.watchingNetwork = true;
      // The browser knows first: a network gone means this socket is dead; one back means try now.
      window.addEventListener('offline', () => { if (this.socket) this.reconnect(); });
      window.addEventListener('online', () => this.retryNow());
    }
    this.openSocket();
  }

  /** While waiting to reconnect: try at once (the network just came back). */
  retryNow() {
    if (!this.stopped && !this.socket && this.status === 'reconnecting') this.openSocket();
  }

  /**
   * Send one client message; false if the socket is not open or the message is too large.
   * @param {{type: string}} message
   */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    const text = JSON.stringify(message);
    // Checked here too so a too-large message is refused locally instead of losing the socket (1009).
    if (new TextEncoder().encode(text).length > MAX_MESSAGE_BYTES) {
      this.emit('error', { type: 'error', code: 'too_large', message: `${message.type} message is over 64 KiB; not sent` });
      return false;
    }
    this.socket.send(text);
    return true;
  }

  /** True while a socket is open. */
  get isOpen() {
    return Boolean(this.socket && this.socket.readyState === WebSocket.OPEN);
  }

  /**
   * Drop the current socket and open a new one now (used when the peer connection failed:
   * a rejoin needs a new socket, and aiortc cannot restart ICE).
   */
  reconnect() {
    if (this.stopped) return;
    // Not 1000/1001: the server takes those to mean the participant left for good.
    this.dropSocket(CloseCode.RECONNECTING, 'reconnecting');
    this.emit('close', { code: CloseCode.RECONNECTING, reason: 'reconnecting', reconnecting: true });
    this.scheduleReconnect();
  }

  /** Close for good: no reconnect. */
  stop(code = 1000, reason = 'closed by the page') {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.dropSocket(code, reason);
    this.setStatus('closed');
  }

  // --- internals ---

  openSocket() {
    clearTimeout(this.retryTimer);
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(this.url);
    this.socket = socket;
    const connectTimer = setTimeout(() => {
      if (socket === this.socket && socket.readyState === WebSocket.CONNECTING) this.reconnect();
    }, CONNECT_TIMEOUT_MS);
    socket.onopen = () => {
      clearTimeout(connectTimer);
      this.setStatus('open');
      this.heardAt = Date.now();
      this.pingTimer = setInterval(() => this.keepAlive(), PING_INTERVAL_MS);
      this.emit('open', {});
    };
    socket.onmessage = (event) => this.dispatch(event.data);
    socket.onclose = (event) => this.handleClose(socket, event.code, event.reason);
    // onerror is always followed by onclose, which decides what to do.
    socket.onerror = () => {};
  }

  /** Ping; a socket silent for too long lost its network without a close: replace it. */
  keepAlive() {
    if (Date.now() - this.heardAt > SILENT_MS) this.reconnect();
    else this.send(ping());
  }

  dispatch(data) {
    this.heardAt = Date.now();
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      message = null;
    }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') {
      this.emit('invalid', { data });
      return;
    }
    if (message.type === 'joined') this.attempt = 0;
    if (FINAL_MESSAGES.has(message.type)) this.stopped = true;
    this.emit(message.type, message);
  }

  handleClose(socket, code, reason) {
    if (socket !== this.socket) return;
    this.clearSocket();
    const reconnecting = !this.stopped && !FINAL_CLOSE_CODES.has(code);
    if (!reconnecting) {
      this.stopped = true;
      this.setStatus('closed');
    }
    this.emit('close', { code, reason, reconnecting });
    if (reconnecting) this.scheduleReconnect();
  }

  scheduleReconnect() {
    const delay = backoffDelayMs(this.attempt);
    this.attempt += 1;
    this.setStatus('reconnecting');
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.openSocket();
    }, delay);
  }

  dropSocket(code, reason) {
    const socket = this.socket;
    this.clearSocket();
    if (socket && socket.readyState <= WebSocket.OPEN) {
      // Detached first: nothing the old socket still says reaches the page.
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close(code, reason);
    }
  }

  clearSocket() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.socket = null;
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.emit('status', status);
  }

  emit(type, payload) {
    for (const fn of this.handlers.get(type) || []) {
      try {
        fn(payload);
      } catch (error) {
        console.error(`signaling: handler for '${type}' failed`, error);
      }
    }
  }
}
