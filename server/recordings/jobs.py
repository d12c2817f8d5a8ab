"""Jobs that make or remake a recording's file (an MP4 export, the WebM with both voices mixed):
each runs once, in a worker thread, however many ask for the same file at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TypeVar, cast

from ..blocking import run_blocking

T = TypeVar("T")


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
        asyncio.ensure_future(self.run(key, make))

    def running(self) -> int:
        return len(self._running)

    async def wait_all(self) -> None:
        """Let every running job finish (on shutdown: a half-made file is never left behind)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)
