// One live session seen from a page: the signaling socket, the current RTCPeerConnection, and the
// rule that every (re)join gets a new peer connection (aiortc cannot restart ICE).

import * as msg from './signaling.js';

/**
 * Put VP8 first in a video transceiver's codec preferences, where the browser allows it.
 * The server forwards the customer's encoded VP8 to the expert as is, so both legs need VP8;
 * iOS Safari would offer H.264 first otherwise.
 * @param {RTCRtpTransceiver} transceiver
 */
export function preferVp8(transceiver) {
  if (typeof RTCRtpTransceiver === 'undefined' || !('setCodecPreferences' in RTCRtpTransceiver.prototype)) return;
  const capabilities = RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities('video');
  if (!capabilities) return;
  const isVp8 = (codec) => codec.mimeType.toLowerCase() === 'video/vp8';
  const codecs = [...capabilities.codecs.filter(isVp8), ...capabilities.codecs.filter((c) => !isVp8(c))];
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (error) {
    console.warn('could not set VP8 first; the browser default order is used', error);
  }
}

/**
 * A page's part in a live session.
 *
 * The page gives:
 * - `makeJoin()`: the join message to send on every new socket;
 * - `addMedia(pc)`: adds its tracks / transceivers to a new peer connection (may be async);
 * - `onTrack(event, pc)`: a remote track arrived;
 * - `onStatus(status, detail)`: 'connecting' | 'joined' | 'reconnecting' | 'ended' | 'replaced' | 'refused'
 *   | 'problem' (this page could not start the call; `detail.message` says why).
 * Server messages other than the WebRTC ones (chat, presence, recording, error, ...) are read
 * with `session.signaling.on(type, fn)`.
 */
export class PeerSession {
  /**
   * @param {{makeJoin: () => object, addMedia: (pc: RTCPeerConnection) => (void|Promise<void>),
   *          onTrack: (event: RTCTrackEvent, pc: RTCPeerConnection) => void,
   *          onStatus?: (status: string, detail?: any) => void}} options
   */
  constructor(options) {
    this.options = options;
    this.signaling = new msg.SignalingClient();
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** What automated tests and the page read: kept small and plain. */
    this.state = {
      status: 'idle',
      joined: false,
      sessionId: null,
      role: null,
      presence: {},
      recording: false,
      recordingStatus: 'none',
      lastError: null,
    };
    this.pendingCandidates = [];
    this.offerSent = false;
    this.bindSignaling();
  }

  /** Connect the socket; join and the peer connection follow. */
  start() {
    this.setStatus('connecting');
    this.signaling.connect();
    // A reload closes the socket with 4000, not the browser's 1001 ("left for good"): the other
    // side sees "reconnecting" and the seat stays this page's until it is back.
    window.addEventListener('pagehide', () => {
      this.closePeer();
      this.signaling.stop(msg.CloseCode.RECONNECTING, 'the page is reloading');
    });
    // Back from the browser's page cache with a dead socket: start afresh.
    window.addEventListener('pageshow', (event) => { if (event.persisted) location.reload(); });
  }

  /**
   * Send a client message (chat, end_session, ...); false if it could not be sent now.
   * @param {object} message
   */
  send(message) {
    return this.signaling.send(message);
  }

  /** Leave for good: close the socket and the peer connection. */
  stop() {
    this.signaling.stop();
    this.closePeer();
  }

  bindSignaling() {
    const s = this.signaling;
    s.on('open', () => s.send(this.options.makeJoin()));
    s.on('joined', (m) => this.handleJoined(m));
    s.on('answer', (m) => this.handleAnswer(m));
    s.on('presence', (m) => {
      this.state.presence = { ...this.state.presence, [m.role]: m.status };
    });
    s.on('recording', (m) => {
      this.state.recordingStatus = m.status;
      this.state.recording = m.status === 'recording';
    });
    s.on('error', (m) => this.handleError(m));
    s.on('replaced', (m) => this.finish('replaced', m.reason));
    s.on('session_ended', (m) => this.finish('ended', m.reason));
    s.on('close', (event) => this.handleClose(event));
  }

