"""The media worker pool with real worker processes: sessions' work crosses a pipe, results come back,
and a worker that crashes natively costs its sessions their AR for a moment, then they get it back."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import numpy as np
import pytest

from procedures import ProcedureLibrary
from server.live.workers.messages import BurnedFrame, VisionDone
from server.live.workers.pool import MediaWorkers, SessionChannel
from tests.server.synthetic_packets import vp8_frames_of
from tests.synthetic_peers import board_camera

BOARD = ProcedureLibrary.with_builtin().get("board-connector-reseat")


class Listener:
    def __init__(self) -> None:
        self.vision: list[VisionDone] = []
        self.burned: list[BurnedFrame] = []
        self.keyframes = 0
        self.news: list[str] = []

    def on_vision(self, done: VisionDone) -> None:
        self.vision.append(done)

    def on_burned(self, frame: BurnedFrame) -> None:
        self.burned.append(frame)

    def on_keyframe_needed(self) -> None:
        self.keyframes += 1

    def on_fault(self, message: str) -> None:
        self.news.append(f"fault: {message}")

    def on_worker_lost(self, reason: str) -> None:
        self.news.append(f"lost: {reason}")

    def on_worker_back(self) -> None:
        self.news.append("back")


@pytest.fixture(scope="module")
def packets() -> list[tuple[bytes, bool]]:
    return vp8_frames_of([f.bgr for f in board_camera(20).frames()], keyframe_every=10)


async def feed(channel: SessionChannel, packets: list[tuple[bytes, bool]], start: int = 0) -> None:
    for index, (data, keyframe) in enumerate(packets):
        channel.submit("vp8", data, (start + index) * 3000, 90000, keyframe)
        await asyncio.sleep(1 / 30)


async def until(check: Any, timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.05)


async def test_sessions_get_vision_from_their_own_workers(packets: list[tuple[bytes, bool]]) -> None:
    assert BOARD is not None
    pool = MediaWorkers(size=2)
    try:
        listeners = [Listener(), Listener()]
        channels = [pool.channel(f"s{i}", listener) for i, listener in enumerate(listeners)]
        assert {c.worker for c in channels} == set(pool.workers) and len(pool.workers) == 2
        for channel in channels:
            assert channel.submit("vp8", *packets[0][:1], 0, 90000, True) is None  # not wanted yet: dropped
            channel.set_vision(BOARD.pipeline_options(hands=False))
            channel.set_step(1, tuple(BOARD.step_annotations("locate")), BOARD.step_rule("locate"))
        assert all(listener.keyframes == 1 for listener in listeners)  # decoding starts at a keyframe
        await asyncio.gather(*(feed(channel, packets) for channel in channels))
        await until(
            lambda: all(any(d.state.found for d in x.vision) for x in listeners), 20, "vision results"
        )
        for listener in listeners:
            assert {d.generation for d in listener.vision} == {1}
            assert all(d.state.frame_size == (640, 480) for d in listener.vision)
    finally:
        await pool.close()
    assert all(not w.process.is_alive() for w in [*pool.workers])


async def test_a_crashed_worker_is_replaced_and_its_session_gets_ar_back(
    packets: list[tuple[bytes, bool]],
) -> None:
    assert BOARD is not None
    pool = MediaWorkers(size=1)
    try:
        listener = Listener()
        channel = pool.channel("s1", listener)
        channel.set_vision(BOARD.pipeline_options(hands=False))
        await feed(channel, packets[:10])
        await until(lambda: listener.vision, 20, "vision results before the crash")
        crashed = channel.worker
        assert crashed is not None and crashed.pid is not None
        keyframes = listener.keyframes
        os.kill(crashed.pid, signal.SIGSEGV)  # a native crash, as libswscale's was
        await until(lambda: "back" in listener.news, 20, "the worker to come back")
        assert listener.news[0] == "lost: the media worker crashed (signal 11)"
        assert (
            channel.worker is not None and channel.worker is not crashed and channel.worker.pid != crashed.pid
        )
        assert listener.keyframes > keyframes  # the new decoder starts at a keyframe: the phone is asked
        before = len(listener.vision)
        # Two passes: four keyframes, in case the new worker was still starting at the first.
        await feed(channel, packets * 2, start=100)
        await until(lambda: len(listener.vision) > before + 2, 20, "vision results after the restart")
        assert pool.restarts == 1
    finally:
        await pool.close()


async def test_a_snapshot_waits_for_a_picture_when_none_was_decoded(
    packets: list[tuple[bytes, bool]],
) -> None:
    pool = MediaWorkers(size=1)
    try:
        listener = Listener()
        channel = pool.channel("s1", listener)
        feeding = asyncio.ensure_future(feed(channel, packets * 3))
        taken = await channel.snapshot()
        feeding.cancel()
        assert taken.error is None and taken.clean_jpeg and taken.marked_jpeg
        assert not channel.wanted  # decoding stops again once the snapshot is taken
        image = np.frombuffer(taken.clean_jpeg, np.uint8)
        assert image.size > 1000
    finally:
        await pool.close()
