"""Writing procedure folders into tmp_path: a good procedure as a dict, mutated per test."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "data"
BOARD_JPG = DATA / "board.jpg"  # 640x480


def good_procedure(procedure_id: str = "reseat-j5") -> dict[str, Any]:
    """A valid features procedure on board.jpg with a manual, a touch and a visible step."""
    return copy.deepcopy(
        {
            "id": procedure_id,
            "title": "Reseat J5",
            "device": {"model": "Sound card", "reference": "board.jpg", "anchor": "features"},
            "steps": [
                {
                    "id": "locate",
                    "title": "Find the connector",
                    "instruction": "Point the camera at the board.",
                    "annotations": [{"kind": "rect", "ref_px": [[527, 152], [583, 194]], "label": "J5"}],
                    "completion": {"kind": "manual"},
                },
                {
                    "id": "press",
                    "title": "Press it down",
                    "instruction": "Press on the connector for two seconds.",
                    "target": {"polygon_ref_px": [[527, 152], [583, 152], [583, 194], [527, 194]]},
                    "completion": {"kind": "touch", "dwell_ms": 1500},
                    "safety": ["Unplug the power first."],
                },
                {
                    "id": "check",
                    "title": "Hold still",
                    "instruction": "Keep the board in view.",
                    "annotations": [{"kind": "circle", "centre_ref_px": [413, 115], "radius_ref_px": 14}],
                    "completion": {"kind": "visible", "duration_ms": 800},
                },
            ],
        }
    )


def write_procedure(
    parent: Path, data: Any, *, folder: str | None = None, text: str | None = None, image: bool = True
) -> Path:
    """``parent/<folder>/procedure.yaml`` (``data`` dumped, or ``text`` as is) with board.jpg beside it."""
    name = folder or (data["id"] if isinstance(data, dict) and isinstance(data.get("id"), str) else "x")
    target = parent / name
    target.mkdir(parents=True, exist_ok=True)
    if image:
        shutil.copy(BOARD_JPG, target / "board.jpg")
    (target / "procedure.yaml").write_text(
        text if text is not None else yaml.safe_dump(data, sort_keys=False)
    )
    return target
