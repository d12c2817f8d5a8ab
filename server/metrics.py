"""What an operator's Prometheus reads at ``/metrics``: every metric of the server, defined here once.

Two kinds. Events are counted where they happen, with the few that are cheap at their rate (vision
results, ten a second a session; sign-in failures; AR pauses; sockets closed with an error code).
Everything else is read when Prometheus asks (:class:`LiveCollector`): live sessions and
participants, the media forwarded (plain integer totals the forwarding path adds to, far cheaper per
packet than a Prometheus counter's lock), recordings being written and their bytes on disk, exports
running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .live.registry import LiveRegistry
    from .recordings.jobs import FileJobs

REGISTRY = CollectorRegistry(auto_describe=True)

VISION_FRAMES = Counter(
    "repairsight_vision_frames", "Frames vision processed (all sessions of this process)", registry=REGISTRY
)
AR_LAG = Histogram(
    "repairsight_ar_lag_seconds",
    "How far each AR state's frame is behind the newest frame received from the phone",
    buckets=(0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0),
    registry=REGISTRY,
)
AR_PAUSES = Counter(
    "repairsight_ar_pauses",
    "AR stopped on its own (a media worker died, vision failed)",
    ["reason"],
    registry=REGISTRY,
)
SIGN_IN_FAILURES = Counter(
    "repairsight_sign_in_failures",
    "Failed or refused sign-ins",
    ["kind"],  # wrong_password, disabled, throttled
    registry=REGISTRY,
)

# What keeps every call of the process waiting: its event loop busy (a timer fires late by this
# much: every packet to forward waited as long) and the collector's full passes (generation 2),
# which stop the whole process (``server/stalls.py``).
STALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
EVENT_LOOP_LAG = Histogram(
    "repairsight_event_loop_lag_seconds",
    "How late a 100 ms timer fired on the event loop (what forwarded packets waited meanwhile)",
    buckets=STALL_BUCKETS,
    registry=REGISTRY,
)
GC_FULL_PAUSES = Histogram(
    "repairsight_gc_full_pause_seconds",
    "Full (generation 2) garbage collections of this process, and how long each stopped it",
    buckets=STALL_BUCKETS,
    registry=REGISTRY,
)

WEBSOCKET_ERRORS = Counter(
    "repairsight_websocket_errors",
    "Signaling sockets the server closed with an error code (1009 too large, 1011 internal error, "
    "4003 forbidden, 4008 too slow, ...)",
    ["code"],
    registry=REGISTRY,
)
# Close codes that end a socket as intended, not as an error: normal, going away, reconnecting,
# replaced by a newer socket, the session ended.
CLEAN_CLOSE_CODES = frozenset({1000, 1001, 4000, 4001, 4002})


def websocket_closed(code: int) -> None:
    """The server closed (or refused) a signaling socket with ``code``: counted when it is an error."""
    if code not in CLEAN_CLOSE_CODES:
        WEBSOCKET_ERRORS.labels(code=str(code)).inc()


class ForwardedTotals:
    """Packets and bytes the forwarding path sent on, added to as plain integers (one process)."""

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0

    def add(self, size: int) -> None:
        self.packets += 1
        self.bytes += size


FORWARDED = ForwardedTotals()


class LiveCollector(Collector):
    """The state of this process's calls, read at scrape time."""

    def __init__(self, live: LiveRegistry, jobs: FileJobs) -> None:
        self.live = live
        self.jobs = jobs

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        sessions = list(self.live.sessions.values())
        yield GaugeMetricFamily("repairsight_live_sessions", "Live sessions on this process", len(sessions))
        participants = GaugeMetricFamily(
            "repairsight_participants", "Participants joined to live sessions", labels=["role"]
        )
        for role in ("customer", "expert"):
            joined = sum(1 for s in sessions if s.machine.presence.get(role) == "joined")  # type: ignore[call-overload]
            participants.add_metric([role], joined)
        yield participants
        recording = [s.recorder for s in sessions if s.recorder is not None]
        yield GaugeMetricFamily("repairsight_recordings_writing", "Recordings being written", len(recording))
        yield GaugeMetricFamily(
            "repairsight_recording_bytes",
            "Bytes on disk of the recordings being written",
            sum(_size(r.path) for r in recording),
        )
        yield GaugeMetricFamily("repairsight_exports_running", "Exports being made", self.jobs.running())
        yield CounterMetricFamily(
            "repairsight_forwarded_packets", "Media packets forwarded", FORWARDED.packets
        )
        yield CounterMetricFamily("repairsight_forwarded_bytes", "Media bytes forwarded", FORWARDED.bytes)


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


_watched: list[LiveCollector] = []  # the collector of this process's app (at most one)


def watch(live: LiveRegistry, jobs: FileJobs) -> None:
    """Report this process's live state (once per app; a second app in one process replaces it)."""
    while _watched:
        REGISTRY.unregister(_watched.pop())
    _watched.append(LiveCollector(live, jobs))
    REGISTRY.register(_watched[0])
