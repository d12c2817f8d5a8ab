"""The forwarded video's jitter buffer: a frame leaves at its marker packet, not one frame later."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from server.live.media.forwarding import MarkerJitterBuffer


def packet(sequence_number: int, timestamp: int, data: bytes, marker: bool = False) -> RtpPacket:
    built = RtpPacket(sequence_number=sequence_number, timestamp=timestamp, marker=int(marker))
    built._data = data  # type: ignore[attr-defined]  # what the receiver's depayloader sets
    return built


def test_a_frame_is_released_at_its_marker_packet() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    assert buffer.add(packet(100, 3000, b"a"))[1] is None
    assert buffer.add(packet(101, 3000, b"b"))[1] is None
    _, frame = buffer.add(packet(102, 3000, b"c", marker=True))
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 3000
    _, frame = buffer.add(packet(103, 6000, b"d", marker=True))  # a one-packet frame
    assert frame is not None and frame.data == b"d" and frame.timestamp == 6000


def test_a_frame_with_a_missing_packet_waits_for_it() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    buffer.add(packet(200, 3000, b"a"))
    assert buffer.add(packet(202, 3000, b"c", marker=True))[1] is None  # 201 is missing
    _, frame = buffer.add(packet(201, 3000, b"b"))  # a retransmission fills the hole
    assert frame is not None and frame.data == b"abc"


def test_without_a_marker_the_frame_leaves_when_the_next_one_starts_as_before() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    buffer.add(packet(300, 3000, b"a"))
    buffer.add(packet(301, 3000, b"b"))
    _, frame = buffer.add(packet(302, 6000, b"c"))
    assert frame is not None and frame.data == b"ab"
