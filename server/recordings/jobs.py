"""Jobs that make or remake a recording's file (an MP4 export, the WebM with both voices mixed):
each runs once, in a worker thread, however many ask for the same file at once.

A job that decodes and encodes media in native code can be run in a child process of its own
(:class:`InChildProcess`): a crash in a codec then fails that one job, and the server and its calls
go on. Its file is written beside the old one and renamed over it, so the old one stays. At most
:data:`MAX_CHILD_JOBS` such children run at once (each is an interpreter of its own, about 100 MB:
a server stopping with dozens of sessions must not start dozens), and a child whose server is gone
(killed) stops too, instead of waiting for work forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from ..blocking import run_blocking

T = TypeVar("T")
logger = logging.getLogger(__name__)
# A fresh interpreter: nothing of the server's threads or event loop is copied into the child.
SPAWN = multiprocessing.get_context("spawn")
MAX_CHILD_JOBS = 2
_child_slots = threading.BoundedSemaphore(MAX_CHILD_JOBS)
PARENT_CHECK_S = 1.0


def _start_child(parent_pid: int) -> None:
    """In the child, first: a native crash leaves its stack in the log, and the child ends once its
    parent is gone (a pool's worker would otherwise wait for its next job for ever)."""
    faulthandler.enable()

    def exit_with_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()


class JobCrashed(RuntimeError):
    """The child process running a job ended without an answer (a native crash, killed)."""


class InChildProcess(Generic[T]):
    """``function(*args)`` run in a child process when called (blocking: call it from a thread).

    Its answer or its exception comes back; a child that dies raises :class:`JobCrashed` here
    instead of taking the server with it. ``function``, its arguments and its answer must pickle."""

    def __init__(self, function: Callable[..., T], *args: Any) -> None:
        self.function = function
        self.args = args

    def __call__(self) -> T:
        with (
            _child_slots,
            ProcessPoolExecutor(
                max_workers=1, mp_context=SPAWN, initializer=_start_child, initargs=(os.getpid(),)
            ) as child,
        ):
            try:
                return child.submit(self.function, *self.args).result()
            except BrokenProcessPool:
                name = getattr(self.function, "__name__", repr(self.function))
                logger.error(
                    "the child process of job %s%r died (its stack, if it crashed, is above)", name, self.args
                )
                raise JobCrashed(f"the process making the file ended abruptly ({name})") from None


class FileJobs:
    """The jobs running, by the path they make, so concurrent requests share one."""

    def __init__(self, exclusive: Callable[[str], AbstractAsyncContextManager[None]] | None = None) -> None:
        """``exclusive``: holds other processes of the service off the same file (a Redis lock), so
        an export asked on two processes runs once; the second finds it made."""
        self._running: dict[Path, asyncio.Future[object]] = {}
        self._exclusive = exclusive

    async def _make(self, key: Path, make: Callable[[], T]) -> T:
        async with self._exclusive(f"file:{key}") if self._exclusive else contextlib.nullcontext():
            return await run_blocking(make)

    async def run(self, key: Path, make: Callable[[], T]) -> T:
        running = self._running.get(key)
        if running is None:
            task: asyncio.Future[object] = asyncio.ensure_future(self._make(key, make))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
            running = task
        # Shielded: a client that gives up does not cancel the job; it is kept for the next one.
        return cast(T, await asyncio.shield(running))

    def start(self, key: Path, make: Callable[[], object]) -> None:
        """Run ``make`` in the background (nobody waits; a later :meth:`run` of ``key`` joins it)."""
        asyncio.ensure_future(self.run(key, make)).add_done_callback(_log_failure)

    def running(self) -> int:
        return len(self._running)

    async def wait_all(self) -> None:
        """Let every running job finish (on shutdown: a half-made file is never left behind)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)


def _log_failure(task: asyncio.Future[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("a background file job failed: %s", task.exception())
