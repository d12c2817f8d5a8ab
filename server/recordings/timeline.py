"""The timeline of a recorded session: one walk over its event log, read by everyone.

Which procedure and step were shown when (and the chapters they make), the chat, the expert's
marks with when each was added and removed, the AR summaries, the customer's consent at each join
(given, withdrawn, given again) and whether the session was cut off. The player API, exports
(chapters and burned-in overlays), the library's search index and the outcome analytics all read a
session through :func:`build_timeline`, so they cannot tell its story differently.

Times are ``t_ms``, ms on the recording's clock, which is also the WebM's own clock (Chromium
reports ``currentTime`` as the file's timestamps, so video seconds = ``t_ms / 1000``). Events
logged before the recording started count as time 0 (``eventlog.event_ms``). Wall-clock moments
(``at``) are kept beside them for figures that do not depend on a recording (time on a step).

Chapters (the rule the player and the ``.vtt`` share): a chapter starts at each step shown, and
at each moment the procedure was cleared ("No procedure"); two changes at the same ms (a
procedure chosen, then its first step) leave the later one; the same step again is not a new
chapter. A step's title is "N. Title" (its place in its procedure), or its id when its procedure
is not loaded. Until a ``procedure_chosen`` event says otherwise, the case's procedure is the one
in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from procedures import LoadedProcedure

from .eventlog import Event, EventType, event_at, event_ms, event_type

ProcedureLookup = Callable[[str], LoadedProcedure | None]
NO_PROCEDURE_TITLE = "No procedure"


@dataclass(frozen=True)
class Shown:
    """From ``t_ms`` on, this step of this procedure was shown (``step_id`` None: no procedure)."""

    t_ms: int
    at: datetime | None
    procedure_id: str | None
    step_id: str | None
    index: int | None
    by: str | None


@dataclass(frozen=True)
class ChatLine:
    id: str | None
    t_ms: int
    from_role: str | None
    text: str


@dataclass(frozen=True)
class MarkSpan:
    """An expert's mark (a ``SessionAnnotation`` as JSON) and when it was on screen."""

    annotation: dict[str, Any]
    added_t_ms: int
    removed_t_ms: int | None = None


@dataclass(frozen=True)
class ArSummary:
    """Where the device was in the frame at ``t_ms`` (``homography``: reference px -> frame px)."""

    t_ms: int
    found: bool
    homography: list[list[float]] | None
    frame_size: tuple[int, int] | None
    step_id: str | None


@dataclass(frozen=True)
class ConsentChange:
    """The customer's decision about the recording at one join (given, or declined/withdrawn)."""

    at: datetime | None
    t_ms: int
    given: bool


@dataclass(frozen=True)
class ProblemNote:
    """A page that could not take part, and why (its browser, in words)."""

    at: datetime | None
    t_ms: int
    role: str | None
    problem: str
    browser: str | None


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    procedure_id: str | None
    step_id: str | None
    index: int | None
    title: str
    by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "t_ms": self.start_ms,
            "end_ms": self.end_ms,
            "procedure_id": self.procedure_id,
            "step_id": self.step_id,
            "index": self.index,
            "title": self.title,
            "by": self.by,
        }


@dataclass
class Timeline:
    shown: list[Shown] = field(default_factory=list)
    procedure_ids: list[str] = field(default_factory=list)
    chat: list[ChatLine] = field(default_factory=list)
    marks: list[MarkSpan] = field(default_factory=list)
    ar: list[ArSummary] = field(default_factory=list)
    consent_changes: list[ConsentChange] = field(default_factory=list)
    problems: list[ProblemNote] = field(default_factory=list)
    recovered: bool = False
    ended_at: datetime | None = None
    last_t_ms: int = 0

    def chapters(self, end_ms: int, procedures: ProcedureLookup) -> list[Chapter]:
        """The chapters up to ``end_ms`` (the recording's end), titled through ``procedures``."""
        starts: list[Shown] = []
        for shown in self.shown:
            if starts and starts[-1].t_ms == shown.t_ms:
                starts.pop()
            if starts and (starts[-1].procedure_id, starts[-1].step_id) == (
                shown.procedure_id,
                shown.step_id,
            ):
                continue
            starts.append(shown)
        chapters = []
        for index, shown in enumerate(starts):
            end = min(starts[index + 1].t_ms if index + 1 < len(starts) else end_ms, end_ms)
            if end <= shown.t_ms:
                continue
            title = step_title(procedures, shown.procedure_id, shown.step_id)
            chapters.append(
                Chapter(shown.t_ms, end, shown.procedure_id, shown.step_id, shown.index, title, shown.by)
            )
        return chapters

    def seconds_on_steps(self, ended_at: datetime | None) -> dict[tuple[str | None, str], float]:
        """Wall-clock seconds on each (procedure, step): from its change to the next one, or to the
        session's end (its ``session_ended`` event, else ``ended_at``). A step shown twice adds up;
        steps of two procedures shown in one session stay apart."""
        end = self.ended_at or ended_at
        seconds: dict[tuple[str | None, str], float] = {}
        for index, shown in enumerate(self.shown):
            if shown.step_id is None or shown.at is None:
                continue
            stop = self.shown[index + 1].at if index + 1 < len(self.shown) else end
            spent = max((stop - shown.at).total_seconds(), 0.0) if stop is not None else 0.0
            key = (shown.procedure_id, shown.step_id)
            seconds[key] = seconds.get(key, 0.0) + spent
        return seconds


