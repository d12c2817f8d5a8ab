"""The server's media worker processes, and each session's channel to the one that does its work.

Decoding for vision, vision, burn-in drawing and encoding can crash natively or hold a core, so they
run in worker processes (about one per core), never in the process whose event loop carries the
calls. Each session's work lives on one worker (the least loaded when it first needs one). When a
worker dies, its sessions lose their AR and burn-in for a moment: a new worker is started (after a
short pause that grows if it keeps dying), every session is handed to it again as it was (vision
options, step, burn-in) and its listener hears :meth:`WorkerListener.on_worker_lost` and then
:meth:`WorkerListener.on_worker_back`. Forwarding and recording never pass through a worker.

Two threads per worker keep the event loop from waiting on a pipe: a sender (control messages first;
frames in a bounded queue whose overflow is dropped, the decoder then resuming at the next keyframe)
and a receiver that hands each result to the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Protocol

from vision.annotations import Annotation
from vision.pipeline import PipelineOptions
from vision.steps import StepRule

from ...blocking import run_blocking
from .messages import (
    BurnedFrame,
    BurnInKeyframe,
    CloseSession,
    EncodedFrame,
    FromWorker,
    KeyframeNeeded,
    OpenSession,
    SessionFault,
    SetBurnIn,
    SetStep,
    SetVision,
    SnapshotDone,
    TakeSnapshot,
    ToWorker,
    VisionDone,
    VisionPace,
)
from .process import worker_process_main

logger = logging.getLogger(__name__)

FRAME_QUEUE = 30  # about a second of one session's frames waiting for the worker
KEYFRAME_RETRY_S = 1.0  # while waiting for a keyframe, ask the phone again this often
RESTART_PAUSE_S = (0.2, 30.0)  # the pause before restarting a worker: first, and at most
SNAPSHOT_TIMEOUT_S = 5.0


def default_worker_count() -> int:
    return max(1, os.cpu_count() or 1)


class WorkerListener(Protocol):
    """A session's side of its channel; every call comes on the event loop."""

    def on_vision(self, done: VisionDone) -> None: ...

    def on_burned(self, frame: BurnedFrame) -> None: ...

    def on_keyframe_needed(self) -> None: ...

    def on_fault(self, message: str) -> None: ...

    def on_worker_lost(self, reason: str) -> None: ...

    def on_worker_back(self) -> None: ...


