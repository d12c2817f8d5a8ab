"""Where the device is between two AR summaries, against the vectors the browser player is tested on too
(``tests/e2e/test_outline_vectors.py`` runs the same file through ``client_web/js/outline.js``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from server.recordings.outline import DeviceTrack
from server.recordings.timeline import ArSummary

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "data" / "outline_vectors.json").read_text())


def summaries(raw: list[dict[str, Any]]) -> list[ArSummary]:
    return [
        ArSummary(s["t_ms"], s["found"], s["homography"], tuple(s["frame_size"]), s["step_id"])  # type: ignore[arg-type]
        for s in raw
    ]


CASES = [
    pytest.param(track["summaries"], query, id=query["why"])
    for track in VECTORS["tracks"]
    for query in track["queries"]
]


@pytest.mark.parametrize(("raw", "query"), CASES)
def test_the_outline_between_summaries_follows_the_shared_vectors(
    raw: list[dict[str, Any]], query: dict[str, Any]
) -> None:
    place = DeviceTrack(summaries(raw)).place_at(query["t_ms"])
    expected = query["expected"]
    if expected is None:
        assert place is None
        return
    assert place is not None
    np.testing.assert_allclose(place.homography, expected["homography"], atol=VECTORS["tolerance"])
    assert list(place.frame_size) == expected["frame_size"]
    assert place.step_id == expected["step_id"]


def test_the_vectors_cover_every_branch_of_the_rule() -> None:
    whys = " ".join(q["why"] for track in VECTORS["tracks"] for q in track["queries"])
    for branch in ("before the first", "did not find", "another frame size", "STALE_MS old", "normalised"):
        assert branch in whys
