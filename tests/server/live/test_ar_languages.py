"""A live session's AR in the customer's language, without media: the ``procedure`` messages of each
side, and the labels of the projected marks on each side's ``ar`` channel (the customer's translated
by the step the vision result was computed for, the expert's in the procedure's main language)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from procedures import ProcedureLibrary
from server.live.ar import ARSession
from server.live.workers.messages import VisionDone
from signaling.messages import ProcedureState, ServerMessage
from vision.pipeline import ARState
from vision.projection import ProjectedAnnotation

PROCEDURE = "board-connector-reseat"


class Anything:
    """What the session's media and event log would be: every call is accepted and ignored."""

    customer_video_rtp = None

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def customer_rtp_timestamp(self, rtp_timestamp: int) -> int:
        return rtp_timestamp

    def expert_stream_timestamp(self, rtp_timestamp: int) -> int:
        return rtp_timestamp


class FakeWorkerChannel:
    """The media worker's end: remembers each step generation it was told."""

    def __init__(self) -> None:
        self.generations: list[int] = []

    def set_vision(self, options: object) -> None:
        pass

    def set_step(self, generation: int, annotations: object, rule: object) -> None:
        self.generations.append(generation)

    def burn_in_keyframe(self) -> None:
        pass


class FakeWorkers:
    def __init__(self) -> None:
        self.channel_made = FakeWorkerChannel()

    def channel(self, session_id: str, listener: object) -> FakeWorkerChannel:
        return self.channel_made


class FakeDataChannel:
    """An open ``ar`` data channel that keeps what is sent on it."""

    label = "ar"
    readyState = "open"  # noqa: N815 - W3C name
    bufferedAmount = 0  # noqa: N815 - W3C name

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def mark(kind: str, label: str | None) -> ProjectedAnnotation:
    points = np.array([[10.0, 10.0], [60.0, 10.0], [60.0, 40.0], [10.0, 40.0]])
    return ProjectedAnnotation(kind, points, True, label, points[0].copy())


def vision_result(generation: int, *annotations: ProjectedAnnotation) -> VisionDone:
    state = ARState(
        timestamp_ms=1000,
        frame_size=(640, 480),
        found=True,
        source="features",
        homography=np.eye(3),
        outline_frame_px=None,
        inliers=50,
        reason="",
        annotations=annotations,
        target_frame_px=None,
        hands=(),
        step_events=(),
        step_completed=False,
        stage_ms={},
    )
    return VisionDone("s1", generation, state, rtp_timestamp=90_000)


def session_with_channels(
    broadcast: Callable[[ServerMessage, str | None], Awaitable[None]], workers: FakeWorkers
) -> tuple[ARSession, FakeDataChannel, FakeDataChannel]:
    """An AR session of the built-in procedures, with both sides' ``ar`` channels open."""
    nothing: Any = Anything()
    media_workers: Any = workers
    ar = ARSession("s1", nothing, nothing, nothing, ProcedureLibrary.with_builtin(), broadcast, media_workers)
    expert, customer = FakeDataChannel(), FakeDataChannel()
    ar.add_channel("expert", expert)
    ar.add_channel("customer", customer)
    return ar, expert, customer


def labels(channel: FakeDataChannel) -> list[str | None]:
    return [a["label"] for a in channel.sent[-1]["annotations"]]


def test_each_side_reads_the_procedure_and_the_overlay_labels_in_its_language() -> None:
    told: list[tuple[ServerMessage, str | None]] = []

    async def broadcast(message: ServerMessage, role: str | None) -> None:
        told.append((message, role))

    workers = FakeWorkers()
    ar, expert, customer = session_with_channels(broadcast, workers)
    ar.customer_language = "de"

    async def scenario() -> None:
        await ar.set_procedure(PROCEDURE, "expert")
        first_step = workers.channel_made.generations[-1]
        states = {role: message for message, role in told if isinstance(message, ProcedureState)}
        assert states["expert"].procedure is not None and states["customer"].procedure is not None
        assert states["expert"].procedure["steps"][0]["title"] == "Find the board"
        assert states["customer"].procedure["steps"][0]["title"] == "Platine finden"

        # The step's label, and an expert's mark with a text of its own.
        ar.on_vision(vision_result(first_step, mark("rect", "U4 (CREATIVE chip)"), mark("label", "loose?")))
        assert labels(expert) == ["U4 (CREATIVE chip)", "loose?"]
        assert labels(customer) == ["U4 (CREATIVE-Chip)", "loose?"]
        assert {k: v for k, v in customer.sent[-1].items() if k != "annotations"} == {
            k: v for k, v in expert.sent[-1].items() if k != "annotations"
        }

        # The next step: a result vision computed for the step before is still translated by that
        # step's labels, one for the new step by the new step's.
        await ar.step_command("next", None)
        ar.on_vision(vision_result(first_step, mark("rect", "U4 (CREATIVE chip)")))
        assert labels(customer) == ["U4 (CREATIVE-Chip)"]
        second_step = workers.channel_made.generations[-1]
        ar.on_vision(vision_result(second_step, mark("rect", "J5"), mark("rect", "X1 crystal")))
        assert labels(customer) == ["J5", "Quarz X1"]
        assert labels(expert) == ["J5", "X1 crystal"]

        # The picker: the customer is sent the procedure again, and the labels follow.
        told.clear()
        await ar.set_customer_language("ar")
        [(again, role)] = told
        assert role == "customer" and isinstance(again, ProcedureState) and again.procedure is not None
        assert again.procedure["steps"][1]["title"] == "اعثر على الموصل J5"
        assert again.step_id == "find-header"
        ar.on_vision(vision_result(second_step, mark("rect", "X1 crystal")))
        assert labels(customer) == ["البلورة X1"]
        assert labels(expert) == ["X1 crystal"]

    asyncio.run(scenario())


def test_a_customer_without_a_translation_gets_the_same_state_as_the_expert() -> None:
    async def broadcast(message: ServerMessage, role: str | None) -> None:
        pass

    workers = FakeWorkers()
    ar, expert, customer = session_with_channels(broadcast, workers)
    ar.customer_language = "ja"

    async def scenario() -> None:
        await ar.set_procedure(PROCEDURE, "expert")
        ar.on_vision(vision_result(workers.channel_made.generations[-1], mark("rect", "U4 (CREATIVE chip)")))

    asyncio.run(scenario())
    assert customer.sent == expert.sent and labels(customer) == ["U4 (CREATIVE chip)"]
