"""``repairsight vision ...``: check a reference photo or a video from outside the code.

    python -m vision.cli check REFERENCE VIDEO [--out FILE.jsonl] [--detect-every N] [--no-track]
                                               [--lost-detect-every N]
    python -m vision.cli hands IMAGE_OR_VIDEO [--out FILE.jsonl] [--lite] [--model PATH]
    python -m vision.cli mat OUT.pdf|OUT.png

One JSON object per frame (OpenCV pixel convention: x right, y down, the centre of the top-left
pixel is (0, 0)), on stdout or in ``--out``; then a summary, on stderr when the frames go to
stdout so that stdout stays machine-readable. The per-frame format is stable; see docs/vision.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from vision.device import DeviceFollower, FollowOptions
from vision.hands import HandModelMissingError, HandsOptions, HandTracker
from vision.markers import layout_from_image, render_mat, repair_mat_layout, write_mat_pdf
from vision.pipeline import PipelineOptions, make_locator
from vision.types import ImageArray

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_frames(path: Path) -> Iterator[tuple[int, int, ImageArray]]:
    """(index, timestamp_ms, BGR frame) of a video file, or one frame for an image."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {path}")
        yield 0, 0, image
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}")
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            # Frame times from the frame rate: container timestamps are not always increasing.
            yield index, round(index * 1000 / fps), frame
            index += 1
    finally:
        capture.release()


def _summary(kind: str, frames: int, found: int, ms: list[float], extra: dict[str, Any]) -> dict[str, Any]:
    arr = np.array(ms) if ms else np.zeros(1)
    return {
        "summary": kind,
        "frames": frames,
        "found": found,
        "found_frac": round(found / frames, 4) if frames else 0.0,
        "ms_median": round(float(np.median(arr)), 2),
        "ms_p95": round(float(np.percentile(arr, 95)), 2),
        **extra,
    }


def run_check(args: argparse.Namespace, out: IO[str]) -> dict[str, Any]:
    reference = cv2.imread(str(args.reference), cv2.IMREAD_COLOR)
    if reference is None:
        raise ValueError(f"cannot read reference image {args.reference}")
    if args.anchor == "aruco":
        options = PipelineOptions(
            anchor="aruco",
            mat_layout=layout_from_image(reference, args.dictionary),
            reference=reference,
            hands=False,
        )
    else:
        options = PipelineOptions(reference=reference, hands=False)
    follower = DeviceFollower(
        make_locator(options),
        FollowOptions(
            detect_every=args.detect_every,
            lost_detect_every=args.lost_detect_every,
            track=not args.no_track,
        ),
    )
    frames = found = 0
    ms: list[float] = []
    inliers: list[int] = []
    for index, timestamp_ms, frame in read_frames(args.video):
        start = time.perf_counter()
        location = follower.update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), timestamp_ms)
        elapsed = (time.perf_counter() - start) * 1000
        record: dict[str, Any] = {
            "frame": index,
            "timestamp_ms": timestamp_ms,
            "found": location.found,
            "homography": None,
            "corners_frame_px": None,
            "inliers": location.inliers,
            "ms": round(elapsed, 2),
        }
        if location.found:
            assert location.homography is not None and location.corners_frame_px is not None
            record["homography"] = [[float(v) for v in row] for row in location.homography]
            record["corners_frame_px"] = np.round(location.corners_frame_px, 3).tolist()
            record["source"] = location.source
            found += 1
            inliers.append(location.inliers)
        else:
            record["reason"] = location.reason
        out.write(json.dumps(record) + "\n")
        frames += 1
        ms.append(elapsed)
    return _summary(
        "check", frames, found, ms, {"inliers_median": float(np.median(inliers)) if inliers else 0.0}
    )


