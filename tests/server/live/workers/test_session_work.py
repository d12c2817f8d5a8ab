"""A session's work inside a media worker, in this process: real VP8 frames of the board clip in,
vision results, burned-in frames and snapshots out."""

from __future__ import annotations

import threading

import av
import cv2
import numpy as np
import pytest

from procedures import ProcedureLibrary
from server.live.workers.messages import (
    BurnedFrame,
    EncodedFrame,
    KeyframeNeeded,
    SetStep,
    TakeSnapshot,
    VisionDone,
)
from server.live.workers.session_work import RtpClock, SessionWork
from tests.server.synthetic_packets import vp8_frames_of
from tests.synthetic_peers import board_camera

BOARD = ProcedureLibrary.with_builtin().get("board-connector-reseat")
FRAMES = 30


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], list[tuple[bytes, bool]], list[np.ndarray]]:
    camera = board_camera(FRAMES)
    frames = list(camera.frames())
    images = [f.bgr for f in frames]
    return images, vp8_frames_of(images), [f.homography for f in frames]


def encoded(index: int, data: bytes, keyframe: bool) -> EncodedFrame:
    return EncodedFrame("s1", "vp8", data, 1000 + index * 3000, 90000, keyframe)


def test_frames_before_the_first_keyframe_are_skipped_and_a_damaged_one_asks_for_a_keyframe(clip) -> None:  # type: ignore[no-untyped-def]
    _, packets, _ = clip
    work = SessionWork("s1")
    assert work.decode(encoded(1, packets[1][0], False)) == [] and work.latest is None
    work.decode(encoded(0, *packets[0]))
    assert work.latest is not None and work.latest.image.size == (640, 480)
    assert not work.latest.image.gray().flags.writeable  # shared with the vision thread: nobody writes to it
    assert work.decode(encoded(2, b"\x00garbage", False)) == [KeyframeNeeded("s1")]
    assert work.decode(encoded(3, packets[3][0], False)) == []  # waits for a keyframe again


def test_vision_runs_on_the_newest_picture_with_the_current_step(clip) -> None:  # type: ignore[no-untyped-def]
    _, packets, truths = clip
    assert BOARD is not None
    work = SessionWork("s1")
    work.set_vision(BOARD.pipeline_options(hands=False))
    work.prepare()  # the pipeline is built before the first frame
    work.set_step(SetStep("s1", 7, tuple(BOARD.step_annotations("locate")), BOARD.step_rule("locate")))
    results = []
    for index, (data, keyframe) in enumerate(packets[:10]):
        work.decode(encoded(index, data, keyframe))
        result = work.run_vision()
        assert result is not None and work.run_vision() is None  # once per new picture
        results.append(result)
    last = results[-1]
    assert isinstance(last, VisionDone) and last.generation == 7
    assert last.rtp_timestamp == 1000 + 9 * 3000
    assert last.state.found
    truth = truths[9] @ np.array([[0, 0, 1], [639, 0, 1], [639, 479, 1], [0, 479, 1]]).T
    corners = (truth[:2] / truth[2]).T
    assert np.abs(last.state.outline_frame_px - corners).max() < 4.0


def test_burn_in_draws_the_overlay_into_encoded_frames_that_decode(clip) -> None:  # type: ignore[no-untyped-def]
    _, packets, _ = clip
    assert BOARD is not None
    work = SessionWork("s1")
    work.set_vision(BOARD.pipeline_options(hands=False))
    for index in range(8):
        work.decode(encoded(index, *packets[index]))
        work.run_vision()
    assert work.last_state is not None and work.last_state.found
    work.set_burn_in(True)
    burned = [
        m for i in range(8, 14) for m in work.decode(encoded(i, *packets[i])) if isinstance(m, BurnedFrame)
    ]
    assert len(burned) == 6 and burned[0].keyframe and burned[0].rtp_timestamp == 1000 + 8 * 3000
    decoder = av.CodecContext.create("vp8", "r")
    image = None
    for frame in burned:
        for picture in decoder.decode(av.Packet(frame.data)):
            image = picture.to_ndarray(format="bgr24")
    assert image is not None
    outline = work.last_state.outline_frame_px
    x, y = np.round((outline[0] + outline[1]) / 2).astype(int)  # middle of the top edge
    patch = image[y - 3 : y + 4, x - 3 : x + 4].reshape(-1, 3).astype(int)
    assert any(g > 150 and g - r > 60 and g - b > 60 for b, g, r in patch), "no green outline burned in"


def test_a_snapshot_is_the_frame_clean_and_with_the_marks(clip) -> None:  # type: ignore[no-untyped-def]
    _, packets, _ = clip
    assert BOARD is not None
    work = SessionWork("s1")
    work.set_vision(BOARD.pipeline_options(hands=False))
    for index in range(6):
        work.decode(encoded(index, *packets[index]))
        work.run_vision()
    pinned = ({"shape": "rect", "points_frame_fraction": [[0.05, 0.05], [0.2, 0.2]], "anchored": False},)
    done = work.snapshot(TakeSnapshot("s1", 3, pinned))
    assert done.request_id == 3 and done.error is None and done.state is not None and done.state.found
    clean = cv2.imdecode(np.frombuffer(done.clean_jpeg or b"", np.uint8), cv2.IMREAD_COLOR)
    marked = cv2.imdecode(np.frombuffer(done.marked_jpeg or b"", np.uint8), cv2.IMREAD_COLOR)
    assert clean.shape == marked.shape == (480, 640, 3)
    difference = np.abs(clean.astype(int) - marked.astype(int)).sum(axis=2) > 60
    assert difference[32:40, 32:130].any(), "the pinned rectangle is not in the marked picture"
    x, y = np.round(done.state.outline_frame_px[0]).astype(int)
    assert difference[max(0, y - 4) : y + 5, max(0, x - 4) : x + 5].any(), "the outline is not drawn"


def test_a_snapshot_with_no_current_picture_says_so() -> None:
    done = SessionWork("s1").snapshot(TakeSnapshot("s1", 1))
    assert done.clean_jpeg is None and done.error


def test_the_decoding_and_vision_threads_share_no_native_frame(clip) -> None:  # type: ignore[no-untyped-def]
    """The burn-in crash: two threads converting one PyAV frame at once crash libswscale. Here the
    decoding thread decodes and burns in while the vision thread works on the same pictures."""
    _, packets, _ = clip
    assert BOARD is not None
    work = SessionWork("s1")
    work.set_vision(BOARD.pipeline_options(hands=False))
    work.set_burn_in(True)
    stop = threading.Event()
    done: list[VisionDone] = []

    def vision() -> None:
        while not stop.is_set():
            result = work.run_vision()
            if isinstance(result, VisionDone):
                done.append(result)

    thread = threading.Thread(target=vision)
    thread.start()
    try:
        for repeat in range(3):
            for index, (data, keyframe) in enumerate(packets):
                work.decode(encoded(repeat * FRAMES + index, data, keyframe or index == 0))
    finally:
        stop.set()
        thread.join()
    assert len(done) > 5


def test_rtp_time_grows_across_a_wrap() -> None:
    clock = RtpClock()
    assert clock.ms(2**32 - 9000, 90000) == (2**32 - 9000) * 1000 // 90000
    assert clock.ms(0, 90000) == 2**32 * 1000 // 90000
