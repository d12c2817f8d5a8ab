// Playback of a recorded session: the video, the AR layer redrawn from the event log, the steps as
// chapters, the chat in sync, speed and keyboard shortcuts. Data: GET /api/sessions/{id}/playback.
//
// Video time (s) = t_ms / 1000: Chromium reports a WebM's own timestamps as currentTime, and the
// recorder writes ms since the recording started (docs/playback.md).

import { getPlayback, idFromPath } from './api.js';
import { loadUser } from './header.js';
import { defaultLayers, drawPlaybackLayer } from './playback-layer.js';
import { byId, el, formatTime, sentence } from './ui.js';

const SPEEDS = [0.5, 1, 1.5, 2];
const SKIP_S = 5;
const OUTCOMES = {
  fixed_remotely: 'Fixed remotely',
  fixed_by_self_help: 'Fixed by the customer (self-help)',
  sent_to_repair: 'Sent to repair',
  no_fault_found: 'No fault found',
  unresolved: 'Unresolved',
};

const sessionId = idFromPath('/playback/');
const video = /** @type {HTMLVideoElement} */ (byId('playback-video'));
const canvas = /** @type {HTMLCanvasElement} */ (byId('playback-overlay'));
const state = {
  data: null,
  layerState: defaultLayers(),
  currentChapter: null,
  currentChapterIndex: -1,
  /** Each jump from a chapter or a chat line: how long until a new frame was playing. */
  jumps: [],
  /** The seek bar is being dragged: the video follows it, not the other way round. */
  seeking: false,
};
window.repairsight = { playback: state };

