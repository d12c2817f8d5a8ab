"""The one way async code runs blocking work (database, files, password hashing, muxing).

Heavy or blocking work must never run on the event loop: RTP, data channels and every other
session share it. ``run_blocking`` hands the call to anyio's worker threads (the same pool
starlette's ``run_in_threadpool`` uses, 40 threads by default), so all blocking work of a process
is bounded by one limiter rather than split between several pools.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread; the caller awaits its result."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
