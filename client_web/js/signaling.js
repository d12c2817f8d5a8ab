// The /ws signaling protocol, mirrored from signaling/messages.py (the one definition).
// docs/protocol.md describes every message; keep the three in step.

/** Largest frame the server accepts; a bigger one closes the socket with 1009. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Longest chat line the server accepts, in characters. */
export const MAX_CHAT_CHARS = 2000;

/** Client -> server message types. */
export const CLIENT_TYPES = Object.freeze(['join', 'offer', 'ice', 'chat', 'end_session', 'ping']);
/** Server -> client message types. */
export const SERVER_TYPES = Object.freeze([
  'joined', 'answer', 'presence', 'chat', 'recording', 'replaced', 'session_ended', 'pong', 'error',
]);

/** WebSocket close codes (RFC 6455 section 7.4; 4000-4999 are the application's). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  TOO_LARGE: 1009,
  REPLACED: 4001,
  SESSION_ENDED: 4002,
  FORBIDDEN: 4003,
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
]);

// --- client message constructors -------------------------------------------------------

/**
 * The customer's join: proves itself with the link token and says whether it consents to the recording.
 * @param {string} token the token from /join/<token>
 * @param {boolean} consent true if the customer agreed that the session is recorded
 */
export function joinCustomer(token, consent) {
  return { type: 'join', role: 'customer', token, consent: Boolean(consent) };
}

/**
 * The expert's join (the expert is known by its signed-in cookie on the socket handshake).
 * @param {string} sessionId the session id from /console/<session_id>
 */
export function joinExpert(sessionId) {
  return { type: 'join', role: 'expert', session_id: sessionId };
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

// --- the client ------------------------------------------------------------------------

const PING_INTERVAL_MS = 20000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 10000;

/**
 * The reconnect delay after `attempt` failed tries in a row: 1 s, 2 s, 4 s, 8 s, then 10 s.
 * @param {number} attempt 0 for the first retry
 */
export function backoffDelayMs(attempt) {
  return Math.min(BACKOFF_FIRST_MS * 2 ** attempt, BACKOFF_MAX_MS);
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
    this.openSocket();
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
    socket.onopen = () => {
      this.setStatus('open');
      this.pingTimer = setInterval(() => this.send(ping()), PING_INTERVAL_MS);
      this.emit('open', {});
    };
    socket.onmessage = (event) => this.dispatch(event.data);
    socket.onclose = (event) => this.handleClose(socket, event.code, event.reason);
    // onerror is always followed by onclose, which decides what to do.
    socket.onerror = () => {};
  }

  dispatch(data) {
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
