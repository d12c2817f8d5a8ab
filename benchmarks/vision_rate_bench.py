"""What rate keeps the overlay right, and what each rate costs: the live session's vision pace.

    .venv/bin/python benchmarks/vision_rate_bench.py [--frames N]

A live session does not run vision on every frame the phone sends (30 fps): the media worker takes
frames at ``Settings.vision_fps`` (and runs the hand model at ``hands_fps`` while a step checks a
touch). This benchmark measures, on the same frames in one run, for each rate from every frame (the
baseline) down:

* **CPU**: process time per processed frame and the share of one core the session's vision takes
  at a 30 fps input (process time of the whole clip / the clip's duration),
* **error at the stamps**: corner error of each result on the frame it was computed on (the
  generated board, exact truth): what playback and exports draw, since results are stamped with
  their frame,
* **held error**: every frame of the clip against the newest result so far (the outline a page
  would draw without carrying it forward), and
* **found**: frames with a result that found the device (the real hand-held box video has no
  truth; a rate that loses it more often shows here).

Frames are given to the pipeline as the worker gives them (a :class:`VideoImage` of the decoded
I420 planes) with the live session's options (``max_width_px`` 640, hands only on a touch step).
OpenCV is pinned to one thread. Timing lives here, never in the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.vision_bench import Clip, clips  # noqa: E402
from vision.frames import VideoImage  # noqa: E402
from vision.hands import HandsOptions  # noqa: E402
from vision.pacing import FramePacer  # noqa: E402
from vision.pipeline import ARPipeline, PipelineOptions  # noqa: E402

FPS = 30
RATES = (30.0, 15.0, 10.0, 7.5, 5.0)


@dataclass(frozen=True)
class Row:
    clip: str
    rate: str
    config: str
    ms_per_frame: float
    core_share: float
    stamp_error: tuple[float, float] | None
    held_error: tuple[float, float] | None
    found: str


def i420_images(frames: list[np.ndarray]) -> list[VideoImage]:
    return [VideoImage.from_i420(cv2.cvtColor(f, cv2.COLOR_BGR2YUV_I420)) for f in frames]


def pct(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    return float(np.median(values)), float(np.percentile(values, 95))


def run(
    clip: Clip,
    images: list[VideoImage],
    rate: float,
    hands_fps: float | None,
    options: PipelineOptions,
    config: str,
) -> Row:
    pacer, hands_pacer = FramePacer(rate), FramePacer(hands_fps)
    cpu_ms: list[float] = []
    stamp_errors: list[float] = []
    held_errors: list[float] = []
    processed = found = 0
    newest: np.ndarray | None = None
    total_cpu = 0.0
    with ARPipeline(options) as pipeline:
        for index, image in enumerate(images):
            t_ms = round(index * 1000 / FPS)
            if pacer.take(t_ms):
                look = hands_fps is not None and hands_pacer.take(t_ms)
                start = time.process_time()
                state = pipeline.process(image, t_ms, look_for_hands=look)
                spent = time.process_time() - start
                total_cpu += spent
                cpu_ms.append(spent * 1000)
                processed += 1
                newest = state.outline_frame_px if state.found else None
                if state.found:
                    found += 1
                    if clip.corners is not None and newest is not None:
                        stamp_errors.extend(np.linalg.norm(newest - clip.corners[index], axis=1))
            if clip.corners is not None and newest is not None:
                held_errors.extend(np.linalg.norm(newest - clip.corners[index], axis=1))
    duration_s = len(images) / FPS
    return Row(
        clip.name,
        "every frame" if rate >= FPS else f"{rate:g} fps",
        config,
        float(np.median(cpu_ms)),
        total_cpu / duration_s,
        pct(stamp_errors),
        pct(held_errors),
        f"{found}/{processed}",
    )


def cell(value: tuple[float, float] | None) -> str:
    return "    -     -" if value is None else f"{value[0]:5.2f} {value[1]:5.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=240, help="frames of the generated clip (default 240)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(
        "vision pace: one session's vision at a 30 fps input; OpenCV on 1 thread; ms = process time per "
        "processed frame (median); core = share of one core; errors in px (median p95)"
    )
    print(
        f"| {'clip':15} | {'rate':11} | {'configuration':30} "
        "| ms/frame | core  | at stamps   | held        | found     |"
    )
    print(f"|{'-' * 17}|{'-' * 13}|{'-' * 32}|{'-' * 10}|{'-' * 7}|{'-' * 13}|{'-' * 13}|{'-' * 11}|")
    for clip in clips(args.frames):
        images = i420_images(clip.frames)
        base = PipelineOptions(
            reference=clip.reference,
            hands_when="touch",
            max_width_px=640,
            hands_options=HandsOptions(num_hands=1),
        )
        configs: list[tuple[str, PipelineOptions, float | None]] = [
            ("locate", replace(base, hands=False), None),
            ("touch step: hands at 5 fps", replace(base, hands_when="always"), 5.0),
        ]
        for rate in RATES:
            for label, options, hands_fps in configs:
                if hands_fps is not None and rate not in (30.0, 10.0):
                    continue
                row = run(clip, images, rate, hands_fps, options, label)
                print(
                    f"| {row.clip:15} | {row.rate:11} | {row.config:30} | {row.ms_per_frame:8.1f} "
                    f"| {row.core_share * 100:4.1f}% | {cell(row.stamp_error)} | {cell(row.held_error)} "
                    f"| {row.found:9} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
