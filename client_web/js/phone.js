// What a phone needs in a live call beyond the call itself (docs/customer-page.md, "Phone basics"):
// the screen kept on, the expert's voice started by the next tap when the browser refused to play
// it on its own, the camera started again after the browser was in the background, a switch
// between cameras, and the torch where the camera has one.

import { CAMERA_CONSTRAINTS } from './camera.js';
import { setText, t } from './i18n.js';

/**
 * Keep the screen on while the call is live (Screen Wake Lock API,
 * https://w3c.github.io/screen-wake-lock/). The browser drops the lock whenever the page is
 * hidden, so it is asked for again each time the page becomes visible. Without the API (or when
 * the browser refuses) the call goes on; only the screen may sleep.
 * `state` is what tests read: whether the lock is held, how often it was taken, the last refusal,
 * and the lock itself (`sentinel`, null while not held).
 * @returns {{stop: () => void, state: {held: boolean, acquired: number, lastError: string|null,
 *            sentinel: WakeLockSentinel|null}}}
 */
export function keepScreenAwake() {
  const state = { held: false, acquired: 0, lastError: null, sentinel: null };
  let wanted = true;
  let asking = false;

  async function acquire() {
    if (!wanted || state.sentinel || asking || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
    asking = true;
    try {
      const lock = await navigator.wakeLock.request('screen');
      if (!wanted) {
        lock.release();
        return;
      }
      state.sentinel = lock;
      state.held = true;
      state.acquired += 1;
      lock.addEventListener('release', () => {
        if (state.sentinel === lock) {
          state.sentinel = null;
          state.held = false;
        }
      });
    } catch (error) {
      state.lastError = error.name || String(error);
    } finally {
      asking = false;
    }
  }

  const onVisibility = () => { if (document.visibilityState === 'visible') acquire(); };
  document.addEventListener('visibilitychange', onVisibility);
  acquire();
  return {
    state,
    stop() {
      wanted = false;
      document.removeEventListener('visibilitychange', onVisibility);
      if (state.sentinel) state.sentinel.release();
      state.sentinel = null;
      state.held = false;
    },
  };
}

/**
 * Play the expert's voice; where the browser refuses to play without a gesture, show the "tap to
 * hear" button and start the audio on the next tap anywhere on the page.
 * @param {HTMLAudioElement} audio
 * @param {HTMLButtonElement} button
 * @returns {(track: MediaStreamTrack) => void} call with each remote audio track
 */
export function bindTapToHear(audio, button) {
  setText(button, 'audio.tapToHear');
  const onTap = () => {
    audio.play().then(() => {
      button.hidden = true;
      document.removeEventListener('pointerdown', onTap, true);
      document.removeEventListener('click', onTap, true);
    }, () => {}); // still refused: the button stays for the next tap
  };
  const blocked = () => {
    button.hidden = false;
    // Capture phase: a tap on any control (or on the button) also starts the audio.
    document.addEventListener('pointerdown', onTap, true);
    document.addEventListener('click', onTap, true);
  };
  return (track) => {
    audio.srcObject = new MediaStream([track]);
    audio.play().then(() => { button.hidden = true; }, blocked);
  };
}

/**
 * The video input devices the browser lists.
 * @returns {Promise<MediaDeviceInfo[]>}
 */
async function videoInputs() {
  if (!navigator.mediaDevices.enumerateDevices) return [];
  return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
}

/**
 * Whether this camera track can switch a torch (`torch` in its capabilities).
 * @param {MediaStreamTrack|undefined} track
 */
export function hasTorch(track) {
  if (!track || track.readyState !== 'live' || !track.getCapabilities) return false;
  return Boolean(track.getCapabilities().torch);
}

/**
 * Put new tracks in place of the old ones of the same kind: in the camera stream (kept as the same
 * object, so a later peer connection sends them too), and in the current peer connection's senders
 * (`replaceTrack`: no new offer, the sender and its AR frame tap stay).
 * @param {MediaStream} camera
 * @param {MediaStreamTrack[]} tracks
 * @param {RTCPeerConnection|null} pc
 */
export async function replaceTracks(camera, tracks, pc) {
  for (const track of tracks) {
    for (const old of camera.getTracks().filter((t) => t.kind === track.kind)) {
      camera.removeTrack(old);
      old.stop();
    }
    camera.addTrack(track);
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === track.kind);
    if (sender) await sender.replaceTrack(track);
  }
}

