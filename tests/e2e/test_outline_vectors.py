"""The browser player's outline rule (``client_web/js/outline.js``) against the shared vectors that
``server/recordings/outline.py`` (exports) is tested on: the player and an exported MP4 place the
outline at the same point between two AR summaries."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import RunningServer, close
from tests.server_process import REPO

VECTORS = json.loads((REPO / "tests" / "data" / "outline_vectors.json").read_text())

PLACES_JS = """async (vectors) => {
  const { placeAt } = await import('/static/js/outline.js');
  return vectors.tracks.map((track) => track.queries.map((q) => placeAt(track.summaries, q.t_ms)));
}"""


def test_the_players_outline_rule_follows_the_shared_vectors(server: RunningServer, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.base_url + "/static/css/app.css")  # any page of the site: modules load from its origin
    places = page.evaluate(PLACES_JS, VECTORS)
    checked = 0
    for track, got in zip(VECTORS["tracks"], places, strict=True):
        for query, place in zip(track["queries"], got, strict=True):
            expected = query["expected"]
            if expected is None:
                assert place is None, query["why"]
            else:
                assert place is not None, query["why"]
                for key in ("homography", "frame_size", "step_id"):
                    assert close(expected[key], place[key], VECTORS["tolerance"]), (query["why"], key, place)
            checked += 1
    assert checked == sum(len(track["queries"]) for track in VECTORS["tracks"]) > 10
