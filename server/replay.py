"""A recording's event log replayed on the recording clock: which step when, and what to draw at t.

Exports (and anything else that redraws a session) read the overlay from data, not from pixels:
the ``ar`` summaries say where the device was about 5 times a second (``frame_t_ms``, reference
px -> frame px homography), ``step_changed`` which step was shown, ``annotation_added`` /
``annotation_removed`` which of the expert's anchored marks were alive. Every time here is ms
since the recording started, the clock of the WebM's timestamps (``docs/media.md``); events
logged before the recording started (``t_ms`` null) count as time 0.

Between two ``ar`` summaries the homography is interpolated (entry by entry, after normalising
``H[2, 2]`` to 1): at 5 Hz the latest summary alone lags a moving phone by up to 200 ms, which
shows as an outline sliding behind the device. A summary older than ``STALE_MS`` is not used.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from procedures import LoadedProcedure
from vision.annotations import Annotation
from vision.geometry import points_in_front, project_points, reference_corners
from vision.projection import ProjectedAnnotation, project_annotations
from vision.types import FloatArray

from .marks import annotation_from_points

STALE_MS = 1000
NEVER_MS = 2**62  # removal time of a mark never removed
ProcedureLookup = Callable[[str], LoadedProcedure | None]


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    step_id: str
    title: str


@dataclass(frozen=True)
class Overlay:
    """What to draw on one frame, in that frame's pixels."""

    outline_frame_px: FloatArray
    annotations: tuple[ProjectedAnnotation, ...]


@dataclass(frozen=True)
class _ArSample:
    t_ms: int
    homography: FloatArray | None
    frame_size: tuple[int, int]
    step_id: str | None


def _t(event: dict[str, Any], key: str = "t_ms") -> int:
    value = event.get(key)
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else 0


def mark_annotation(mark: dict[str, Any]) -> Annotation | None:
    """An anchored ``SessionAnnotation`` (``docs/protocol.md``) as the vision annotation it was drawn
    as; None for pinned or malformed marks."""
    points = mark.get("points_ref_px")
    if not mark.get("anchored") or not isinstance(points, list) or not points:
        return None
    try:
        text = str(mark.get("text") or "").strip() or "note"
        return annotation_from_points(str(mark.get("shape")), points, text)
    except (TypeError, ValueError, IndexError):
        return None


