"""Build MediaPipe ``hand_landmarker.task`` bundles from the mediapipe 0.10.21 wheel.

mediapipe 1.2.x ships no model and downloading one from a model hub at run time is
not possible on our machines. The 0.10.21 wheel on PyPI carries the two TFLite
models the Tasks API needs, with their metadata already inside. This script
downloads that wheel with ``pip download --no-deps`` (it is only read as a zip,
never installed), checks each model's sha256 and writes two bundles:

* ``hand_landmarker.task``      palm_detection_full + hand_landmark_full
* ``hand_landmarker_lite.task`` palm_detection_full + hand_landmark_lite

A bundle is a zip holding ``hand_detector.tflite`` and
``hand_landmarks_detector.tflite``, stored uncompressed (the Tasks API maps them).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SPEC = "mediapipe==0.10.21"
PALM_FULL = "mediapipe/modules/palm_detection/palm_detection_full.tflite"
LANDMARK_FULL = "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"
LANDMARK_LITE = "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite"
SHA256 = {
    PALM_FULL: "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    LANDMARK_FULL: "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    LANDMARK_LITE: "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
}
BUNDLES = {
    "hand_landmarker.task": (PALM_FULL, LANDMARK_FULL),
    "hand_landmarker_lite.task": (PALM_FULL, LANDMARK_LITE),
}


def read_checked(wheel: zipfile.ZipFile, member: str) -> bytes:
    data = wheel.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[member]:
        raise SystemExit(f"{member}: sha256 {digest} does not match the expected {SHA256[member]}")
    return data


def write_bundle(path: Path, detector: bytes, landmarks: bytes) -> None:
    tmp = path.with_suffix(".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as bundle:
        bundle.writestr("hand_detector.tflite", detector)
        bundle.writestr("hand_landmarks_detector.tflite", landmarks)
    tmp.replace(path)


def bundles_present(out_dir: Path) -> bool:
    return all((out_dir / name).is_file() for name in BUNDLES)


def build(out_dir: Path, wheel_path: Path | None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if wheel_path is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL_SPEC],
                check=True,
            )
            wheel_path = Path(glob.glob(f"{tmp}/mediapipe-*.whl")[0])
        with zipfile.ZipFile(wheel_path) as wheel:
            for name, (detector, landmarks) in BUNDLES.items():
                write_bundle(out_dir / name, read_checked(wheel, detector), read_checked(wheel, landmarks))
                print(f"built {out_dir / name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--wheel", type=Path, help="use this mediapipe 0.10.21 wheel instead of downloading")
    parser.add_argument("--force", action="store_true", help="rebuild even if the bundles exist")
    args = parser.parse_args(argv)
    if bundles_present(args.out_dir) and not args.force:
        return 0
    build(args.out_dir, args.wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
