"""Synthetic aiortc participants for loopback tests and the media benchmark.

A synthetic customer sends a clip whose frames carry their own number in their pixels (see
``tests/clipgen.py``) plus a tone; a synthetic expert receives video and sends a tone. The
sender notes when each numbered frame left, the receiver reads the number back, so the two
together measure delivered frames and end-to-end latency.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import (
    AUDIO_PTIME,
    VIDEO_CLOCK_RATE,
    VIDEO_TIME_BASE,
    AudioStreamTrack,
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame

from tests.clipgen import DATA_DIR, FakeCamera, load_image, read_frame_number, stamp_frame_number

FPS = 30


def board_camera(num_frames: int = 60, size: tuple[int, int] = (640, 480)) -> FakeCamera:
    return FakeCamera(
        load_image(DATA_DIR / "board.jpg"),
        load_image(DATA_DIR / "leuvenA.jpg"),
        num_frames=num_frames,
        size=size,
        frame_code=True,
    )


class NumberedClipTrack(VideoStreamTrack):
    """Plays pre-rendered frames at up to 30 fps, stamping a running number into each one.

    Timed as a phone's camera is: each frame carries the time it was taken, and a sender too busy
    to take a frame on time skips it. (aiortc's ``next_timestamp`` instead keeps 1/30 s between
    timestamps however late the frames are, so on a loaded machine the video's clock falls ever
    further behind the wall clock and the audio's: no camera does that.)"""

    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__()
        self.frames = frames
        self.sent_at: dict[int, float] = {}
        self.count = 0
        self._started_at: float | None = None
        self._next_at = 0.0

    async def _capture_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._started_at is None:
            self._started_at = self._next_at = now
        elif self._next_at > now:
            await asyncio.sleep(self._next_at - now)
            now = time.monotonic()
        self._next_at = max(self._next_at + 1 / FPS, now)
        return int((now - self._started_at) * VIDEO_CLOCK_RATE), VIDEO_TIME_BASE

    async def recv(self) -> VideoFrame:
        pts, time_base = await self._capture_timestamp()
        number = self.count
        self.count += 1
        image = self.frames[number % len(self.frames)].copy()
        stamp_frame_number(image, number % 65536)
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        self.sent_at[number % 65536] = time.monotonic()
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone, 20 ms per frame, so there is real audio to encode and hear."""

    def __init__(self, frequency_hz: float = 440.0) -> None:
        super().__init__()
        self.frequency_hz = frequency_hz
        self._samples = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        rate = 48000
        count = int(AUDIO_PTIME * rate)
        if hasattr(self, "_start"):
            self._timestamp += count
            wait = self._start + (self._timestamp / rate) - time.time()
            await asyncio.sleep(max(0.0, wait))
        else:
            self._start = time.time()
            self._timestamp = 0
        t = (np.arange(count) + self._samples) / rate
        self._samples += count
        samples = (0.3 * 32767 * np.sin(2 * math.pi * self.frequency_hz * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.pts = self._timestamp
        frame.sample_rate = rate
        frame.time_base = fractions.Fraction(1, rate)
        return frame


@dataclass
class ReceivedVideo:
    """What a receiver saw: frame numbers with their arrival times, and the last picture."""

    arrivals: list[tuple[int, float]] = field(default_factory=list)
    unreadable: int = 0
    keep_image: bool = True  # the benchmark turns this off: reading the number needs luma only
    last_image: np.ndarray | None = None
    last_number: int | None = None

    def fps(self, since: float) -> float:
        recent = [t for _, t in self.arrivals if t >= since]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])


async def consume_video(track: MediaStreamTrack, received: ReceivedVideo) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        now = time.monotonic()
        image = frame.to_ndarray(format="bgr24" if received.keep_image else "gray")
        number = read_frame_number(image)
        if number is None:
            received.unreadable += 1
            continue
        received.arrivals.append((number, now))
        received.last_number = number
        if received.keep_image:
            received.last_image = image


async def count_audio(track: MediaStreamTrack, counter: list[int]) -> None:
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        counter[0] += 1


Answerer = Callable[[str], Awaitable[str]]


@dataclass
class SyntheticPeer:
    pc: RTCPeerConnection
    video_out: NumberedClipTrack | None = None
    received: ReceivedVideo = field(default_factory=ReceivedVideo)
    audio_frames: list[int] = field(default_factory=lambda: [0])
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


def _peer() -> RTCPeerConnection:
    # Explicit and empty: aiortc's default is a public STUN host (5 s here, and it reaches out).
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def watch_tracks(peer: SyntheticPeer) -> None:
    @peer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":
            peer.tasks.append(asyncio.ensure_future(consume_video(track, peer.received)))
        else:
            peer.tasks.append(asyncio.ensure_future(count_audio(track, peer.audio_frames)))


async def _negotiate(pc: RTCPeerConnection, answer_offer: Answerer) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    answer = await answer_offer(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def start_customer(
    frames: list[np.ndarray], answer_offer: Answerer, audio: bool = True
) -> SyntheticPeer:
    """A phone: sends the numbered clip and (with ``audio``) a tone, plays what the expert says."""
    peer = SyntheticPeer(_peer(), video_out=NumberedClipTrack(frames))
    watch_tracks(peer)
    if audio:
        peer.pc.addTrack(ToneTrack(440.0))
    peer.pc.addTrack(peer.video_out)
    await _negotiate(peer.pc, answer_offer)
    return peer


async def start_expert(
    answer_offer: Answerer, found_ar_state: dict[str, Any] | None = None, audio: bool = True
) -> SyntheticPeer:
    """A console: receives video; with ``audio``, also sends a tone (its microphone) and plays audio.

    With ``found_ar_state``, it also opens the ``ar`` data channel (unordered, no retransmits,
    as the console does) and keeps the newest AR state that located the device in that dict."""
    peer = SyntheticPeer(_peer())
    watch_tracks(peer)
    if audio:
        peer.pc.addTrack(ToneTrack(660.0))
    peer.pc.addTransceiver("video", direction="recvonly")
    if found_ar_state is not None:
        channel = peer.pc.createDataChannel("ar", ordered=False, maxRetransmits=0)

        @channel.on("message")
        def on_state(raw: str) -> None:
            state = json.loads(raw)
            if state.get("found") and state.get("homography"):
                found_ar_state.clear()
                found_ar_state.update(state)

    await _negotiate(peer.pc, answer_offer)
    return peer


async def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)