  async handleJoined(joined) {
    Object.assign(this.state, {
      joined: true,
      sessionId: joined.session_id,
      role: joined.role,
      presence: { ...joined.peers },
      recording: Boolean(joined.recording),
    });
    if (joined.recording) this.state.recordingStatus = 'recording';
    else if (this.state.recordingStatus === 'recording') this.state.recordingStatus = 'none';
    this.setStatus('joined', joined);
    try {
      await this.newPeer(joined.ice_servers || []);
    } catch (error) {
      console.error('could not start the peer connection', error);
      this.reportProblem({ code: 'peer_failed', message: `Could not start the call: ${error.message || error}` });
    }
  }

  async newPeer(iceServers) {
    this.closePeer();
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    this.offerSent = false;
    this.pendingCandidates = [];
    pc.ontrack = (event) => {
      if (pc === this.pc) this.options.onTrack(event, pc);
    };
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const message = msg.ice(event.candidate);
      if (this.offerSent) this.signaling.send(message);
      else this.pendingCandidates.push(message);
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc && pc.connectionState === 'failed') {
        // A new socket is needed to join again; the new join brings a new peer connection.
        this.closePeer();
        this.setStatus('reconnecting');
        this.signaling.reconnect();
      }
    };
    await this.options.addMedia(pc);
    if (pc !== this.pc) return;
    const description = await pc.createOffer();
    await pc.setLocalDescription(description);
    if (pc !== this.pc) return;
    this.signaling.send(msg.offer(pc.localDescription.sdp));
    this.offerSent = true;
    for (const candidate of this.pendingCandidates.splice(0)) this.signaling.send(candidate);
  }

  async handleAnswer(answer) {
    const pc = this.pc;
    if (!pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (error) {
      console.error('the answer was refused', error);
      this.reportProblem({ code: 'bad_answer', message: `The call could not be set up: ${error.message || error}` });
    }
  }

  /**
   * A failure on this page that the server cannot see: the page hears it (status 'problem') and the
   * server is told, so the other side does not wait on a black screen.
   * @param {{code: string, message: string}} problem
   */
  reportProblem(problem) {
    this.handleError(problem);
    this.signaling.send(msg.clientProblem(problem.message));
    this.setStatus('problem', problem);
  }

  handleError(error) {
    this.state.lastError = { code: error.code, message: error.message };
    // A join that the server refused for good (bad link, ended session): retrying cannot help.
    if (!this.state.joined && msg.FATAL_JOIN_ERRORS.has(error.code)) {
      this.signaling.stop();
      this.closePeer();
      this.setStatus('refused', error);
    }
  }

  handleClose(event) {
    this.state.joined = false;
    this.closePeer();
    if (event.reconnecting) {
      this.setStatus('reconnecting');
    } else if (this.state.status !== 'ended' && this.state.status !== 'replaced' && this.state.status !== 'refused') {
      // Closed for good without a message first: tell the page why by the close code.
      if (event.code === msg.CloseCode.REPLACED) this.finish('replaced');
      else if (event.code === msg.CloseCode.SESSION_ENDED) this.finish('ended');
      else this.finish('refused', { code: 'closed', message: event.reason || 'The server closed the connection.' });
    }
  }

  finish(status, detail) {
    this.state.joined = false;
    this.signaling.stop();
    this.closePeer();
    this.setStatus(status, detail);
  }

  closePeer() {
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.ontrack = pc.onicecandidate = pc.onconnectionstatechange = null;
      pc.close();
    }
  }

  setStatus(status, detail) {
    this.state.status = status;
    if (this.options.onStatus) this.options.onStatus(status, detail);
  }
}

/**
 * Expose the live objects for automated tests (harmless in production): `window.repairsight`.
 * @param {PeerSession} session
 */
export function exposeForTests(session) {
  window.repairsight = {
    get pc() { return session.pc; },
    get signaling() { return session.signaling; },
    get state() { return session.state; },
    session,
  };
}
