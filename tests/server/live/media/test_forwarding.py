"""Loopback: real aiortc peers through the session media hub.

This is the test that fails loudly if an aiortc upgrade changes the internals that
``server/live/media/forwarding.py`` relies on: the expert must get the customer's own VP8
frames (the server's sender never encodes), and the frames must still reach the session's media
worker for vision and burn-in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from procedures import ProcedureLibrary
from server.live.media.hub import SessionMedia
from server.live.workers.messages import BurnedFrame, VisionDone
from server.live.workers.pool import MediaWorkers
from tests.synthetic_peers import SyntheticPeer, board_camera, start_customer, start_expert, wait_for

# A forwarded frame is the phone's own encoding; the synthetic phone is aiortc's VP8 at
# its default bitrate, so a picture differs from the clip by compression only.
MAX_MEAN_ABS_DIFF = 12.0


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return [f.bgr for f in board_camera(num_frames=30).frames()]


async def wait_for_media_both_ways(customer: SyntheticPeer, expert: SyntheticPeer) -> None:
    await wait_for(lambda: len(expert.received.arrivals) >= 30, 20, "30 numbered frames at the expert")
    await wait_for(
        lambda: expert.audio_frames[0] > 20 and customer.audio_frames[0] > 20, 10, "audio both ways"
    )


def expert_picture_diff(expert: SyntheticPeer, clip_frames: list[np.ndarray]) -> tuple[int, float]:
    """The number of the clip frame the expert sees last, and the mean absolute difference of
    its picture from that frame (the frame-number strip left out)."""
    number = expert.received.last_number
    image = expert.received.last_image
    assert number is not None and image is not None
    expected = clip_frames[number % len(clip_frames)]
    body = slice(0, image.shape[0] - 16)
    return number, float(np.abs(image[body].astype(np.int16) - expected[body].astype(np.int16)).mean())


class FrameRecorder:
    """A frame sink that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes, int, int, bool]] = []

    def submit(self, codec: str, data: bytes, rtp_timestamp: int, clock_rate: int, keyframe: bool) -> None:
        self.frames.append((codec, data, rtp_timestamp, clock_rate, keyframe))


def sender_encoder(media: SessionMedia, role: str, kind: str) -> Any:
    """The encoder aiortc keeps in the server's sender of ``kind`` to ``role``."""
    leg = media.legs[role]
    assert leg is not None
    sender = next(t.sender for t in leg.pc.getTransceivers() if t.kind == kind)
    return sender._RTCRtpSender__encoder  # type: ignore[attr-defined]


async def test_expert_receives_the_customers_encoded_video_unchanged(clip_frames: list[np.ndarray]) -> None:
    media = SessionMedia("loopback", ice_servers=())
    sink = FrameRecorder()
    media.frame_sink = sink
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
    try:
        await wait_for_media_both_ways(customer, expert)

        # The picture the expert sees is the clip frame whose number it carries.
        number, diff = expert_picture_diff(expert, clip_frames)
        assert diff < MAX_MEAN_ABS_DIFF, f"expert picture differs from clip frame {number}: {diff:.1f}"

        # Forwarded, not re-encoded: the server's video sender to the expert never built an encoder.
        encoder = sender_encoder(media, "expert", "video")
        assert type(encoder).__name__ == "Vp8Encoder"
        assert encoder.codec is None, "the server re-encoded the customer's video"
        assert media.packets_forwarded > 30

        # And every frame also reached the session's media worker (here a recorder), as encoded.
        assert len(sink.frames) >= 30 and sink.frames[0][4], "the first frame must be a keyframe"
        assert {codec for codec, *_ in sink.frames} == {"VP8"}
        stamps = [rtp for _, _, rtp, _, _ in sink.frames]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    finally:
        await customer.close()
        await expert.close()
        await media.close()


def record_raw_timestamps(receiver: Any) -> list[tuple[int, int]]:
    """Every (RTP timestamp as sent, pts as handed on) pair this aiortc receiver maps from now on."""
    mapper = receiver._RTCRtpReceiver__timestamp_mapper
    pairs: list[tuple[int, int]] = []
    original = mapper.map

    def map_and_keep(timestamp: int) -> int:
        pts: int = original(timestamp)
        pairs.append((timestamp, pts))
        return pts

    mapper.map = map_and_keep
    return pairs


async def test_ar_states_name_frames_by_the_rtp_timestamps_each_page_sees(
    clip_frames: list[np.ndarray],
) -> None:
    media = SessionMedia("stamps", ice_servers=())
    sink = FrameRecorder()
    media.frame_sink = sink
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    leg = media.legs["customer"]
    assert leg is not None
    at_server = record_raw_timestamps(leg.receivers["video"])
    expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
    expert_video = next(t.receiver for t in expert.pc.getTransceivers() if t.kind == "video")
    at_expert = record_raw_timestamps(expert_video)
    try:
        await wait_for(lambda: len(at_expert) >= 60, 20, "60 video packets at the expert")
        # The customer's page: the phone's own timestamp of each frame, exactly.
        assert len(at_server) >= 60
        assert all(media.customer_rtp_timestamp(pts) == sent for sent, pts in at_server)
        # The expert's page: the timestamp its video reports for the frame, exactly.
        seen_by_expert = {raw for raw, _ in at_expert}
        named = [media.expert_stream_timestamp(rtp) for _, _, rtp, _, _ in sink.frames[-30:]]
        assert sum(stamp in seen_by_expert for stamp in named) >= 25, (named[:5], sorted(seen_by_expert)[:5])
    finally:
        await customer.close()
        await expert.close()
        await media.close()


