"""The forwarded video's jitter buffer: a frame leaves at its marker packet, not one frame later, and a
packet that does not come is not waited for forever."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from server.live.media.forwarding import HOLE_WAIT_TICKS, MarkerJitterBuffer


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


def test_a_packet_that_does_not_come_is_given_up_on_and_a_keyframe_asked_for() -> None:
    """On a weak link a lost packet may never come again: after HOLE_WAIT_TICKS of later frames the
    buffer goes on from the first whole frame after it (aiortc alone waited for 512 packets)."""
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    assert buffer.add(packet(400, 3000, b"a", marker=True))[1] is not None
    # 401 (the first packet of the frame at 6000) is lost for good; 402 ends that frame.
    assert buffer.add(packet(402, 6000, b"c", marker=True)) == (False, None)
    # One-packet frames 100 ms apart (10 fps): the last one below reaches the wait.
    frames = HOLE_WAIT_TICKS // 9000
    for n in range(frames):
        pli, frame = buffer.add(packet(403 + n, 15000 + 9000 * n, bytes([n]), marker=True))
        if n < frames - 1:
            assert (pli, frame) == (False, None), f"gave up after {n + 1} frames, before the wait"
    assert pli, "no keyframe asked for after the hole"
    assert frame is not None and frame.data == bytes([0]) and frame.timestamp == 15000  # the first whole one
    # The frames held behind the hole follow, one with each packet, and the retransmission that
    # comes too late is ignored.
    _, frame = buffer.add(packet(403 + frames, 15000 + 9000 * frames, b"y", marker=True))
    assert frame is not None and frame.data == bytes([1])
    assert buffer.add(packet(401, 6000, b"b")) == (False, None)


def test_the_wait_for_a_missing_packet_survives_the_timestamp_wrapping() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    start = 2**32 - 9000
    buffer.add(packet(500, start, b"a", marker=True))
    buffer.add(packet(502, start + 3000, b"c", marker=True))  # 501 missing
    assert buffer.add(packet(503, (start + 6000) % 2**32, b"d", marker=True)) == (False, None)
    pli, frame = buffer.add(packet(504, (start + 3000 + HOLE_WAIT_TICKS) % 2**32, b"e", marker=True))
    assert pli and frame is not None and frame.data == b"d"


def test_a_hole_inside_the_first_frame_is_given_up_on_too() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    buffer.add(packet(600, 3000, b"a"))  # the frame at 3000 starts; 601 is lost, 602 ends it
    buffer.add(packet(602, 3000, b"c", marker=True))
    assert buffer.add(packet(603, 6000, b"d", marker=True)) == (False, None)
    pli, frame = buffer.add(packet(604, 3000 + HOLE_WAIT_TICKS, b"e", marker=True))
    assert pli and frame is not None and frame.data == b"d"