class WorkerProcess:
    """One worker process, its pipe, and the two threads that feed and read it."""

    def __init__(self, index: int, on_message: Callable[[FromWorker], None], on_exit: Callable[[str], None]):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=worker_process_main, args=(child,), name=f"repairsight-media-{index}", daemon=True
        )
        self.process.start()
        child.close()
        self.index = index
        self.sessions: set[str] = set()
        self._on_message = on_message
        self._on_exit = on_exit
        self._control: collections.deque[ToWorker | None] = collections.deque()
        self._frames: collections.deque[EncodedFrame] = collections.deque()
        self._ready = threading.Condition()
        self._closed = False
        self._sender = threading.Thread(target=self._send_loop, name=f"media-{index}-send", daemon=True)
        self._receiver = threading.Thread(target=self._receive_loop, name=f"media-{index}-recv", daemon=True)
        self._sender.start()
        self._receiver.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def post(self, message: ToWorker) -> None:
        """A control message: never dropped, sent before waiting frames."""
        with self._ready:
            self._control.append(message)
            self._ready.notify()

    def post_frame(self, frame: EncodedFrame) -> bool:
        """A frame; False (not queued) when the worker is that far behind or gone."""
        with self._ready:
            if self._closed or len(self._frames) >= FRAME_QUEUE:
                return False
            self._frames.append(frame)
            self._ready.notify()
            return True

    def _send_loop(self) -> None:
        conn: Connection = self.conn
        while True:
            with self._ready:
                while not self._control and not self._frames:
                    self._ready.wait()
                message = self._control.popleft() if self._control else self._frames.popleft()
            try:
                conn.send(message)
            except (OSError, ValueError, BrokenPipeError):
                return  # the receiver notices the exit
            if message is None:
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            self._on_message(message)
        self.process.join(timeout=5)
        code = self.process.exitcode
        with self._ready:
            closing, self._closed = self._closed, True
            self._frames.clear()
            self._ready.notify()
        if not closing:
            self._on_exit(describe_exit(code))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Blocking: let the worker finish and exit; killed if it does not."""
        with self._ready:
            self._closed = True
            self._frames.clear()
            self._control.append(None)
            self._ready.notify()
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout_s)
        self.conn.close()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the media worker stopped answering"
    if code < 0:
        return f"the media worker crashed (signal {-code})"
    return f"the media worker exited with status {code}"


class SessionChannel:
    """One session's work on a worker: what it wants, and the frames it is sent. Lives on the loop."""

    def __init__(self, session_id: str, listener: WorkerListener, pool: MediaWorkers) -> None:
        self.session_id = session_id
        self.listener = listener
        self._pool = pool
        self.worker: WorkerProcess | None = None
        self.options: PipelineOptions | None = None
        self.step = SetStep(session_id, 0, (), None)
        self.burn_in = False
        self._snapshots: dict[int, asyncio.Future[SnapshotDone]] = {}
        self._requests = itertools.count(1)
        self._waiting_for_keyframe = True
        self._asked_at = -1e9
        self.closed = False

    @property
    def wanted(self) -> bool:
        """Whether decoded pictures are needed (so the phone's frames are sent to the worker)."""
        return self.options is not None or self.burn_in or bool(self._snapshots)

    # --- frames (the forwarder calls this for every received video frame) ---------------------

    def submit(self, codec: str, data: bytes, rtp_timestamp: int, clock_rate: int, keyframe: bool) -> None:
        if not self.wanted or self.worker is None:
            self._waiting_for_keyframe = True
            return
        if self._waiting_for_keyframe:
            if not keyframe:
                self._ask_for_keyframe()
                return
            self._waiting_for_keyframe = False
        frame = EncodedFrame(self.session_id, codec, data, rtp_timestamp, clock_rate, keyframe)
        if not self.worker.post_frame(frame):
            self._waiting_for_keyframe = True
            self._ask_for_keyframe()

    def _ask_for_keyframe(self, now: float | None = None) -> None:
        """Ask the phone for a keyframe, again every ``KEYFRAME_RETRY_S`` while none comes (a request or
        the keyframe itself can be lost; VP8 sends keyframes only when asked)."""
        now = time.monotonic() if now is None else now
        if now - self._asked_at >= KEYFRAME_RETRY_S:
            self._asked_at = now
            self.listener.on_keyframe_needed()

    def _wants_changed(self, before: bool) -> None:
        if self.wanted and not before:
            self._waiting_for_keyframe = True
            self._asked_at = -1e9
            self._ask_for_keyframe()

    # --- what the session wants -----------------------------------------------------------------

    def set_vision(self, options: PipelineOptions | None) -> None:
        before = self.wanted
        self.options = options
        self._post(SetVision(self.session_id, options, self._pool.pace))
        self._wants_changed(before)

    def set_step(self, generation: int, annotations: tuple[Annotation, ...], rule: StepRule | None) -> None:
        self.step = SetStep(self.session_id, generation, annotations, rule)
        self._post(self.step)

    def set_burn_in(self, enabled: bool) -> None:
        before = self.wanted
        self.burn_in = enabled
        self._post(SetBurnIn(self.session_id, enabled))
        self._wants_changed(before)

    def burn_in_keyframe(self) -> None:
        self._post(BurnInKeyframe(self.session_id))

    async def snapshot(self, pinned: tuple[dict[str, object], ...] = ()) -> SnapshotDone:
        """The newest picture, clean and marked; waits for one to be decoded when none was wanted."""
        if self.worker is None:
            raise WorkerUnavailable("the media worker is restarting; try again in a moment")
        before = self.wanted
        request_id = next(self._requests)
        future: asyncio.Future[SnapshotDone] = asyncio.get_running_loop().create_future()
        self._snapshots[request_id] = future
        self._wants_changed(before)
        try:
            deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
            while True:
                self._post(TakeSnapshot(self.session_id, request_id, pinned))
                done = await asyncio.wait_for(asyncio.shield(future), max(0.05, deadline - time.monotonic()))
                if done.error is None or time.monotonic() > deadline - 0.3:
                    return done
                # No picture decoded yet (decoding just started): ask again shortly.
                future = asyncio.get_running_loop().create_future()
                self._snapshots[request_id] = future
                await asyncio.sleep(0.2)
        finally:
            self._snapshots.pop(request_id, None)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._post(CloseSession(self.session_id))
        self._pool.detach(self)
        for future in self._snapshots.values():
            if not future.done():
                future.cancel()

    # --- the pool's side ----------------------------------------------------------------------------

    def _post(self, message: ToWorker) -> None:
        if self.worker is not None and not self.closed:
            self.worker.post(message)

    def attach(self, worker: WorkerProcess) -> None:
        """Hand the session to ``worker`` as it is now (a new one after a crash, or the first)."""
        self.worker = worker
        worker.sessions.add(self.session_id)
        worker.post(OpenSession(self.session_id))
        worker.post(SetVision(self.session_id, self.options, self._pool.pace))
        worker.post(self.step)
        worker.post(SetBurnIn(self.session_id, self.burn_in))
        self._waiting_for_keyframe = True
        self._asked_at = -1e9
        if self.wanted:
            self._ask_for_keyframe()

    def worker_lost(self) -> None:
        self.worker = None
        self._waiting_for_keyframe = True
        for future in self._snapshots.values():
            if not future.done():
                future.set_exception(WorkerUnavailable("the media worker stopped; try again in a moment"))

    def deliver(self, message: FromWorker) -> None:
        if self.closed:
            return
        if isinstance(message, VisionDone):
            self.listener.on_vision(message)
        elif isinstance(message, BurnedFrame):
            self.listener.on_burned(message)
        elif isinstance(message, SnapshotDone):
            future = self._snapshots.get(message.request_id)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, KeyframeNeeded):
            self._waiting_for_keyframe = True
            self._ask_for_keyframe()
        elif isinstance(message, SessionFault):
            self.listener.on_fault(message.message)


