"""Step chapters as a WebVTT chapters file (https://www.w3.org/TR/webvtt1/), for exports."""

from __future__ import annotations

from collections.abc import Sequence

from .timeline import Chapter


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
