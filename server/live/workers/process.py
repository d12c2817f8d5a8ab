"""The media worker process: its sessions' decoding, vision, burn-in and snapshots, off the server.

A native crash here (libswscale, libvpx, OpenCV, MediaPipe) ends this process only: the server's
event loop, every call, forwarding and recording go on, and ``pool.py`` starts a new worker and
hands it the sessions back. The worker exits when its pipe closes (the server stopped or died).

Threads: the main thread receives messages and decodes frames as they come; one vision thread
visits the sessions in turn and runs vision on each one's newest picture (see ``session_work.py``).
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import threading
from multiprocessing.connection import Connection

from .messages import (
    BurnInKeyframe,
    CloseSession,
    EncodedFrame,
    FromWorker,
    OpenSession,
    SetBurnIn,
    SetStep,
    SetVision,
    TakeSnapshot,
    ToWorker,
)
from .session_work import SessionWork

logger = logging.getLogger(__name__)

IDLE_WAIT_S = 0.05


class WorkerLoop:
    """Serves one pipe; usable in a thread too (tests), with any object that has ``recv``/``send``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sessions: dict[str, SessionWork] = {}
        self._closing: list[SessionWork] = []
        self._send_lock = threading.Lock()
        self._new_picture = threading.Event()
        self._stopping = threading.Event()

    def serve(self) -> None:
        vision = threading.Thread(target=self._vision_loop, name="vision", daemon=True)
        vision.start()
        try:
            self._receive_loop()
        finally:
            self._stopping.set()
            self._new_picture.set()
            vision.join(timeout=10)

    def send(self, message: FromWorker) -> None:
        with self._send_lock:
            self.conn.send(message)

    def _receive_loop(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return  # the server closed the pipe (or died)
            if message is None:
                return
            for reply in self.handle(message):
                self.send(reply)

    def handle(self, message: ToWorker) -> list[FromWorker]:
        if isinstance(message, EncodedFrame):
            work = self.sessions.get(message.session_id)
            if work is None:
                return []
            replies = work.decode(message)
            self._new_picture.set()
            return replies
        if isinstance(message, OpenSession):
            self.sessions.setdefault(message.session_id, SessionWork(message.session_id))
            return []
        if isinstance(message, CloseSession):
            work = self.sessions.pop(message.session_id, None)
            if work is not None:
                work.closed = True
                self._closing.append(work)
                self._new_picture.set()
            return []
        work = self.sessions.get(message.session_id)
        if work is None:
            return []
        if isinstance(message, SetVision):
            work.set_vision(message.options, message.pace)
            self._new_picture.set()  # build the pipeline now, before the first frame
        elif isinstance(message, SetStep):
            work.set_step(message)
        elif isinstance(message, SetBurnIn):
            work.set_burn_in(message.enabled)
        elif isinstance(message, BurnInKeyframe):
            work.burn_in_keyframe()
        elif isinstance(message, TakeSnapshot):
            return [work.snapshot(message)]
        return []

    def _vision_loop(self) -> None:
        while not self._stopping.is_set():
            self._new_picture.clear()
            while self._closing:
                self._closing.pop().close()
            worked = False
            for work in list(self.sessions.values()):
                if work.closed:
                    continue
                result = work.run_vision()
                if result is not None:
                    worked = True
                    self.send(result)
            if not worked:
                self._new_picture.wait(IDLE_WAIT_S)
        for work in [*self.sessions.values(), *self._closing]:
            work.close()


def worker_process_main(conn: Connection) -> None:
    """The worker process's entry point (``multiprocessing`` spawn target)."""
    # Ctrl-C in a terminal reaches the whole process group: the server shuts its workers down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()  # a native crash leaves the worker's Python stack in the server's log
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     media worker: %(message)s")
    import cv2

    cv2.setNumThreads(1)  # a worker is one core's worth of work; the pool has one per core
    try:
        # Imported now, while nobody waits: the first pipeline with hands is built faster.
        import mediapipe.tasks.python.vision  # noqa: F401
    except ImportError:
        pass  # without mediapipe, vision runs without hands
    WorkerLoop(conn).serve()
