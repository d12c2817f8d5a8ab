"""The customer page's weak-link rules (``client_web/js/link-adapt.js``) in Chromium: its decisions
against the shared vectors (``tests/data/link_adapt_vectors.json``), the sender parameters of each
level, and its ``link_quality`` message as the server's model reads it."""

from __future__ import annotations

import json
from typing import Any

from signaling import LinkReport, parse_client_message
from tests.e2e.conftest import RunningServer
from tests.server_process import REPO

VECTORS = json.loads((REPO / "tests" / "data" / "link_adapt_vectors.json").read_text())

DECIDE_JS = """async (vectors) => {
  const { decideLevel, initialLinkState } = await import('/static/js/link-adapt.js');
  return vectors.cases.map((c) => {
    let state = initialLinkState();
    return c.samples.map((sample, i) => {
      const d = decideLevel(state, sample, vectors.start_s + i * vectors.interval_s);
      state = d.state;
      return { level: d.level, weak: d.weak };
    });
  });
}"""

ENCODINGS_JS = """async (shortSide) => {
  const { VIDEO_LEVELS, videoEncoding } = await import('/static/js/link-adapt.js');
  return VIDEO_LEVELS.map((_, level) => videoEncoding(level, shortSide));
}"""

MESSAGES_JS = """async () => {
  const { linkQuality } = await import('/static/js/signaling.js');
  return [
    linkQuality(true, 3, { sentKbps: 131.4, videoFps: 9.66, width: 320, height: 240, lossFraction: 0.0421,
                           rttMs: 412.3, availableKbps: 148.9 }),
    linkQuality(false, 0, { sentKbps: null, videoFps: 0, width: 0, height: 0, lossFraction: null, rttMs: null,
                            availableKbps: null }),
    linkQuality(true, 42, { sentKbps: -1, videoFps: NaN, width: 320, height: 240, lossFraction: 3,
                            rttMs: Infinity, availableKbps: 1e12 }),
  ];
}"""


def site_page(server: RunningServer, browser: Any) -> Any:
    page = browser.new_page()
    page.goto(server.base_url + "/static/css/app.css")  # any page of the site: modules load from its origin
    return page


def test_the_pages_decisions_follow_the_shared_vectors(server: RunningServer, browser: Any) -> None:
    got = site_page(server, browser).evaluate(DECIDE_JS, VECTORS)
    for case, decisions in zip(VECTORS["cases"], got, strict=True):
        assert decisions == case["expected"], case["why"]
    assert len(VECTORS["cases"]) >= 7


def test_each_level_asks_for_less_video(server: RunningServer, browser: Any) -> None:
    # A 640x480 camera (the tests' fake one): the full video, then 480, 360 and 240 lines.
    levels = site_page(server, browser).evaluate(ENCODINGS_JS, 480)
    assert levels[0] == {"scaleResolutionDownBy": 1, "maxFramerate": None, "maxBitrate": None}
    assert [round(480 / level["scaleResolutionDownBy"]) for level in levels] == [480, 480, 360, 240]
    rates = [level["maxBitrate"] for level in levels[1:]]
    fps = [level["maxFramerate"] for level in levels[1:]]
    assert rates == sorted(rates, reverse=True) and fps == sorted(fps, reverse=True)
    assert levels[-1]["maxBitrate"] <= 100_000  # leaves room for the voice in 150 kbit/s


def test_the_pages_link_quality_messages_are_what_the_server_accepts(
    server: RunningServer, browser: Any
) -> None:
    weak, good, wild = site_page(server, browser).evaluate(MESSAGES_JS)
    report = parse_client_message(json.dumps(weak))
    assert report == LinkReport(
        weak=True,
        level=3,
        sent_kbps=131,
        video_fps=9.7,
        video_width=320,
        video_height=240,
        loss_pct=4.2,
        rtt_ms=412,
        available_kbps=149,
    )
    assert parse_client_message(json.dumps(good)) == LinkReport(weak=False, level=0)
    # Figures a browser should never give are clamped or left out, never refused.
    clamped = parse_client_message(json.dumps(wild))
    assert isinstance(clamped, LinkReport) and clamped.level == 9 and clamped.loss_pct == 100
    assert clamped.sent_kbps is None and clamped.rtt_ms is None and clamped.video_fps == 0
    assert clamped.available_kbps == 100_000_000
