"""What a recorded session's player needs, read from its event log: pure functions, no I/O.

The event log (``events.jsonl``, see ``server/eventlog.py``) is the AR layer's only source: the
recording carries the customer's picture, never burned-in marks. Times are ``t_ms``, ms since the
recording started, which is also the WebM's own clock: Chromium reports ``currentTime`` as the
file's timestamps (a recording whose first packet is at 1.9 s starts playing at 1.9 s), so
video seconds = ``t_ms / 1000`` with no offset (checked in ``tests/e2e/test_playback.py``).

Events logged before the recording started have ``t_ms: null``; what they set (the procedure,
the step, marks) is in force when the recording starts, so they count as time 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUT_OFF_LOG = "the event log's last line was cut off (the server stopped while writing it) and was skipped"


def event_ms(event: dict[str, Any]) -> int:
    """An event's place on the recording's clock; before the recording started counts as 0."""
    value = event.get("t_ms")
    return int(value) if isinstance(value, int | float) and value > 0 else 0


@dataclass
class Timeline:
    """The parts of an event log a player draws: steps, chat, marks, AR summaries."""

    procedure_ids: list[str] = field(default_factory=list)
    chapters: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    ar: list[dict[str, Any]] = field(default_factory=list)
    consent: bool | None = None
    recovered: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "chapters": self.chapters,
            "chat": self.chat,
            "marks": self.marks,
            "ar": self.ar,
        }


def _add_chapter(chapters: list[dict[str, Any]], chapter: dict[str, Any]) -> None:
    """A new step from this time on. Two changes at the same ms (procedure chosen, then its first
    step) leave the later one; the same step again is not a new chapter."""
    if chapters and chapters[-1]["t_ms"] == chapter["t_ms"]:
        chapters.pop()
    last = chapters[-1] if chapters else None
    if last is not None and (last["step_id"], last["procedure_id"]) == (
        chapter["step_id"],
        chapter["procedure_id"],
    ):
        return
    chapters.append(chapter)


def build_timeline(events: list[dict[str, Any]], step_titles: dict[tuple[str, str], str]) -> Timeline:
    """Chapters, chat, marks (with when each was added and removed) and the AR track of a log.

    ``step_titles``: (procedure id, step id) -> title, for the chapters' titles.
    """
    timeline = Timeline()
    procedure_id: str | None = None
    marks_by_id: dict[str, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        at_ms = event_ms(event)
        if kind == "procedure_chosen":
            chosen = event.get("procedure_id")
            procedure_id = chosen if isinstance(chosen, str) else None
            if procedure_id and procedure_id not in timeline.procedure_ids:
                timeline.procedure_ids.append(procedure_id)
            if procedure_id is None:
                _add_chapter(
                    timeline.chapters,
                    {
                        "step_id": None,
                        "procedure_id": None,
                        "title": "No procedure",
                        "t_ms": at_ms,
                        "by": event.get("by"),
                    },
                )
        elif kind == "step_changed" and isinstance(event.get("step_id"), str):
            step_id = event["step_id"]
            title = step_titles.get((procedure_id or "", step_id), step_id)
            _add_chapter(
                timeline.chapters,
                {
                    "step_id": step_id,
                    "procedure_id": procedure_id,
                    "index": event.get("index"),
                    "title": title,
                    "t_ms": at_ms,
                    "by": event.get("by"),
                },
            )
        elif kind == "chat" and isinstance(event.get("text"), str):
            timeline.chat.append(
                {
                    "id": event.get("id"),
                    "t_ms": at_ms,
                    "from_role": event.get("from_role"),
                    "text": event["text"],
                }
            )
        elif kind == "annotation_added" and isinstance(event.get("annotation"), dict):
            mark = {**event["annotation"], "added_t_ms": at_ms, "removed_t_ms": None}
            if isinstance(mark.get("id"), str):
                marks_by_id[mark["id"]] = mark
            timeline.marks.append(mark)
        elif kind == "annotation_removed" and event.get("id") in marks_by_id:
            marks_by_id[event["id"]]["removed_t_ms"] = at_ms
        elif kind == "ar" and isinstance(event.get("frame_t_ms"), int | float):
            timeline.ar.append(
                {
                    "t_ms": int(event["frame_t_ms"]),
                    "found": bool(event.get("found")),
                    "homography": event.get("homography"),
                    "frame_size": event.get("frame_size"),
                    "step_id": event.get("step_id"),
                }
            )
        elif kind == "consent":
            timeline.consent = bool(event.get("given"))
        elif kind == "session_ended" and event.get("recovered"):
            timeline.recovered = True
    timeline.ar.sort(key=lambda a: a["t_ms"])
    return timeline


def recording_warnings(
    status: str, duration_s: float | None, media_exists: bool, events_exist: bool, events_cut_off: bool
) -> list[str]:
    """What a trainer should know before trusting what the player shows."""
    warnings = []
    if status == "partial":
        ends = f": it ends at {duration_s:.1f} s" if duration_s is not None else ""
        warnings.append(f"the recording was cut off by a server stop{ends}")
    elif status == "declined":
        warnings.append("the customer declined the recording: there is no video, only the event log")
    elif status == "none":
        warnings.append("this session was not recorded (nobody consented, or no video arrived)")
    elif status == "recording":
        warnings.append("this session is still being recorded: the recording may end early")
    if status in ("complete", "partial") and not media_exists:
        warnings.append("the recording's file is missing from the server: only the event log can be shown")
    if not events_exist:
        warnings.append("this session has no event log: no steps, chat or marks to show")
    if events_cut_off:
        warnings.append(CUT_OFF_LOG)
    return warnings