def step_title(procedures: ProcedureLookup, procedure_id: str | None, step_id: str | None) -> str:
    if step_id is None:
        return NO_PROCEDURE_TITLE
    procedure = procedures(procedure_id) if procedure_id else None
    if procedure is None or step_id not in procedure.step_ids():
        return step_id
    number = procedure.step_ids().index(step_id) + 1
    return f"{number}. {procedure.step(step_id).title}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _frame_size(value: Any) -> tuple[int, int] | None:
    try:
        width, height = int(value[0]), int(value[1])
    except (TypeError, ValueError, IndexError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def build_timeline(events: list[Event], default_procedure_id: str | None = None) -> Timeline:
    """The timeline of a log. ``default_procedure_id``: the case's procedure, in force until the log
    names one (logs always do today; older or hand-made ones may not)."""
    timeline = Timeline()
    procedure_id = default_procedure_id
    marks_by_id: dict[str, int] = {}
    for event in events:
        kind = event_type(event)
        at_ms = event_ms(event)
        timeline.last_t_ms = max(timeline.last_t_ms, at_ms)
        if kind == EventType.PROCEDURE_CHOSEN:
            procedure_id = _text(event.get("procedure_id"))
            if procedure_id and procedure_id not in timeline.procedure_ids:
                timeline.procedure_ids.append(procedure_id)
            if procedure_id is None:
                timeline.shown.append(Shown(at_ms, event_at(event), None, None, None, _text(event.get("by"))))
        elif kind == EventType.STEP_CHANGED and isinstance(event.get("step_id"), str):
            index = event.get("index")
            timeline.shown.append(
                Shown(
                    at_ms,
                    event_at(event),
                    procedure_id,
                    event["step_id"],
                    index if isinstance(index, int) and not isinstance(index, bool) else None,
                    _text(event.get("by")),
                )
            )
        elif kind == EventType.CHAT and isinstance(event.get("text"), str):
            timeline.chat.append(
                ChatLine(_text(event.get("id")), at_ms, _text(event.get("from_role")), event["text"])
            )
        elif kind == EventType.ANNOTATION_ADDED and isinstance(event.get("annotation"), dict):
            mark = event["annotation"]
            if isinstance(mark.get("id"), str):
                marks_by_id[mark["id"]] = len(timeline.marks)
            timeline.marks.append(MarkSpan(mark, at_ms))
        elif kind == EventType.ANNOTATION_REMOVED and event.get("id") in marks_by_id:
            position = marks_by_id.pop(event["id"])
            span = timeline.marks[position]
            timeline.marks[position] = MarkSpan(span.annotation, span.added_t_ms, at_ms)
        elif kind == EventType.AR and isinstance(event.get("frame_t_ms"), int | float):
            raw = event.get("homography")
            timeline.ar.append(
                ArSummary(
                    event_ms(event, "frame_t_ms"),
                    bool(event.get("found")),
                    raw if isinstance(raw, list) else None,
                    _frame_size(event.get("frame_size")),
                    _text(event.get("step_id")),
                )
            )
        elif kind == EventType.CLIENT_PROBLEM and isinstance(event.get("problem"), str):
            timeline.problems.append(
                ProblemNote(
                    event_at(event),
                    at_ms,
                    _text(event.get("role")),
                    event["problem"],
                    _text(event.get("browser")),
                )
            )
        elif kind == EventType.CONSENT:
            timeline.consent_changes.append(ConsentChange(event_at(event), at_ms, bool(event.get("given"))))
        elif kind == EventType.SESSION_ENDED:
            timeline.ended_at = event_at(event)
            timeline.recovered = timeline.recovered or bool(event.get("recovered"))
    timeline.ar.sort(key=lambda summary: summary.t_ms)
    return timeline