class WorkerUnavailable(RuntimeError):
    """The session's worker is restarting."""


class MediaWorkers:
    """The pool: up to ``size`` worker processes, started when first needed, restarted when they die."""

    def __init__(self, size: int | None = None, pace: VisionPace | None = None) -> None:
        self.size = size or default_worker_count()
        self.pace = pace or VisionPace()
        self.workers: list[WorkerProcess] = []
        self.channels: dict[str, SessionChannel] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._indexes = itertools.count()
        self._crashes: collections.deque[float] = collections.deque(maxlen=8)
        self._closed = False
        self.restarts = 0

    def channel(self, session_id: str, listener: WorkerListener) -> SessionChannel:
        """A new channel for a session, on the least loaded worker (started if there are fewer than
        ``size``). Call on the event loop."""
        self._loop = asyncio.get_running_loop()
        channel = SessionChannel(session_id, listener, self)
        self.channels[session_id] = channel
        worker = self._least_loaded()
        if worker is not None:
            channel.attach(worker)
        return channel

    def warm_up(self) -> None:
        """Start a worker now if none is running, so the first AR of a session does not wait for a
        process to start (about 1 s of imports). Call on the event loop when AR may soon be wanted."""
        self._loop = asyncio.get_running_loop()
        if not self.workers and not self._closed:
            self._start()

    def detach(self, channel: SessionChannel) -> None:
        if self.channels.get(channel.session_id) is channel:
            del self.channels[channel.session_id]
        if channel.worker is not None:
            channel.worker.sessions.discard(channel.session_id)

    def _least_loaded(self) -> WorkerProcess | None:
        """An idle worker if there is one, else a new one while there are fewer than ``size``, else
        the one with the fewest sessions."""
        if self._closed:
            return None
        idle = [w for w in self.workers if not w.sessions]
        if idle:
            return idle[0]
        if len(self.workers) < self.size:
            return self._start()
        return min(self.workers, key=lambda w: len(w.sessions))

    def _start(self) -> WorkerProcess:
        loop = self._loop
        assert loop is not None

        def on_message(message: FromWorker) -> None:
            loop.call_soon_threadsafe(self._deliver, message)

        holder: list[WorkerProcess] = []

        def on_exit(reason: str) -> None:
            loop.call_soon_threadsafe(self._worker_exited, holder[0], reason)

        worker = WorkerProcess(next(self._indexes), on_message, on_exit)
        holder.append(worker)
        self.workers.append(worker)
        return worker

    def _deliver(self, message: FromWorker) -> None:
        channel = self.channels.get(message.session_id)
        if channel is not None:
            channel.deliver(message)

    def _worker_exited(self, worker: WorkerProcess, reason: str) -> None:
        if worker not in self.workers:
            return
        self.workers.remove(worker)
        logger.error(
            "%s (pid %s); its %d session(s) lose AR for a moment", reason, worker.pid, len(worker.sessions)
        )
        orphans = [c for c in self.channels.values() if c.worker is worker]
        for channel in orphans:
            channel.worker_lost()
            channel.listener.on_worker_lost(reason)
        if self._closed:
            return
        now = time.monotonic()
        self._crashes.append(now)
        recent = sum(1 for t in self._crashes if now - t < 60)
        pause = min(RESTART_PAUSE_S[1], RESTART_PAUSE_S[0] * 2 ** (recent - 1))
        assert self._loop is not None
        self._loop.call_later(pause, self._rehome, orphans)

    def _rehome(self, orphans: list[SessionChannel]) -> None:
        if self._closed:
            return
        self.restarts += 1
        for channel in orphans:
            if channel.closed or channel.worker is not None:
                continue
            worker = self._least_loaded()
            if worker is None:
                return
            channel.attach(worker)
            channel.listener.on_worker_back()

    async def close(self) -> None:
        self._closed = True
        workers, self.workers = self.workers, []
        await asyncio.gather(*(run_blocking(w.stop) for w in workers))
