// The phone's camera and microphone in a live session, for the pages a customer uses (the customer
// page, docs/customer-page.md, and the self-help page, docs/self-help.md): the rear camera at
// 720p where there is one, camera alone when there is no microphone, the camera sent only and the
// microphone both ways, and getUserMedia's failures in words that say what to do.

import { t } from './i18n.js';
import { preferVp8 } from './peer.js';

/** Rear camera at 720p where the phone has one; any camera otherwise. */
export const CAMERA_CONSTRAINTS = {
  video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  // Asked for explicitly: the phone's loudspeaker plays the expert's voice next to its microphone.
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
};

/**
 * Words for a getUserMedia failure, saying what to do.
 * @param {DOMException} error
 * @param {string} retry the button to tap again
 */
export function cameraProblem(error, retry) {
  switch (error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return t('camera.blocked');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return t('camera.notFound');
    case 'NotReadableError':
      return t('camera.busy', { button: retry });
    default:
      return t('camera.failed', { reason: error.name || error.message });
  }
}

/**
 * Camera and microphone; camera alone when there is no microphone (`onNoMicrophone` is told).
 * @param {() => void} onNoMicrophone
 */
export async function openCamera(onNoMicrophone) {
  try {
    return await navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
  } catch (error) {
    if (error.name !== 'NotFoundError') throw error;
    const stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA_CONSTRAINTS.video });
    onNoMicrophone();
    return stream;
  }
}

/**
 * Add the camera to a new peer connection: video sent only (VP8 first, its sender tapped for the AR
 * frame sync), the microphone both ways (or receive only without one), then the AR data channel,
 * which must be in the offer.
 * @param {RTCPeerConnection} pc
 * @param {MediaStream} camera
 * @param {{prepareSender: () => Promise<(sender: RTCRtpSender) => void>, attach: (pc: RTCPeerConnection) => void}} ar
 */
export async function addCameraMedia(pc, camera, ar) {
  const tapVideoSender = await ar.prepareSender();
  if (pc.signalingState === 'closed') return; // replaced while the tap started
  for (const track of camera.getTracks()) {
    const sender = pc.addTrack(track, camera);
    if (track.kind === 'video') tapVideoSender(sender);
    const transceiver = pc.getTransceivers().find((t) => t.sender === sender);
    if (track.kind === 'video' && transceiver) {
      transceiver.direction = 'sendonly';
      preferVp8(transceiver);
    }
  }
  if (!camera.getAudioTracks().length) pc.addTransceiver('audio', { direction: 'recvonly' });
  ar.attach(pc);
}

