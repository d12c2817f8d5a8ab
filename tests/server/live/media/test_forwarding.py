"""Loopback: real aiortc peers through the session media hub.

This is the test that fails loudly if an aiortc upgrade changes the internals that
``server/media/forwarding.py`` relies on: the expert must get the customer's own VP8
frames (the server's sender never encodes), and the server must still decode a copy for
vision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.live.media.hub import SessionMedia
from tests.synthetic_peers import SyntheticPeer, board_camera, start_customer, start_expert, wait_for
from vision.pipeline import ARState

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


def sender_encoder(media: SessionMedia, role: str, kind: str) -> Any:
    """The encoder aiortc keeps in the server's sender of ``kind`` to ``role``."""
    leg = media.legs[role]
    assert leg is not None
    sender = next(t.sender for t in leg.pc.getTransceivers() if t.kind == kind)
    return sender._RTCRtpSender__encoder  # type: ignore[attr-defined]


async def test_expert_receives_the_customers_encoded_video_unchanged(clip_frames: list[np.ndarray]) -> None:
    media = SessionMedia("loopback", ice_servers=())
    media.decode_for_vision(True)
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

        # And one decoded copy was kept for vision (asked for above).
        latest = media.latest_frame.peek()
        assert latest is not None and latest.frame.width == 640 and latest.sequence >= 30
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


def outline_state(frame_size: tuple[int, int]) -> ARState:
    outline = np.array([[120.0, 100.0], [500.0, 110.0], [480.0, 380.0], [140.0, 360.0]])
    return ARState(
        timestamp_ms=0,
        frame_size=frame_size,
        found=True,
        source="features",
        homography=np.eye(3),
        outline_frame_px=outline,
        inliers=100,
        reason="",
        annotations=(),
        target_frame_px=None,
        hands=(),
        step_events=(),
        step_completed=False,
        stage_ms={},
    )


def green_fraction_on_edge(image: np.ndarray) -> float:
    """How much of the outline's top edge (120,100)->(500,110) is drawn in the overlay's green."""
    hits = 0
    for x in range(160, 460, 10):
        y = round(100 + (x - 120) * 10 / 380)
        patch = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).astype(int)
        hits += any(g > 150 and g - r > 60 and g - b > 60 for b, g, r in patch)
    return hits / 30


async def test_burn_in_draws_the_overlay_into_the_experts_video_and_back(
    clip_frames: list[np.ndarray],
) -> None:
    media = SessionMedia("burn-in", ice_servers=())
    customer = await start_customer(clip_frames, lambda sdp: media.accept_offer("customer", "c1", sdp))
    expert = await start_expert(lambda sdp: media.accept_offer("expert", "e1", sdp))
    try:
        await wait_for(lambda: len(expert.received.arrivals) >= 10, 20, "forwarded frames")
        image = expert.received.last_image
        assert image is not None and green_fraction_on_edge(image) < 0.2  # forwarded: no overlay

        media.decode_for_vision(True)
        await media.set_burn_in(True, lambda: outline_state((640, 480)))
        await wait_for(
            lambda: (i := expert.received.last_image) is not None and green_fraction_on_edge(i) > 0.8,
            15,
            "the overlay burned into the expert's video",
        )

        await media.set_burn_in(False, lambda: None)
        await wait_for(
            lambda: (i := expert.received.last_image) is not None and green_fraction_on_edge(i) < 0.2,
            15,
            "forwarded video again",
        )
    finally:
        await customer.close()
        await expert.close()
        await media.close()
