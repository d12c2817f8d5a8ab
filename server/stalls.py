"""What stalls the whole process, measured as it runs: the event loop late for its timers, and the
garbage collector's full passes (``server/metrics.py``: ``EVENT_LOOP_LAG``, ``GC_FULL_PAUSES``);
and the collector's settings that keep those passes away from live calls.

Every call of a process is forwarded on its one event loop, so anything that holds the loop (a
blocking call, a long callback, a full collection over a heap of many sessions) adds its length to
the latency of every packet in flight. A timer every :data:`TICK_S` that notes how late it fired
measures that from inside, at ten wake-ups a second; a stall past :data:`LOG_STALL_S` is logged
(at most once every :data:`LOG_EVERY_S`), so an operator who hears of frozen video finds it in the
log with its length.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from .metrics import EVENT_LOOP_LAG, GC_FULL_PAUSES

logger = logging.getLogger(__name__)

TICK_S = 0.1
LOG_STALL_S = 0.5
LOG_EVERY_S = 60.0
# Python collects its youngest objects after 700 new ones by default: a forwarding server makes
# about ten per packet, so with 64 calls it collected many times a second, and whatever a packet
# keeps for a moment (the recorder holds each for up to 0.2 s) was promoted to the oldest
# generation. Once those promotions reach a quarter of the old objects, a full pass runs over all of
# them: every 20-30 s, 220-250 ms each, with every call of the process waiting (the soak's latency
# p95 went from 6 ms to 400-680 ms in those minutes; capacity benchmark, 64 forwarded calls on one
# core). Collecting the young after this many instead, what a packet keeps has mostly been freed by
# then: no full pass in two minutes at the same load, the loop never 25 ms late, the same CPU.
YOUNG_COLLECTION_THRESHOLD = 50_000


class LoopWatch:
    """Times the event loop's lateness while :meth:`run` runs (cancel it to stop)."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self.tick_s = tick_s
        self._logged_at = -LOG_EVERY_S

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.tick_s
            await asyncio.sleep(self.tick_s)
            self.observe(loop.time() - due)

    def observe(self, late_s: float) -> None:
        late_s = max(0.0, late_s)
        EVENT_LOOP_LAG.observe(late_s)
        now = time.monotonic()
        if late_s >= LOG_STALL_S and now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            logger.warning("the event loop was held for %.2f s: every call of this process waited", late_s)


class FullCollectionTimer:
    """A ``gc.callbacks`` entry that times each full (generation 2) collection."""

    def __init__(self) -> None:
        self._started_at: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started_at = time.perf_counter()
        elif self._started_at is not None:
            GC_FULL_PAUSES.observe(time.perf_counter() - self._started_at)
            self._started_at = None


def tune_collector() -> None:
    """Keep full collections away from live calls (:data:`YOUNG_COLLECTION_THRESHOLD`)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def time_full_collections() -> None:
    """Time this process's full collections from now on (once per process, however often called)."""
    if not any(isinstance(callback, FullCollectionTimer) for callback in gc.callbacks):
        gc.callbacks.append(FullCollectionTimer())