def run_hands(args: argparse.Namespace, out: IO[str]) -> dict[str, Any]:
    frames = with_hands = 0
    ms: list[float] = []
    with HandTracker(HandsOptions(model_path=args.model, lite=args.lite)) as tracker:
        for index, timestamp_ms, frame in read_frames(args.source):
            start = time.perf_counter()
            hands = tracker.detect(frame, timestamp_ms)
            elapsed = (time.perf_counter() - start) * 1000
            out.write(
                json.dumps(
                    {
                        "frame": index,
                        "timestamp_ms": timestamp_ms,
                        "hands": [h.to_dict() for h in hands],
                        "ms": round(elapsed, 2),
                    }
                )
                + "\n"
            )
            frames += 1
            with_hands += bool(hands)
            ms.append(elapsed)
    return _summary("hands", frames, with_hands, ms, {"model": str(tracker.model_path)})


def run_mat(args: argparse.Namespace, out: IO[str]) -> dict[str, Any]:
    layout = repair_mat_layout(dictionary=args.dictionary)
    if args.out.suffix.lower() == ".pdf":
        write_mat_pdf(layout, args.out)
    elif not cv2.imwrite(str(args.out), render_mat(layout)):
        raise ValueError(f"cannot write {args.out}; use a .pdf or an image suffix such as .png")
    return {
        "summary": "mat",
        "out": str(args.out),
        "size_px": list(layout.size_px),
        "px_per_mm": layout.px_per_mm,
        "dictionary": layout.dictionary,
        "marker_ids": sorted(layout.markers),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repairsight vision", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="locate a reference photo in every frame of a video")
    check.add_argument("reference", type=Path)
    check.add_argument("video", type=Path)
    check.add_argument("--out", type=Path, help="write the per-frame JSON lines here (summary to stdout)")
    check.add_argument(
        "--detect-every",
        type=int,
        default=15,
        metavar="N",
        help="run the detector every N frames, tracking in between (default 15)",
    )
    check.add_argument("--no-track", action="store_true", help="never track: detect on every frame")
    check.add_argument(
        "--lost-detect-every",
        type=int,
        default=FollowOptions().lost_detect_every,
        metavar="N",
        help="while the device is lost, run the detector every N frames and report the others "
        f"not found without a search (default {FollowOptions().lost_detect_every}; 1: every frame)",
    )
    check.add_argument(
        "--anchor",
        choices=("features", "aruco"),
        default="features",
        help="aruco: REFERENCE is an image of a marker sheet; its markers give the layout",
    )
    check.add_argument("--dictionary", default="DICT_6X6_250", help="ArUco dictionary for --anchor aruco")
    hands = sub.add_parser("hands", help="hand landmarks in an image or every frame of a video")
    hands.add_argument("source", type=Path, metavar="IMAGE_OR_VIDEO")
    hands.add_argument("--out", type=Path)
    hands.add_argument("--lite", action="store_true", help="use the lite landmark model")
    hands.add_argument("--model", type=Path, help="hand_landmarker.task to use")
    mat = sub.add_parser("mat", help="write the printable repair mat (PDF at true size, or an image)")
    mat.add_argument("out", type=Path)
    mat.add_argument("--dictionary", default="DICT_6X6_250")
    return parser


def main(argv: list[str]) -> int:
    """Run one subcommand; 0 on success, 2 on bad input (with a message on stderr)."""
    args = build_parser().parse_args(argv)
    if args.command == "check" and args.detect_every < 1:
        print("error: --detect-every must be >= 1", file=sys.stderr)
        return 2
    if args.command == "check" and args.lost_detect_every < 1:
        print("error: --lost-detect-every must be >= 1", file=sys.stderr)
        return 2
    runners = {"check": run_check, "hands": run_hands, "mat": run_mat}
    try:
        with ExitStack() as stack:
            target = getattr(args, "out", None) if args.command != "mat" else None
            out: IO[str] = stack.enter_context(open(target, "w")) if target else sys.stdout
            summary = runners[args.command](args, out)
    except (ValueError, HandModelMissingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary_stream = sys.stderr if out is sys.stdout and args.command != "mat" else sys.stdout
    print(json.dumps(summary), file=summary_stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