async def test_the_benchmark_baseline_reencodes_every_track(clip_frames: list[np.ndarray]) -> None:
    """``--media-relay reencode``, aiortc's plain relay: video and audio both ways go through
    aiortc's decoders and encoders, and the expert still sees the customer's picture."""
    media = SessionMedia("baseline", ice_servers=(), reencode=True)
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
    try:
        await wait_for_media_both_ways(customer, expert)
        number, diff = expert_picture_diff(expert, clip_frames)
        assert diff < 2 * MAX_MEAN_ABS_DIFF, f"expert picture differs from clip frame {number}: {diff:.1f}"

        for role, kind in (("expert", "video"), ("expert", "audio"), ("customer", "audio")):
            encoder = sender_encoder(media, role, kind)
            # A sender that only packs forwarded packets never opens its encoder.
            used = encoder.codec if kind == "video" else encoder.first_packet_pts
            assert used is not None, f"the baseline sent the {role}'s {kind} without encoding it"
    finally:
        await customer.close()
        await expert.close()
        await media.close()


async def test_a_late_expert_gets_a_keyframe_at_once(clip_frames: list[np.ndarray]) -> None:
    """VP8 sends keyframes only on request: the late expert's request must reach the phone."""
    media = SessionMedia("late", ice_servers=())
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    try:
        await wait_for(
            lambda: (
                media.packets_forwarded == 0
                and customer.video_out is not None
                and customer.video_out.count > 60
            ),
            10,
            "two seconds of the customer's video",
        )
        # Count the keyframe requests (PLIs) that reach the phone's video sender.
        phone_sender = next(t.sender for t in customer.pc.getTransceivers() if t.kind == "video")
        requests = [0]
        original = phone_sender._send_keyframe

        def counting_send_keyframe() -> None:
            requests[0] += 1
            original()

        phone_sender._send_keyframe = counting_send_keyframe  # type: ignore[method-assign]
        expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
        try:
            await wait_for(lambda: len(expert.received.arrivals) >= 5, 8, "frames at the late expert")
            assert requests[0] >= 1, "the expert's keyframe request never reached the phone"
        finally:
            await expert.close()
    finally:
        await customer.close()
        await media.close()


# Pixels of the picture that are the overlay's green (vision.drawing.OUTLINE_BGR) where the clip
# frame it shows is not as green: the clip's own board is green, so the clip is the reference.
# Measured: forwarded pictures have 0-2 such pixels, burned-in ones 41-1865 (the outline's length).
FORWARDED_MAX_OVERLAY_PX = 20
BURNED_MIN_OVERLAY_PX = 200


def overlay_pixels(expert: SyntheticPeer, clip_frames: list[np.ndarray]) -> int:
    """How many pixels of the expert's last picture the overlay drew, against the clip frame it shows."""
    number, image = expert.received.last_number, expert.received.last_image
    assert number is not None and image is not None
    body = slice(0, image.shape[0] - 16)  # the frame-number strip left out
    picture = image[body].astype(np.int16)
    clip = clip_frames[number % len(clip_frames)][body].astype(np.int16)
    blue, green, red = picture[..., 0], picture[..., 1], picture[..., 2]
    drawn = (green > 170) & (green - red > 70) & (green - blue > 70) & (green - clip[..., 1] > 40)
    return int(drawn.sum())


class BurnInListener:
    """What the session's AR does with its media worker's news, for burn-in alone."""

    def __init__(self, media: SessionMedia) -> None:
        self.media = media
        self.outline: np.ndarray | None = None

    def on_vision(self, done: VisionDone) -> None:
        if done.state.found:
            self.outline = done.state.outline_frame_px

    def on_burned(self, frame: BurnedFrame) -> None:
        self.media.push_burned(frame.data, frame.rtp_timestamp, frame.keyframe)

    def on_keyframe_needed(self) -> None:
        self.media.request_keyframe()

    def on_fault(self, message: str) -> None:
        raise AssertionError(message)

    def on_worker_lost(self, reason: str) -> None:
        raise AssertionError(reason)

    def on_worker_back(self) -> None:
        raise AssertionError("no worker was lost")


async def test_burn_in_draws_the_overlay_into_the_experts_video_and_back(
    clip_frames: list[np.ndarray],
) -> None:
    board = ProcedureLibrary.with_builtin().get("board-connector-reseat")
    assert board is not None
    media = SessionMedia("burn-in", ice_servers=())
    workers = MediaWorkers(size=1)
    listener = BurnInListener(media)
    channel = workers.channel("burn-in", listener)
    media.frame_sink, media.burn_in_keyframe = channel, channel.burn_in_keyframe
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
    try:
        await wait_for(lambda: len(expert.received.arrivals) >= 10, 20, "forwarded frames")
        channel.set_vision(board.pipeline_options(hands=False))
        await wait_for(lambda: listener.outline is not None, 20, "vision to find the board")
        assert overlay_pixels(expert, clip_frames) <= FORWARDED_MAX_OVERLAY_PX  # forwarded: no overlay

        channel.set_burn_in(True)
        media.set_burn_in(True)
        await wait_for(
            lambda: overlay_pixels(expert, clip_frames) >= BURNED_MIN_OVERLAY_PX,
            15,
            "the overlay burned into the expert's video",
        )

        channel.set_burn_in(False)
        media.set_burn_in(False)
        await wait_for(
            lambda: overlay_pixels(expert, clip_frames) <= FORWARDED_MAX_OVERLAY_PX,
            15,
            "forwarded video again",
        )
    finally:
        channel.close()
        await customer.close()
        await expert.close()
        await media.close()
        await workers.close()