class EventReplay:
    """The event log of one recording, indexed by time. ``procedures`` finds a procedure by id;
    ``default_procedure_id`` (the case's) is used until a ``procedure_chosen`` event says otherwise."""

    def __init__(
        self,
        events: Iterable[dict[str, Any]],
        procedures: ProcedureLookup,
        default_procedure_id: str | None = None,
    ) -> None:
        self._lookup = procedures
        self._procedure_changes: list[tuple[int, str | None]] = [(-1, default_procedure_id)]
        self.step_changes: list[tuple[int, str | None]] = []
        self._ar: list[_ArSample] = []
        self._marks: dict[str, tuple[int, int, Annotation]] = {}
        for event in events:
            kind = event.get("type")
            if kind == "procedure_chosen":
                self._procedure_changes.append((_t(event), event.get("procedure_id")))
            elif kind == "step_changed":
                self.step_changes.append((_t(event), event.get("step_id")))
            elif kind == "ar":
                self._add_ar(event)
            elif kind == "annotation_added" and isinstance(event.get("annotation"), dict):
                mark = event["annotation"]
                annotation = mark_annotation(mark)
                if annotation is not None:
                    self._marks[str(mark.get("id"))] = (_t(event), NEVER_MS, annotation)
            elif kind == "annotation_removed" and str(event.get("id")) in self._marks:
                added, _, annotation = self._marks[str(event.get("id"))]
                self._marks[str(event.get("id"))] = (added, _t(event), annotation)
        self._ar.sort(key=lambda sample: sample.t_ms)
        self._ar_times = [sample.t_ms for sample in self._ar]

    def _add_ar(self, event: dict[str, Any]) -> None:
        size = event.get("frame_size")
        raw = event.get("homography")
        try:
            frame_size = (int(size[0]), int(size[1]))  # type: ignore[index]
            homography = None if raw is None else np.asarray(raw, dtype=np.float64).reshape(3, 3)
        except (TypeError, ValueError, IndexError):
            return
        if homography is not None and (not np.all(np.isfinite(homography)) or abs(homography[2, 2]) < 1e-12):
            homography = None
        self._ar.append(_ArSample(_t(event, "frame_t_ms"), homography, frame_size, event.get("step_id")))

    # --- what was shown when ------------------------------------------------------------------

    def procedure_at(self, t_ms: int) -> LoadedProcedure | None:
        procedure_id = None
        for start, pid in self._procedure_changes:
            if start <= t_ms:
                procedure_id = pid
        return self._lookup(procedure_id) if procedure_id else None

    def step_at(self, t_ms: int) -> str | None:
        step = None
        for start, step_id in self.step_changes:
            if start <= t_ms:
                step = step_id
        return step

    def chapters(self, end_ms: int) -> list[Chapter]:
        """One chapter per step shown, from its ``step_changed`` to the next (or ``end_ms``)."""
        chapters: list[Chapter] = []
        changes = [(max(t, 0), step) for t, step in self.step_changes]
        for index, (start, step_id) in enumerate(changes):
            end = changes[index + 1][0] if index + 1 < len(changes) else end_ms
            end = min(end, end_ms)
            if step_id is None or end <= start:
                continue
            if chapters and chapters[-1].step_id == step_id and chapters[-1].end_ms == start:
                chapters[-1] = Chapter(chapters[-1].start_ms, end, step_id, chapters[-1].title)
                continue
            chapters.append(Chapter(start, end, step_id, self.step_title(start, step_id)))
        return chapters

    def step_title(self, t_ms: int, step_id: str) -> str:
        procedure = self.procedure_at(t_ms)
        if procedure is None or step_id not in procedure.step_ids():
            return step_id
        number = procedure.step_ids().index(step_id) + 1
        return f"{number}. {procedure.step(step_id).title}"

    # --- the overlay --------------------------------------------------------------------------

    def geometry_at(self, t_ms: float) -> tuple[FloatArray, tuple[int, int], str | None] | None:
        """The device homography at ``t_ms`` (interpolated between summaries), its frame size and the
        step the summary names; None when the device was not located or the last summary is stale."""
        index = bisect.bisect_right(self._ar_times, t_ms) - 1
        if index < 0:
            return None
        before = self._ar[index]
        if before.homography is None or t_ms - before.t_ms > STALE_MS:
            return None
        homography = before.homography / before.homography[2, 2]
        if index + 1 < len(self._ar):
            after = self._ar[index + 1]
            span = after.t_ms - before.t_ms
            if (
                after.homography is not None
                and 0 < span <= STALE_MS
                and after.frame_size == before.frame_size
            ):
                alpha = (t_ms - before.t_ms) / span
                homography = (1 - alpha) * homography + alpha * (after.homography / after.homography[2, 2])
        return homography, before.frame_size, before.step_id

    def marks_at(self, t_ms: float) -> tuple[Annotation, ...]:
        return tuple(a for added, removed, a in self._marks.values() if added <= t_ms < removed)

    def overlay_at(self, t_ms: float, frame_size: tuple[int, int]) -> Overlay | None:
        """The device outline and the annotations (the step's and the expert's anchored marks) in the
        pixels of a frame of ``frame_size`` at ``t_ms``; None when there is nothing to anchor them to."""
        geometry = self.geometry_at(t_ms)
        if geometry is None:
            return None
        homography, ar_size, ar_step = geometry
        procedure = self.procedure_at(int(t_ms))
        if procedure is None:
            return None
        if ar_size != frame_size and ar_size[0] > 0 and ar_size[1] > 0:
            scale = np.diag([frame_size[0] / ar_size[0], frame_size[1] / ar_size[1], 1.0])
            homography = scale @ homography
        corners = reference_corners(*procedure.reference_size)
        if not points_in_front(homography, corners):
            return None
        step_id = ar_step or self.step_at(int(t_ms))
        annotations: Sequence[Annotation] = ()
        if step_id is not None and step_id in procedure.step_ids():
            annotations = procedure.step_annotations(step_id)
        projected = project_annotations(tuple(annotations) + self.marks_at(t_ms), homography)
        return Overlay(project_points(homography, corners), projected)


def webvtt_timestamp(ms: int) -> str:
    hours, rest = divmod(max(ms, 0), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def chapters_webvtt(chapters: Sequence[Chapter]) -> str:
    """A WebVTT chapters file (https://www.w3.org/TR/webvtt1/): one cue per step, its title as text."""
    lines = ["WEBVTT", ""]
    for index, chapter in enumerate(chapters, start=1):
        title = " ".join(chapter.title.replace("-->", "->").split())
        lines += [
            f"step-{index}",
            f"{webvtt_timestamp(chapter.start_ms)} --> {webvtt_timestamp(chapter.end_ms)}",
            title,
            "",
        ]
    return "\n".join(lines)
