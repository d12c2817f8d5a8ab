"""A live session's AR: the chosen procedure and its steps, the expert's marks, and vision's results.

The shell around ``signaling.steps.StepMachine`` and ``server.marks``: it starts the vision
worker when a procedure is chosen, sends every result to both peers over their ``ar`` data
channels (unordered, no retransmits: the newest wins), advances steps that vision completes,
and writes every AR event into the session's event log so playback can rebuild it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from signaling.messages import (
    Annotate,
    AnnotationAdded,
    AnnotationRemoved,
    ArStateUpdate,
    Pointer,
    PointerMove,
    ProcedureState,
    ProtocolError,
    ServerMessage,
    SessionAnnotation,
    SnapshotSaved,
)
from signaling.steps import Mover, StepMachine
from vision.annotations import Annotation
from vision.hands import HandsOptions, resolve_model_path
from vision.pipeline import ARPipeline, ARState

from ..blocking import run_blocking
from ..recordings.eventlog import EventLog
from ..recordings.files import RecordingFiles
from ..recordings.snapshots import write_snapshot
from ..records.tokens import new_id
from .marks import anchored_mark, check_points, pinned_mark
from .media.hub import SessionMedia
from .vision_worker import VisionResult, VisionWorker

if TYPE_CHECKING:
    from procedures import LoadedProcedure, ProcedureLibrary

logger = logging.getLogger(__name__)

RECENT_STATES = 300  # about 10 s at 30 fps: how far back a frozen frame's mark can be placed
MAX_MARKS = 200
DATA_CHANNEL_BACKLOG_BYTES = 256 * 1024  # above this a peer is not reading: skip, the next update wins
SNAPSHOT_WAIT_S = 2.0
AR_LOG_INTERVAL_S = 0.2  # AR summaries in the event log: enough for playback to redraw the overlay

Broadcast = Callable[[ServerMessage, str | None], Awaitable[None]]  # message, role (None: both)


@dataclass(frozen=True)
class FrameGeometry:
    homography: np.ndarray | None
    frame_size: tuple[int, int]


class ArSummaryPacer:
    """Decides which vision results go into the event log as ``ar`` summaries: one every
    ``interval_s``, and at once when the step changes or the device is found or lost, so a chapter
    starts with the device's place in it and playback never draws from a summary of another step."""

    def __init__(self, interval_s: float = AR_LOG_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last_at = 0.0
        self._last_key: tuple[str | None, bool] | None = None  # None: nothing logged yet

    def due(self, now_s: float, step_id: str | None, found: bool) -> bool:
        """Whether to log the result seen at ``now_s`` (monotonic); if so, it counts as logged."""
        key = (step_id, found)
        if key == self._last_key and now_s - self._last_at < self.interval_s:
            return False
        self._last_at, self._last_key = now_s, key
        return True


class ARSession:
    def __init__(
        self,
        session_id: str,
        media: SessionMedia,
        events: EventLog,
        files: RecordingFiles,
        library: ProcedureLibrary,
        broadcast: Broadcast,
    ) -> None:
        self.session_id = session_id
        self.media = media
        self.events = events
        self.files = files
        self.library = library
        self._broadcast = broadcast
        self.procedure: LoadedProcedure | None = None
        self.steps: StepMachine | None = None
        self.changed_by: Mover | None = None
        self.marks: dict[str, tuple[SessionAnnotation, Annotation | None]] = {}
        self.worker: VisionWorker | None = None
        self.channels: dict[str, Any] = {}
        self.burn_in = False
        self.last_result: VisionResult | None = None
        self._recent: deque[tuple[int, FrameGeometry]] = deque(maxlen=RECENT_STATES)
        self._generation = 0
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ar_pacer = ArSummaryPacer()

    # --- procedure and steps -------------------------------------------------------------

    def procedure_state(self) -> ProcedureState:
        return ProcedureState(
            procedure=self.procedure.to_json() if self.procedure else None,
            step_id=self.steps.current if self.steps else None,
            step_index=self.steps.index if self.steps else None,
            completed=list(self.steps.completed) if self.steps else [],
            changed_by=self.changed_by,
        )

    async def set_procedure(self, procedure_id: str | None, by: Mover) -> None:
        if procedure_id is None:
            self.procedure, self.steps = None, None
        else:
            loaded = self.library.procedures.get(procedure_id)
            if loaded is None:
                raise ProtocolError("unknown_procedure", f"there is no procedure {procedure_id!r}")
            self.procedure, self.steps = loaded, StepMachine(tuple(loaded.step_ids()))
        self.changed_by = by
        self.events.procedure_chosen(procedure_id, by)
        await self._restart_vision()
        await self._step_changed(by)

    async def step_command(self, action: str, step_id: str | None) -> None:
        if self.steps is None:
            raise ProtocolError("no_procedure", "choose a procedure first")
        if action == "next":
            changed = self.steps.next()
        elif action == "previous":
            changed = self.steps.previous()
        elif action == "jump":
            changed = self.steps.jump(step_id)
        else:
            done = self.steps.complete()
            self.events.step_completed(done, "expert")
            changed = True
        if changed:
            await self._step_changed("expert")

    async def _step_changed(self, by: Mover) -> None:
        self.changed_by = by
        if self.steps is not None:
            self.events.step_changed(self.steps.current, self.steps.index, by)
        self._apply_step()
        await self._broadcast(self.procedure_state(), None)

    def _apply_step(self) -> None:
        """Tell vision what to project and check: the step's marks, then the expert's anchored ones."""
        if self.worker is None or self.procedure is None or self.steps is None:
            return
        step = self.steps.current
        expert_marks = tuple(a for _, a in self.marks.values() if a is not None)
        annotations = tuple(self.procedure.step_annotations(step)) + expert_marks
        self._generation = self.worker.set_step(annotations, self.procedure.step_rule(step))

    # --- vision --------------------------------------------------------------------------

    async def _restart_vision(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await run_blocking(worker.stop)
        self._recent.clear()
        if self.procedure is None:
            self.media.decode_for_vision(self.burn_in)
            return
        self._loop = asyncio.get_running_loop()
        procedure = self.procedure
        self.worker = VisionWorker(
            self.session_id,
            lambda: ARPipeline(procedure.pipeline_options(hands=self._hands_available())),
            self.media.latest_frame,
            self._publish_from_thread,
        )
        self._apply_step()
        self.worker.start()
        self.media.decode_for_vision(True)

    @staticmethod
    def _hands_available() -> bool:
        """Hands need the model bundle built at install time; without it the rest of vision runs."""
        try:
            return resolve_model_path(HandsOptions()).exists()
        except OSError:
            return False

    def _publish_from_thread(self, result: VisionResult) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_result, result)

    def _on_result(self, result: VisionResult) -> None:
        if self.worker is None:
            return  # vision was stopped while this frame was in flight
        state = result.state
        self.last_result = result
        self._recent.append((state.timestamp_ms, FrameGeometry(state.homography, state.frame_size)))
        self._send_ar_state(state)
        self._log_ar_summary(result)
        if (
            state.step_completed
            and result.generation == self._generation
            and self.steps is not None
            and self.steps.current not in self.steps.completed
        ):
            done = self.steps.complete()
            self.events.step_completed(done, "vision", t_frame_ms=state.timestamp_ms)
            asyncio.ensure_future(self._step_changed("vision"))

    def _log_ar_summary(self, result: VisionResult) -> None:
        """Where the device was, a few times a second, on the recording's clock (``frame_t_ms``: when
        the frame arrived, which is where it sits in the recording), so playback and exports can
        draw the overlay from data rather than from burned-in pixels (``ArSummaryPacer`` says when)."""
        now = time.monotonic()
        recording_ms = self.events.now_ms()
        state = result.state
        step_id = self.steps.current if self.steps else None
        if recording_ms is None or not self._ar_pacer.due(now, step_id, state.found):
            return
        self.events.ar(
            frame_t_ms=recording_ms - int((now - result.received_at) * 1000),
            step_id=step_id,
            found=state.found,
            frame_size=state.frame_size,
            homography=None if state.homography is None else np.round(state.homography, 6).tolist(),
        )

    def _send_ar_state(self, state: ARState) -> None:
        self._seq += 1
        pinned = [kept for kept, anchored in self.marks.values() if anchored is None]
        body = state.to_dict()
        body.pop("step_events", None)
        body.pop("stage_ms", None)
        # Built without validation: the values come from vision and the session, 30 times a second.
        text = ArStateUpdate.model_construct(
            seq=self._seq, step_id=self.steps.current if self.steps else None, pinned=pinned, **body
        ).model_dump_json()
        for channel in list(self.channels.values()):
            if channel.readyState == "open" and channel.bufferedAmount < DATA_CHANNEL_BACKLOG_BYTES:
                channel.send(text)

    def add_channel(self, role: str, channel: Any) -> None:
        if channel.label == "ar":
            self.channels[role] = channel

    # --- the expert's tools --------------------------------------------------------------

    def _geometry_at(self, timestamp_ms: int | None) -> FrameGeometry | None:
        if timestamp_ms is None:
            return None
        for stamp, geometry in reversed(self._recent):
            if stamp == timestamp_ms:
                return geometry
        return None

    async def annotate(self, message: Annotate) -> None:
        check_points(message)
        if len(self.marks) >= MAX_MARKS:
            raise ProtocolError(
                "too_many_marks", f"a session keeps at most {MAX_MARKS} marks; remove some first"
            )
        step_id = self.steps.current if self.steps else None
        geometry = self._geometry_at(message.frame_timestamp_ms)
        mark_id = new_id()
        if geometry is not None and geometry.homography is not None:
            kept, anchored = anchored_mark(
                mark_id, message, geometry.homography, geometry.frame_size, step_id
            )
            self.marks[mark_id] = (kept, anchored)
            self._apply_step()
        else:
            if message.frame_timestamp_ms is not None and geometry is None and self.worker is not None:
                logger.debug(
                    "session %s: no AR state for frame %s; mark pinned",
                    self.session_id,
                    message.frame_timestamp_ms,
                )
            kept = pinned_mark(mark_id, message, step_id)
            self.marks[mark_id] = (kept, None)
        self.events.annotation_added(kept.model_dump(exclude_none=True))
        await self._broadcast(AnnotationAdded(annotation=kept), None)

    async def remove_annotation(self, mark_id: str) -> None:
        if self.marks.pop(mark_id, None) is None:
            raise ProtocolError("unknown_annotation", f"there is no mark {mark_id!r} in this session")
        self._apply_step()
        self.events.annotation_removed(mark_id)
        await self._broadcast(AnnotationRemoved(id=mark_id), None)

    async def pointer(self, message: PointerMove) -> None:
        width, height = message.frame_size
        if message.x_frame_px is None or message.y_frame_px is None:
            await self._broadcast(Pointer(x_fraction=None, y_fraction=None), "customer")
            return
        if (
            not (0 <= message.x_frame_px <= width and 0 <= message.y_frame_px <= height)
            or width <= 0
            or height <= 0
        ):
            raise ProtocolError("out_of_range", f"the pointer is outside the {width}x{height} frame")
        x, y = round(message.x_frame_px / width, 4), round(message.y_frame_px / height, 4)
        await self._broadcast(Pointer(x_fraction=x, y_fraction=y), "customer")

    async def snapshot(self) -> SnapshotSaved:
        """Save the full-resolution frame vision saw last (with its AR state) to the case."""
        image, state = await self._newest_picture()
        snapshot_id = new_id()
        t_ms = self.events.now_ms()
        step_id = self.steps.current if self.steps else None
        meta = {
            "id": snapshot_id,
            "t_ms": t_ms,
            "frame_timestamp_ms": state.timestamp_ms if state else None,
            "step_id": step_id,
            "ar_state": state.to_dict() if state else None,
        }
        try:
            await run_blocking(write_snapshot, self.files, snapshot_id, image, meta)
        except (OSError, ValueError) as exc:
            logger.warning("session %s: snapshot not saved: %s", self.session_id, exc)
            raise ProtocolError("snapshot_failed", f"the snapshot could not be saved: {exc}") from None
        found = bool(state and state.found)
        self.events.snapshot(snapshot_id, found, step_id)
        return SnapshotSaved(
            id=snapshot_id,
            url=f"/api/sessions/{self.session_id}/snapshots/{snapshot_id}.jpg",
            t_ms=t_ms,
            device_found=found,
        )

    async def _newest_picture(self) -> tuple[np.ndarray, ARState | None]:
        if self.last_result is not None:
            return self.last_result.image_bgr, self.last_result.state
        decoding = self.media.vision_decoder.wanted.is_set()
        self.media.decode_for_vision(True)
        try:
            decoded = await run_blocking(self.media.latest_frame.wait_newer, 0, SNAPSHOT_WAIT_S)
        finally:
            self.media.decode_for_vision(decoding)
        if decoded is None:
            raise ProtocolError("no_video", "there is no video from the customer yet to take a snapshot of")
        return decoded.frame.to_ndarray(format="bgr24"), None

    async def set_burn_in(self, enabled: bool) -> None:
        self.burn_in = enabled
        if enabled:
            self.media.decode_for_vision(True)
        await self.media.set_burn_in(enabled, self._burn_in_state)
        if not enabled and self.worker is None:
            self.media.decode_for_vision(False)
        self.events.burn_in(enabled)

    def _burn_in_state(self) -> ARState | None:
        return self.last_result.state if self.last_result is not None else None

    async def close(self) -> None:
        if self.worker is not None:
            worker, self.worker = self.worker, None
            await run_blocking(worker.stop)
