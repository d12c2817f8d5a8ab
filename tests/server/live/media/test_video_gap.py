"""A gap in the customer's video (a dropped network, a reload) is reported once, when the video comes
back, with its length; a steady stream reports none."""

from __future__ import annotations

import av
import pytest

from server.live.media import hub
from server.live.media.hub import VIDEO_GAP_S, SessionMedia


def video_packet(pts: int) -> av.Packet:
    packet = av.Packet(b"\x00" * 10)
    packet.pts = packet.dts = pts
    packet.time_base = hub.VIDEO_TIME_BASE
    return packet


def test_the_video_coming_back_after_a_gap_reports_its_length(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(hub.time, "monotonic", lambda: now[0])
    gaps: list[float] = []
    media = SessionMedia("gap", ice_servers=(), on_video_gap=gaps.append)
    for frame in range(60):  # two seconds at 30 fps: no gap
        now[0] = 100.0 + frame / 30
        media._fan_out("customer", "video", video_packet(frame * 3000))
    assert gaps == []
    media._fan_out("customer", "audio", video_packet(0))  # audio alone does not end a video gap
    now[0] += 10.0
    media._fan_out("customer", "video", video_packet(5))  # a new peer connection's stream
    assert gaps == [pytest.approx(10.0)]
    now[0] += VIDEO_GAP_S / 2
    media._fan_out("customer", "video", video_packet(3005))
    assert len(gaps) == 1
