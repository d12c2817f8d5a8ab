"""What to draw on a recorded frame at time t: the AR layer rebuilt from a session's timeline.

Exports (and anything else that redraws a session) read the overlay from data, not from pixels:
``outline.DeviceTrack`` says where the device was, the timeline which procedure and step were shown
and which of the expert's anchored marks were alive. Every time here is ms on the recording's clock.
The step's touch target is placed as the live pipeline places it (``vision.steps.target_frame_px``),
so burned-in labels keep off it in an export as they do live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.annotations import Annotation, annotation_from_shape
from vision.geometry import points_in_front, project_points, reference_corners
from vision.projection import ProjectedAnnotation, project_annotations
from vision.steps import TouchRule, target_frame_px
from vision.types import FloatArray

from .outline import DeviceTrack
from .timeline import ProcedureLookup, Timeline

NEVER_MS = 2**62  # removal time of a mark never removed


@dataclass(frozen=True)
class Overlay:
    """What to draw on one frame, in that frame's pixels. ``target_frame_px``: the step's touch
    target (not drawn; labels keep off it), None when the step has none or it is not in view."""

    outline_frame_px: FloatArray
    annotations: tuple[ProjectedAnnotation, ...]
    target_frame_px: FloatArray | None = None


def mark_annotation(mark: dict[str, Any]) -> Annotation | None:
    """An anchored ``SessionAnnotation`` (``docs/protocol.md``) as the vision annotation it was drawn
    as; None for pinned or malformed marks."""
    points = mark.get("points_ref_px")
    if not mark.get("anchored") or not isinstance(points, list) or not points:
        return None
    try:
        text = str(mark.get("text") or "").strip() or "note"
        return annotation_from_shape(str(mark.get("shape")), points, text)
    except (TypeError, ValueError, IndexError):
        return None


class Replay:
    """A recording's AR layer, asked frame by frame. ``procedures`` finds a procedure by id."""

    def __init__(self, timeline: Timeline, procedures: ProcedureLookup) -> None:
        self.timeline = timeline
        self._lookup = procedures
        self._device = DeviceTrack(timeline.ar)
        self._marks: list[tuple[int, int, Annotation]] = []
        for span in timeline.marks:
            annotation = mark_annotation(span.annotation)
            if annotation is not None:
                removed = NEVER_MS if span.removed_t_ms is None else span.removed_t_ms
                self._marks.append((span.added_t_ms, removed, annotation))

    def shown_at(self, t_ms: float) -> tuple[str | None, str | None]:
        """The procedure and step shown at ``t_ms`` (None, None before the first)."""
        current: tuple[str | None, str | None] = (None, None)
        for shown in self.timeline.shown:
            if shown.t_ms > t_ms:
                break
            current = (shown.procedure_id, shown.step_id)
        return current

    def marks_at(self, t_ms: float) -> tuple[Annotation, ...]:
        return tuple(a for added, removed, a in self._marks if added <= t_ms < removed)

    def overlay_at(self, t_ms: float, frame_size: tuple[int, int]) -> Overlay | None:
        """The device outline, the annotations (the step's and the expert's anchored marks) and the
        step's touch target in the pixels of a frame of ``frame_size`` at ``t_ms``; None when there is
        nothing to anchor them to."""
        place = self._device.place_at(t_ms)
        if place is None:
            return None
        procedure_id, step_id = self.shown_at(t_ms)
        procedure = self._lookup(procedure_id) if procedure_id else None
        if procedure is None:
            return None
        homography = place.homography
        if place.frame_size != frame_size:
            scale = np.diag([frame_size[0] / place.frame_size[0], frame_size[1] / place.frame_size[1], 1.0])
            homography = scale @ homography
        corners = reference_corners(*procedure.reference_size)
        if not points_in_front(homography, corners):
            return None
        annotations: Sequence[Annotation] = ()
        target = None
        if step_id is not None and step_id in procedure.step_ids():
            annotations = procedure.step_annotations(step_id)
            rule = procedure.step_rule(step_id)
            if isinstance(rule, TouchRule):
                target = target_frame_px(rule, homography)
        projected = project_annotations(tuple(annotations) + self.marks_at(t_ms), homography)
        return Overlay(project_points(homography, corners), projected, target)
