"""A live session's AR: the chosen procedure and its steps, the expert's marks, and vision's results.

The shell around ``signaling.steps.StepMachine`` and ``live/marks.py``. Vision, burn-in and snapshots
run in the session's media worker process (``live/workers``), reached through its channel: this
module tells it what to do (the procedure's options, the step, burn-in), sends every result to both
peers over their ``ar`` data channels (unordered, no retransmits: the newest wins), advances steps
that vision completes, and writes every AR event into the session's event log so playback can
rebuild it. When the worker dies, the expert is told, burn-in falls back to the phone's video, and
both come back when a new worker has the session.
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
    VisionStatus,
)
from signaling.steps import Mover, StepMachine
from vision.annotations import Annotation
from vision.hands import HandsOptions, resolve_model_path
from vision.pipeline import ARState

from ..blocking import run_blocking
from ..metrics import AR_LAG, AR_PAUSES, VISION_FRAMES
from ..recordings.eventlog import EventLog
from ..recordings.files import RecordingFiles
from ..recordings.snapshots import write_snapshot
from ..records.tokens import new_id
from .marks import anchored_mark, check_points, pinned_mark
from .media.hub import SessionMedia
from .workers.messages import BurnedFrame, VisionDone
from .workers.pool import MediaWorkers, SessionChannel, WorkerUnavailable

if TYPE_CHECKING:
    from procedures import LoadedProcedure, ProcedureLibrary

logger = logging.getLogger(__name__)

RECENT_STATES = 300  # about 10 s at 30 fps: how far back a frozen frame's mark can be placed
MAX_MARKS = 200
RTP_WRAP = 2**32
# Steps' overlay generations remembered for translating labels: a vision result comes back a few
# frames after its step was set, never many generations later.
GENERATIONS_KEPT = 16
DATA_CHANNEL_BACKLOG_BYTES = 256 * 1024  # above this a peer is not reading: skip, the next update wins
AR_LOG_INTERVAL_S = 0.2  # AR summaries in the event log: enough for playback to redraw the overlay

Broadcast = Callable[[ServerMessage, str | None], Awaitable[None]]  # message, role (None: both)


def translated_label(annotation: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """A projected annotation (``ProjectedAnnotation.to_dict()``) with its label in the customer's
    words when ``labels`` (the step's main-language texts -> translated) has it. An expert's mark
    keeps its text, unless it reads exactly like one of the step's labels."""
    label = annotation.get("label")
    if isinstance(label, str) and label in labels:
        return {**annotation, "label": labels[label]}
    return annotation


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
        workers: MediaWorkers,
        recording_ms_of_frame: Callable[[int], int | None] = lambda _rtp_timestamp: None,
        *,
        vision_width_px: int | None = None,
        ar_delay_ms: int = 0,
    ) -> None:
        self.session_id = session_id
        self.media = media
        self.events = events
        self.files = files
        self.library = library
        self._broadcast = broadcast
        self._workers = workers
        # The recording clock's ms of a received video frame, by its RTP timestamp (the recorder's rule).
        self._recording_ms_of_frame = recording_ms_of_frame
        self.procedure: LoadedProcedure | None = None
        self.steps: StepMachine | None = None
        self.changed_by: Mover | None = None
        self.marks: dict[str, tuple[SessionAnnotation, Annotation | None]] = {}
        self.channel: SessionChannel | None = None
        self.channels: dict[str, Any] = {}
        self.burn_in = False
        self.last_state: ARState | None = None
        self.worker_available = True
        self._recent: deque[tuple[int, FrameGeometry]] = deque(maxlen=RECENT_STATES)
        self._generation = 0
        # The step each generation of vision's annotations belongs to (labels are translated by it).
        self._step_of_generation: dict[int, str] = {}
        # The language the customer's page is shown in: its procedure texts and overlay labels follow
        # it (procedures/languages.py); the expert's stay in the procedure's main language.
        self.customer_language: str | None = None
        self._seq = 0
        self._ar_pacer = ArSummaryPacer()
        # Tests only: hold each AR state this long before sending it (a slow network's round trip).
        self.ar_delay_s = ar_delay_ms / 1000
        self._vision_width_px = vision_width_px

    # --- procedure and steps -------------------------------------------------------------

    def procedure_state(self, role: str = "expert") -> ProcedureState:
        """What ``role`` is told of the procedure: the customer in its language, the expert in the
        procedure's main one."""
        language = self.customer_language if role == "customer" else None
        return ProcedureState(
            procedure=self.procedure.to_json(language) if self.procedure else None,
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
        self._restart_vision()
        await self._step_changed(by)

    async def step_command(self, action: str, step_id: str | None, by: Mover = "expert") -> None:
        """``by``: the expert (their console), or the customer (a "Done" tap in self-help)."""
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
            self.events.step_completed(done, by)
            changed = True
        if changed:
            await self._step_changed(by)

    async def _step_changed(self, by: Mover) -> None:
        self.changed_by = by
        if self.steps is not None:
            self.events.step_changed(self.steps.current, self.steps.index, by)
        self._apply_step()
        for role in ("expert", "customer"):
            await self._broadcast(self.procedure_state(role), role)

    async def set_customer_language(self, language: str | None) -> None:
        """The customer's page is now in ``language``: its procedure texts again, in that language
        (its overlay labels follow from the next AR state)."""
        if language == self.customer_language:
            return
        self.customer_language = language
        if self.procedure is not None:
            await self._broadcast(self.procedure_state("customer"), "customer")

    def _apply_step(self) -> None:
        """Tell vision what to project and check: the step's marks, then the expert's anchored ones."""
        if self.channel is None or self.procedure is None or self.steps is None:
            return
        step = self.steps.current
        expert_marks = tuple(a for _, a in self.marks.values() if a is not None)
        annotations = tuple(self.procedure.step_annotations(step)) + expert_marks
        self._generation += 1
        self._step_of_generation[self._generation] = step
        self._step_of_generation.pop(self._generation - GENERATIONS_KEPT, None)
        self.channel.set_step(self._generation, annotations, self.procedure.step_rule(step))

    # --- vision (in the media worker) ------------------------------------------------------

    def _worker_channel(self) -> SessionChannel:
        """The session's channel to its media worker, opened when it first needs one."""
        if self.channel is None:
            self.channel = self._workers.channel(self.session_id, self)
            self.media.frame_sink = self.channel
            self.media.burn_in_keyframe = self.channel.burn_in_keyframe
        return self.channel

    def _restart_vision(self) -> None:
        self._recent.clear()
        self.last_state = None
        if self.procedure is None:
            if self.channel is not None:
                self.channel.set_vision(None)
            return
        channel = self._worker_channel()
        channel.set_vision(
            self.procedure.pipeline_options(
                hands=self._hands_available(),
                hands_when="touch",  # the only rule that needs hands (docs/vision.md, "Pace")
                max_width_px=self._vision_width_px,
            )
        )
        self._apply_step()

    @staticmethod
    def _hands_available() -> bool:
        """Hands need the model bundle built at install time; without it the rest of vision runs."""
        try:
            return resolve_model_path(HandsOptions()).exists()
        except OSError:
            return False

    def on_vision(self, done: VisionDone) -> None:
        if self.procedure is None:
            return  # vision was stopped while this frame was in flight
        state = done.state
        self.last_state = state
        self._recent.append((state.timestamp_ms, FrameGeometry(state.homography, state.frame_size)))
        self._send_ar_state(state, done.rtp_timestamp, done.generation)
        self._log_ar_summary(done)
        if (
            state.step_completed
            and done.generation == self._generation
            and self.steps is not None
            and self.steps.current not in self.steps.completed
        ):
            done_step = self.steps.complete()
            self.events.step_completed(done_step, "vision", t_frame_ms=self._frame_ms(done))
            asyncio.ensure_future(self._step_changed("vision"))

    def _frame_ms(self, done: VisionDone) -> int | None:
        """Where the frame vision worked on sits on the recording's clock."""
        return self._recording_ms_of_frame(done.rtp_timestamp)

    def _log_ar_summary(self, done: VisionDone) -> None:
        """Where the device was, a few times a second, stamped with the recording ms of the very frame
        it was computed on (the recorder's own mapping of that frame's RTP timestamp), so playback and
        exports draw the outline on the frame it belongs to (``ArSummaryPacer`` says when)."""
        state = done.state
        step_id = self.steps.current if self.steps else None
        frame_ms = self._frame_ms(done)
        if frame_ms is None or not self._ar_pacer.due(time.monotonic(), step_id, state.found):
            return
        self.events.ar(
            frame_t_ms=frame_ms,
            step_id=step_id,
            found=state.found,
            frame_size=state.frame_size,
            homography=None if state.homography is None else np.round(state.homography, 6).tolist(),
        )

    def _customer_labels(self, generation: int) -> dict[str, str]:
        """The labels of the step a vision result drew, as the customer reads them (main -> theirs)."""
        step = self._step_of_generation.get(generation)
        if self.procedure is None or step is None or self.customer_language is None:
            return {}
        return self.procedure.label_translations(self.customer_language, step)

    def _send_ar_state(self, state: ARState, rtp_timestamp: int, generation: int = 0) -> None:
        self._seq += 1
        pinned = [kept for kept, anchored in self.marks.values() if anchored is None]
        body = state.to_dict()
        body.pop("step_events", None)
        body.pop("stage_ms", None)
        newest = self.media.customer_video_rtp
        lag_ms = None if newest is None else ((newest - rtp_timestamp) % RTP_WRAP) // 90
        VISION_FRAMES.inc()
        if lag_ms is not None:
            AR_LAG.observe(lag_ms / 1000)
        fields: dict[str, Any] = {
            "seq": self._seq,
            "step_id": self.steps.current if self.steps else None,
            "pinned": pinned,
            "rtp_timestamp": self.media.customer_rtp_timestamp(rtp_timestamp),
            "stream_timestamp": self.media.expert_stream_timestamp(rtp_timestamp),
            "lag_ms": lag_ms,
        }
        # Built without validation: the values come from vision and the session, 30 times a second.
        text = ArStateUpdate.model_construct(**fields, **body).model_dump_json()
        texts = {"expert": text, "customer": text}
        labels = self._customer_labels(generation)
        if labels:
            # The customer reads the step's labels in its language; vision projected them once, in
            # the main language, for both screens (and the expert's burn-in), so they are swapped here.
            body["annotations"] = [translated_label(a, labels) for a in body["annotations"]]
            texts["customer"] = ArStateUpdate.model_construct(**fields, **body).model_dump_json()
        if self.ar_delay_s > 0:
            asyncio.get_running_loop().call_later(self.ar_delay_s, self._send_texts, texts)
        else:
            self._send_texts(texts)

    def _send_texts(self, texts: dict[str, str]) -> None:
        """Each role's AR state text on its ``ar`` channel (skipped when the peer is not reading)."""
        for role, channel in list(self.channels.items()):
            text = texts.get(role)
            if (
                text is not None
                and channel.readyState == "open"
                and channel.bufferedAmount < DATA_CHANNEL_BACKLOG_BYTES
            ):
                channel.send(text)

    def add_channel(self, role: str, channel: Any) -> None:
        if channel.label == "ar":
            self.channels[role] = channel

    # --- the media worker's news -----------------------------------------------------------

    def on_burned(self, frame: BurnedFrame) -> None:
        if self.burn_in:
            self.media.push_burned(frame.data, frame.rtp_timestamp, frame.keyframe)

    def on_keyframe_needed(self) -> None:
        self.media.request_keyframe()

    def on_fault(self, message: str) -> None:
        logger.warning("session %s: %s", self.session_id, message)
        AR_PAUSES.labels("vision_failed").inc()
        self.events.ar_paused(message)
        self._tell_expert(
            VisionStatus(state="failed", message=f"AR stopped: {message}. Pick the procedure again.")
        )

    def on_worker_lost(self, reason: str) -> None:
        self.worker_available = False
        AR_PAUSES.labels("worker_lost").inc()
        self.events.ar_paused(reason)
        if self.burn_in:
            self.media.set_burn_in(False)  # the phone's video meanwhile: the call goes on
        what = "AR and burn-in" if self.burn_in else "AR"
        self._tell_expert(
            VisionStatus(state="restarting", message=f"{what} stopped for a moment ({reason}); restarting")
        )

    def on_worker_back(self) -> None:
        self.worker_available = True
        self.events.ar_resumed()
        if self.burn_in:
            self.media.set_burn_in(True)
        self._tell_expert(VisionStatus(state="running", message="AR is back"))

    def _tell_expert(self, message: ServerMessage) -> None:
        asyncio.ensure_future(self._broadcast(message, "expert"))

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
            if message.frame_timestamp_ms is not None and geometry is None and self.procedure is not None:
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
        """Save the newest full-resolution frame to the case, clean and with the marks as the expert
        saw them, and its AR state."""
        pinned = tuple(
            kept.model_dump(exclude_none=True) for kept, anchored in self.marks.values() if anchored is None
        )
        try:
            taken = await self._worker_channel().snapshot(pinned)
        except (WorkerUnavailable, TimeoutError) as exc:
            raise ProtocolError("snapshot_failed", f"the snapshot could not be taken: {exc}") from None
        if taken.clean_jpeg is None or taken.marked_jpeg is None:
            raise ProtocolError("no_video", "there is no video from the customer yet to take a snapshot of")
        state = taken.state
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
            await run_blocking(
                write_snapshot, self.files, snapshot_id, taken.clean_jpeg, taken.marked_jpeg, meta
            )
        except OSError as exc:
            logger.warning("session %s: snapshot not saved: %s", self.session_id, exc)
            raise ProtocolError(
                "snapshot_failed", f"the snapshot could not be saved: {exc.strerror or exc}"
            ) from None
        found = bool(state and state.found)
        self.events.snapshot(snapshot_id, found, step_id)
        return SnapshotSaved(
            id=snapshot_id,
            url=f"/api/sessions/{self.session_id}/snapshots/{snapshot_id}-marked.jpg",
            clean_url=f"/api/sessions/{self.session_id}/snapshots/{snapshot_id}.jpg",
            t_ms=t_ms,
            device_found=found,
        )

    def set_burn_in(self, enabled: bool) -> None:
        if enabled == self.burn_in:
            return
        self.burn_in = enabled
        self._worker_channel().set_burn_in(enabled)
        if self.worker_available or not enabled:
            self.media.set_burn_in(enabled)
        self.events.burn_in(enabled)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.media.frame_sink = None