/**
 * Camera controls on the live page: start the camera again when its tracks ended while the page
 * was in the background (phones stop capture there), on the page's return or at once when it is
 * visible; switch to the next camera; and the torch, its button shown only when the camera has one.
 * @param {{camera: MediaStream, getPc: () => (RTCPeerConnection|null), video: HTMLVideoElement,
 *          switchButton: HTMLButtonElement, torchButton: HTMLButtonElement,
 *          notify: (text: string) => void}} parts
 */
export function bindCameraControls({ camera, getPc, video, switchButton, torchButton, notify }) {
  const state = { restarts: 0, switches: 0, torch: false, deviceId: null };
  let busy = false;
  let stopped = false;
  const videoTrack = () => camera.getVideoTracks()[0];
  state.deviceId = videoTrack() ? videoTrack().getSettings().deviceId || null : null;

  const showTorch = () => {
    torchButton.hidden = !hasTorch(videoTrack());
    setText(torchButton, state.torch ? 'phone.torchOff' : 'phone.torchOn');
    torchButton.setAttribute('aria-pressed', String(state.torch));
  };

  /** Show the camera stream's current tracks in the preview and watch them for their end. */
  const showCamera = () => {
    video.srcObject = null;
    video.srcObject = camera;
    for (const track of camera.getTracks()) track.addEventListener('ended', onEnded);
    state.torch = false;
    showTorch();
  };

  /**
   * Open the camera on `deviceId` (any camera when null) and the microphone, as asked.
   * @param {{withVideo: boolean, withAudio: boolean, deviceId?: string|null}} what
   */
  const open = ({ withVideo, withAudio, deviceId = null }) => navigator.mediaDevices.getUserMedia({
    video: withVideo && (deviceId ? { ...CAMERA_CONSTRAINTS.video, deviceId: { exact: deviceId } } : CAMERA_CONSTRAINTS.video),
    audio: withAudio && CAMERA_CONSTRAINTS.audio,
  });

  async function restartEnded() {
    const ended = camera.getTracks().filter((t) => t.readyState === 'ended');
    if (stopped || busy || !ended.length || document.visibilityState !== 'visible') return;
    busy = true;
    try {
      const kinds = new Set(ended.map((t) => t.kind));
      const fresh = await open({ withVideo: kinds.has('video'), withAudio: kinds.has('audio'), deviceId: state.deviceId });
      await replaceTracks(camera, fresh.getTracks(), getPc());
      state.restarts += 1;
      showCamera();
      notify(t('phone.cameraRestarted'));
    } catch (error) {
      console.warn('could not restart the camera', error);
      notify(t('phone.cameraLost'));
    } finally {
      busy = false;
    }
  }

  /** @param {Event} event */
  function onEnded(event) {
    if (event.target.readyState === 'ended') restartEnded();
  }

  async function switchCamera() {
    if (busy) return;
    const inputs = await videoInputs();
    if (inputs.length < 2) return;
    const at = inputs.findIndex((d) => d.deviceId === state.deviceId);
    const next = inputs[(at + 1) % inputs.length];
    busy = true;
    switchButton.disabled = true;
    const old = videoTrack();
    // Many phones cannot open two cameras at once: the old one is closed first.
    if (old) {
      old.removeEventListener('ended', onEnded);
      old.stop();
    }
    try {
      let fresh;
      try {
        fresh = await open({ withVideo: true, withAudio: false, deviceId: next.deviceId });
      } catch (error) {
        console.warn('could not open the next camera', error);
        notify(t('phone.switchFailed'));
        fresh = await open({ withVideo: true, withAudio: false, deviceId: state.deviceId });
      }
      const track = fresh.getVideoTracks()[0];
      state.deviceId = track.getSettings().deviceId || next.deviceId;
      await replaceTracks(camera, [track], getPc());
      state.switches += 1;
      showCamera();
    } catch (error) {
      console.warn('could not reopen the camera', error);
      notify(t('phone.cameraLost'));
    } finally {
      busy = false;
      switchButton.disabled = false;
    }
  }

  async function toggleTorch() {
    const track = videoTrack();
    if (!hasTorch(track)) return;
    try {
      await track.applyConstraints({ advanced: [{ torch: !state.torch }] });
      state.torch = !state.torch;
    } catch (error) {
      console.warn('could not switch the torch', error);
      notify(t('phone.torchFailed'));
    }
    showTorch();
  }

  const onVisibility = () => restartEnded();
  document.addEventListener('visibilitychange', onVisibility);
  setText(switchButton, 'phone.switchCamera');
  switchButton.addEventListener('click', switchCamera);
  torchButton.addEventListener('click', toggleTorch);
  videoInputs().then((inputs) => { switchButton.hidden = inputs.length < 2; }, () => {});
  showCamera();
  return {
    state,
    stop() {
      stopped = true;
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
