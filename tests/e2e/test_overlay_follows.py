"""The overlay stays on the device although AR state arrives a round trip late.

The server holds every AR state 150 ms before sending it (``serve --ar-delay-ms 150``), on top of
its own decoding and vision time, so a state reaches the pages some 300 ms after its frame was
captured, while the generated board clip moves its corners about 5 px a frame. The pages place
each state on the frame it was computed on and carry it forward to the frame on screen by
tracking the device in the page (docs/ar-in-the-page.md).

Many times over several seconds, one ``evaluate`` reads at the same instant the picture the
person sees (its frame number is in its pixels) and the outline the overlay drew
(``window.repairsight.ar.drawn``); the clip's truth says where that frame's corners are. The
newest state as it came (what the pages drew before) is measured at the same instants.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.clipgen import FRAME_CODE_BITS, FRAME_CODE_CELL_PX, read_frame_number
from tests.e2e.conftest import (
    Clip,
    RunningServer,
    TwoPages,
    customer_joins,
    e2e_server,
    open_console_for_new_case,
    wait_until,
)

PROCEDURE = "board-connector-reseat"
AR_DELAY_MS = 150  # the simulated round trip
# The target (issue): outline corner error on the frame the customer sees, in clip px (640x480).
MEDIAN_TARGET_PX = 4.0
P95_TARGET_PX = 10.0
SAMPLES = 160
SAMPLE_SPACING_MS = 37  # about 6 s of samples, out of step with the 30 fps clip
CODE_STRIP_WIDTH = (FRAME_CODE_BITS + 2) * FRAME_CODE_CELL_PX

# One synchronous block per sample: the picture on screen and the overlay drawn, at one instant.
SAMPLE_JS = """async ([testid, count, spacingMs, clipW, clipH, stripW, stripH]) => {
  const video = document.querySelector(`[data-testid="${testid}"]`);
  const canvas = document.createElement('canvas');
  canvas.width = clipW; canvas.height = clipH;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const copy = (s) => (s
    ? { seq: s.seq, found: s.found, outline: s.outline_frame_px, frame_size: s.frame_size }
    : null);
  const samples = [];
  for (let i = 0; i < count; i += 1) {
    await new Promise((r) => setTimeout(r, spacingMs * (0.5 + Math.random())));
    ctx.drawImage(video, 0, 0, clipW, clipH);
    const rgba = ctx.getImageData(0, clipH - stripH, stripW, stripH).data;
    const ar = window.repairsight.ar;
    const drawn = ar.drawn ? { ...ar.drawn } : null;
    const last = copy(ar.last);
    let grey = '';
    for (let k = 0; k < rgba.length; k += 4) {
      grey += String.fromCharCode(Math.round(0.299 * rgba[k] + 0.587 * rgba[k + 1] + 0.114 * rgba[k + 2]));
    }
    samples.push({ strip: btoa(grey), drawn, last });
  }
  return samples;
}"""
DRAWN_HOW = "() => (window.repairsight && window.repairsight.ar && window.repairsight.ar.drawn || {}).how"


@dataclass(frozen=True)
class Errors:
    """Corner errors (px) of every corner of every usable sample, the overlay's and the newest state's."""

    drawn: np.ndarray
    newest: np.ndarray
    samples: int
    tracked: int

    def line(self, page: str) -> str:
        return (
            f"{page}: {self.samples} samples ({self.tracked} carried forward): overlay drawn "
            f"median {np.median(self.drawn):.2f} px, p95 {np.percentile(self.drawn, 95):.2f} px; "
            f"newest state as it came median {np.median(self.newest):.2f} px, "
            f"p95 {np.percentile(self.newest, 95):.2f} px"
        )


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[RunningServer]:
    """The e2e server, holding every AR state AR_DELAY_MS before sending it."""
    with e2e_server(tmp_path, "--ar-delay-ms", str(AR_DELAY_MS)) as running:
        yield running


def corner_errors(
    outline: list[list[float]], frame_size: list[int], truth: np.ndarray, clip: Clip
) -> np.ndarray:
    """Distances (clip px) from an outline in a state's frame px to the true corners."""
    scale = np.array([clip.truth["width"] / frame_size[0], clip.truth["height"] / frame_size[1]])
    return np.linalg.norm(np.array(outline, dtype=float) * scale - truth, axis=1)


def measure(page: Any, testid: str, clip: Clip) -> Errors:
    width, height = clip.truth["width"], clip.truth["height"]
    samples = page.evaluate(
        SAMPLE_JS, [testid, SAMPLES, SAMPLE_SPACING_MS, width, height, CODE_STRIP_WIDTH, FRAME_CODE_CELL_PX]
    )
    drawn_errors: list[np.ndarray] = []
    newest_errors: list[np.ndarray] = []
    tracked = 0
    for sample in samples:
        strip = np.frombuffer(base64.b64decode(sample["strip"]), np.uint8).reshape(
            FRAME_CODE_CELL_PX, CODE_STRIP_WIDTH
        )
        number = read_frame_number(strip)
        drawn, last = sample["drawn"], sample["last"]
        if number is None or not drawn or not drawn["outline_frame_px"] or not last or not last["found"]:
            continue
        truth = np.array(clip.truth["frames"][number % clip.truth["num_frames"]]["corners"])
        drawn_errors.append(corner_errors(drawn["outline_frame_px"], drawn["frame_size"], truth, clip))
        newest_errors.append(corner_errors(last["outline"], last["frame_size"], truth, clip))
        tracked += drawn["how"] == "tracked"
    assert len(drawn_errors) >= SAMPLES // 2, (
        f"only {len(drawn_errors)} of {SAMPLES} samples showed the outline"
    )
    return Errors(np.concatenate(drawn_errors), np.concatenate(newest_errors), len(drawn_errors), tracked)


def test_the_overlay_stays_on_the_device_on_both_screens(
    slow_server: RunningServer, pages: TwoPages, board_clip: Clip
) -> None:
    expert, customer = pages.expert, pages.customer
    _, customer_url = open_console_for_new_case(expert, slow_server, "Overlay lags the board")
    expert.get_by_test_id("procedure-select").select_option(PROCEDURE)
    customer_joins(customer, customer_url)
    for page in (customer, expert):
        wait_until(lambda page=page: page.evaluate(DRAWN_HOW) == "tracked", 30, "the overlay carried forward")

    results = {"customer's preview": measure(customer, "local-video", board_clip)}
    results["expert's video"] = measure(expert, "remote-video", board_clip)
    for page, errors in results.items():
        print(errors.line(page))
    assert pages.errors == []

    preview = results["customer's preview"]
    # The round trip is real: on the preview, the newest state as it came is far from the device.
    # (The expert's own video trails the phone, so there the newest state is nearer; it is reported.)
    assert np.median(preview.newest) > 2 * MEDIAN_TARGET_PX, preview.line("customer's preview")
    for page, errors in results.items():
        assert errors.tracked >= 0.9 * errors.samples, errors.line(page)
        assert np.median(errors.drawn) <= MEDIAN_TARGET_PX, errors.line(page)
        assert np.percentile(errors.drawn, 95) <= P95_TARGET_PX, errors.line(page)