/** "1:05" for 65 000 ms. */
function formatMs(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function showError(text) {
  const node = byId('page-error');
  node.textContent = text;
  node.hidden = !text;
}

function hasVideo() {
  return Boolean(video.getAttribute('src'));
}

/** Seek to t ms and play; notes how long it took until a frame at the new place was shown. */
function jumpTo(tMs, play = true) {
  if (!hasVideo()) return;
  const jump = { t_ms: tMs, clicked_at: performance.now(), playing_after_ms: null, media_time_s: null };
  state.jumps.push(jump);
  video.currentTime = tMs / 1000;
  const target = tMs / 1000;
  const onFrame = (now, metadata) => {
    if (!video.paused && metadata.mediaTime >= target - 0.25) {
      jump.playing_after_ms = Math.round(now - jump.clicked_at);
      jump.media_time_s = metadata.mediaTime;
    } else if (jump.playing_after_ms === null) {
      video.requestVideoFrameCallback(onFrame);
    }
  };
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  if (play) video.play().catch((error) => showError(`The video cannot play: ${error.message}`));
  draw();
}

function renderChapters(chapters) {
  byId('chapters-empty').hidden = chapters.length > 0;
  byId('chapter-list').replaceChildren(...chapters.map((chapter, index) => el('li', {},
    el('button', {
      type: 'button',
      className: 'chapter-item',
      'data-testid': 'chapter-item',
      'data-step-id': chapter.step_id || '',
      'data-t-ms': chapter.t_ms,
      'data-index': index,
      onclick: () => jumpTo(chapter.t_ms),
    },
    el('span', { className: 'chapter-time' }, formatMs(chapter.t_ms)),
    el('span', {}, chapter.title, chapter.by ? el('span', { className: 'chapter-by' }, ` · ${chapter.by}`) : null)))));
}

function renderChat(chat) {
  byId('chat-empty').hidden = chat.length > 0;
  byId('chat-transcript').replaceChildren(...chat.map((line) => el('li', {},
    el('button', {
      type: 'button',
      className: 'transcript-line',
      'data-testid': 'chat-line',
      'data-t-ms': line.t_ms,
      onclick: () => jumpTo(line.t_ms),
    },
    el('span', { className: 'line-time' }, formatMs(line.t_ms)),
    el('span', {}, el('span', { className: 'chat-who' }, `${line.from_role === 'expert' ? 'Expert' : 'Customer'}: `), line.text)))));
}

function renderSnapshots(snapshots) {
  byId('snapshots-empty').hidden = snapshots.length > 0;
  byId('snapshot-strip').replaceChildren(...snapshots.map((snap) => el('a', {
    href: snap.url,
    target: '_blank',
    title: snap.t_ms !== null ? `at ${formatMs(snap.t_ms)}` : 'snapshot',
    onclick: (event) => {
      if (snap.t_ms !== null && hasVideo() && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        jumpTo(snap.t_ms, false);
      }
    },
  }, el('img', { src: snap.url, alt: `Snapshot at ${snap.t_ms !== null ? formatMs(snap.t_ms) : 'an unknown time'}`, loading: 'lazy' }))));
}

function renderWarnings(data) {
  const items = data.warnings.map((text) => el('p', {
    className: `message ${data.recording.status === 'partial' || /cut off/.test(text) ? 'message-error' : 'message-info'}`,
    'data-testid': 'playback-warning',
  }, sentence(text)));
  byId('playback-warnings').replaceChildren(...items);
}

/** Highlight the chapter and the chat lines the video has reached. */
function updateProgress(chapter) {
  const tMs = video.currentTime * 1000;
  const data = state.data;
  const index = chapter ? data.chapters.indexOf(chapter) : -1;
  if (index !== state.currentChapterIndex) {
    state.currentChapterIndex = index;
    state.currentChapter = chapter;
    for (const item of byId('chapter-list').querySelectorAll('.chapter-item')) {
      item.setAttribute('aria-current', String(Number(item.dataset.index) === index));
    }
  }
  let current = null;
  for (const line of byId('chat-transcript').querySelectorAll('.transcript-line')) {
    const passed = Number(line.dataset.tMs) <= tMs;
    line.classList.toggle('passed', passed);
    if (passed) current = line;
    line.removeAttribute('aria-current');
  }
  if (current) current.setAttribute('aria-current', 'true');
  byId('player-time').textContent = `${formatMs(tMs)}${Number.isFinite(video.duration) ? ` / ${formatMs(video.duration * 1000)}` : ''}`;
  const seek = /** @type {HTMLInputElement} */ (byId('seek-bar'));
  if (!state.seeking) seek.value = String(Math.round(tMs));
  byId('play-pause').textContent = video.paused ? 'Play' : 'Pause';
}

/** The seek bar spans the recording; a marker on it where each step begins, titled, and clickable. */
function renderSeekBar(chapters) {
  if (!Number.isFinite(video.duration) || video.duration <= 0) return;
  const durationMs = video.duration * 1000;
  const seek = /** @type {HTMLInputElement} */ (byId('seek-bar'));
  seek.max = String(Math.round(durationMs));
  seek.disabled = false;
  byId('seek-markers').replaceChildren(...chapters.filter((c) => c.step_id).map((chapter) => el('button', {
    type: 'button',
    className: 'seek-marker',
    'data-testid': 'seek-marker',
    'data-step-id': chapter.step_id,
    title: `${chapter.title} (${formatMs(chapter.t_ms)})`,
    style: `left: ${Math.min(100, (100 * chapter.t_ms) / durationMs)}%`,
    onclick: () => jumpTo(chapter.t_ms),
  })));
}

function draw() {
  if (!state.data) return;
  const layer = drawPlaybackLayer(canvas, video, state.data, state.layerState);
  updateProgress(layer.chapter);
}

function drawEveryFrame() {
  draw();
  requestAnimationFrame(drawEveryFrame);
}

function setSpeed(speed) {
  video.playbackRate = speed;
  byId('playback-speed').value = String(speed);
}

function stepChapter(direction) {
  const chapters = state.data ? state.data.chapters : [];
  if (!chapters.length) return;
  const tMs = video.currentTime * 1000;
  let index = state.currentChapterIndex;
  if (direction < 0) {
    // Like a music player: back to the start of this step, or to the previous one near its start.
    const start = index >= 0 ? chapters[index].t_ms : 0;
    index = tMs - start > 1500 ? index : index - 1;
    index = Math.max(index, 0);
  } else {
    index = Math.min(index + 1, chapters.length - 1);
  }
  jumpTo(chapters[index].t_ms);
}

/** Where typing goes: a key pressed there is text (or a list choice), not a shortcut. A checkbox or a
 * button keeps the shortcuts working, so clicking a layer toggle does not silence them. */
function takesKeys(target) {
  if (!target || !(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.closest('textarea, select')) return true;
  const input = target.closest('input');
  return Boolean(input) && !['checkbox', 'radio', 'button', 'range'].includes(input.type);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (takesKeys(event.target)) return;
  if (!hasVideo()) return;
  const key = event.key;
  if (key === ' ' || key === 'Spacebar') {
    event.preventDefault();
    if (video.paused) video.play().catch(() => {});
    else video.pause();
  } else if (key === 'ArrowLeft' || key === 'ArrowRight') {
    event.preventDefault();
    const delta = key === 'ArrowLeft' ? -SKIP_S : SKIP_S;
    const end = Number.isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(Math.max(video.currentTime + delta, 0), end);
  } else if (key === '[' || key === ']') {
    event.preventDefault();
    stepChapter(key === '[' ? -1 : 1);
  } else if (['1', '2', '3', '4'].includes(key)) {
    setSpeed(SPEEDS[Number(key) - 1]);
  }
}

/** `#t=12.5` in the address: seconds into the recording. */
function hashSeconds() {
  const match = /(?:^#|&)t=([0-9]+(?:\.[0-9]+)?)/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

function seekToHash() {
  const seconds = hashSeconds();
  if (seconds !== null && hasVideo()) jumpTo(seconds * 1000, false);
}

function bindControls() {
  for (const name of Object.keys(state.layerState)) {
    const box = /** @type {HTMLInputElement} */ (byId(`layer-${name}`));
    box.addEventListener('change', () => {
      state.layerState[name] = box.checked;
      draw();
    });
  }
  byId('playback-speed').addEventListener('change', (event) => setSpeed(Number(event.target.value)));
  const seek = /** @type {HTMLInputElement} */ (byId('seek-bar'));
  seek.addEventListener('input', () => {
    state.seeking = true;
    if (hasVideo()) video.currentTime = Number(seek.value) / 1000;
  });
  seek.addEventListener('change', () => { state.seeking = false; });
  byId('play-pause').addEventListener('click', () => {
    if (video.paused) video.play().catch((error) => showError(`The video cannot play: ${error.message}`));
    else video.pause();
  });
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', seekToHash);
  window.addEventListener('resize', draw);
}

function render(data) {
  const title = data.case.title;
  document.title = `${title} · Playback · RepairSight`;
  byId('playback-title').textContent = title;
  const caseLink = byId('case-link');
  caseLink.href = `/cases/${encodeURIComponent(data.case.id)}`;
  caseLink.textContent = '← The case';
  const parts = [
    data.case.device_model,
    `recorded ${formatTime(data.session.started_at || data.session.created_at)}`,
    data.case.outcome ? `outcome: ${OUTCOMES[data.case.outcome] || data.case.outcome}` : null,
    data.procedure ? `procedure: ${data.procedure.title}` : null,
  ];
  byId('playback-meta').textContent = parts.filter(Boolean).join(' · ');
  renderWarnings(data);
  renderChapters(data.chapters);
  renderChat(data.chat);
  renderSnapshots(data.snapshots);
  const media = data.recording.media_url;
  const noRecording = byId('no-recording');
  if (media) {
    video.addEventListener('error', () => {
      noRecording.hidden = false;
      noRecording.textContent = 'This recording cannot be played in this browser (the file may be damaged). The steps and the chat are still listed.';
    });
    video.addEventListener('loadedmetadata', seekToHash, { once: true });
    video.addEventListener('durationchange', () => renderSeekBar(data.chapters));
    // Safari plays no WebM: the MP4 export of the same recording (both voices, the same clock).
    const playsWebm = video.canPlayType('video/webm; codecs="vp8, opus"') !== '';
    if (!playsWebm) {
      byId('playback-warnings').append(el('p', { className: 'message message-info', 'data-testid': 'playback-warning' },
        'This browser does not play WebM: playing the MP4 made from the recording (the first time, it takes a moment to make).'));
    }
    video.src = playsWebm ? media : `/api/sessions/${encodeURIComponent(data.session.id)}/export.mp4`;
  } else {
    noRecording.hidden = false;
    noRecording.textContent = data.recording.status === 'declined'
      ? 'No video: the customer declined the recording. The steps and the chat are listed beside.'
      : 'This session has no recording. The steps and the chat, if any, are listed beside.';
    for (const id of ['play-pause', 'playback-speed']) byId(id).disabled = true;
  }
}

async function main() {
  bindControls();
  try {
    if (!sessionId) throw new Error('This address names no session. Open a recording from a case or the library.');
    await loadUser();
    const data = await getPlayback(sessionId);
    state.data = data;
    render(data);
    byId('playback-view').hidden = false;
    requestAnimationFrame(drawEveryFrame);
  } catch (error) {
    showError(error.status === 404
      ? 'There is no recorded session with this id. The link may be wrong, or the session was deleted. Find recordings in the library.'
      : error.message);
  } finally {
    byId('loading').hidden = true;
  }
}

main();
