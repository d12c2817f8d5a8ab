"""The process's stalls as /metrics reports them: the event loop held, full garbage collections."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from server import stalls
from server.metrics import REGISTRY
from server.stalls import (
    YOUNG_COLLECTION_THRESHOLD,
    FullCollectionTimer,
    LoopWatch,
    time_full_collections,
    tune_collector,
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_held_event_loop_is_measured_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    within_100ms = sample("repairsight_event_loop_lag_seconds_bucket", le="0.1")
    count = sample("repairsight_event_loop_lag_seconds_count")

    async def hold_the_loop() -> None:
        watch = asyncio.ensure_future(LoopWatch(tick_s=0.02).run())
        await asyncio.sleep(0.1)
        time.sleep(0.6)  # a blocking call on the loop, as a bug would make
        await asyncio.sleep(0.1)
        watch.cancel()

    with caplog.at_level(logging.WARNING, logger=stalls.__name__):
        asyncio.run(hold_the_loop())
    observed = sample("repairsight_event_loop_lag_seconds_count") - count
    late = observed - (sample("repairsight_event_loop_lag_seconds_bucket", le="0.1") - within_100ms)
    assert observed >= 5
    assert late >= 1, "the tick that waited behind the blocking call was late"
    held = [float(r.getMessage().split("held for ")[1].split(" s")[0]) for r in caplog.records]
    assert len(held) == 1 and 0.5 <= held[0] < 0.7, held


def test_a_stall_is_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    watch = LoopWatch()
    with caplog.at_level(logging.WARNING, logger=stalls.__name__):
        watch.observe(0.7)
        watch.observe(0.9)
        watch.observe(0.2)
    assert len(caplog.records) == 1


def test_full_collections_are_timed_and_younger_ones_are_not() -> None:
    time_full_collections()
    time_full_collections()  # once per process, however often called
    assert sum(isinstance(c, FullCollectionTimer) for c in gc.callbacks) == 1
    before = sample("repairsight_gc_full_pause_seconds_count")
    gc.collect(0)
    gc.collect(1)
    assert sample("repairsight_gc_full_pause_seconds_count") == before
    gc.collect(2)
    assert sample("repairsight_gc_full_pause_seconds_count") == before + 1
    assert sample("repairsight_gc_full_pause_seconds_sum") > 0


def test_the_collector_waits_for_many_new_objects_before_collecting_the_young() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # Python's defaults
        tune_collector()
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*saved)
