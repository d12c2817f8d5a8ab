"""Vision in a live session, against a real server process, with synthetic participants.

The browser tests cover the board procedure; this covers the marker-mat one: the customer's
camera shows the printed repair mat in perspective, the expert picks the mat procedure, vision
completes its "visible" first step, and a snapshot (the frame with the AR state computed on it;
the frame's number is in its pixels) must put the mat where the clip generator put it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from procedures import BUILTIN_LIBRARY, ProcedureLibrary
from tests.clipgen import DATA_DIR, FakeCamera, Motion, load_image, read_frame_number
from tests.server_process import cli, start_server
from tests.synthetic_peers import wait_for
from tests.ws_participants import join_as_customer, join_as_expert, link_token, new_session

pytestmark = pytest.mark.slow
PROCEDURE = "router-cable-reseat"
OUTLINE_TOLERANCE_PX = 3.0


async def run(
    base_url: str, api_token: str, camera: FakeCamera
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    session = new_session(base_url, api_token, "Router keeps rebooting")
    found: dict[str, Any] = {}
    expert = await join_as_expert(base_url, session["id"], api_token, found_ar_state=found)
    await expert.socket.send(json.dumps({"type": "set_procedure", "procedure_id": PROCEDURE}))
    customer = await join_as_customer(base_url, link_token(session), [f.bgr for f in camera.frames()])
    try:
        await wait_for(lambda: bool(found), 30, "the mat located")
        procedure = await expert.next_of("procedure", 10)
        while procedure.get("changed_by") != "vision":  # the "visible" first step completes
            procedure = await expert.next_of("procedure", 15)
        await expert.socket.send(json.dumps({"type": "snapshot"}))
        snapshot = await expert.next_of("snapshot_saved", 10)
        return str(session["id"]), snapshot, procedure
    finally:
        await customer.close()
        await expert.close()


def test_the_marker_mat_procedure_locates_the_mat_live(tmp_path: Path) -> None:
    mat = ProcedureLibrary.load([BUILTIN_LIBRARY]).procedures[PROCEDURE].reference_bgr()
    camera = FakeCamera(
        np.ascontiguousarray(mat),
        load_image(DATA_DIR / "stuff.jpg"),
        num_frames=60,
        motion=Motion(width_frac=0.8, max_tilt_deg=20, move_x=0.05, move_y=0.04),
        frame_code=True,
    )
    data_dir = tmp_path / "data"
    token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir)
    try:
        session_id, snapshot, procedure = asyncio.run(run(server.base_url, token, camera))
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as api:
            clean = snapshot["clean_url"]
            image = cv2.imdecode(np.frombuffer(api.get(clean).content, np.uint8), cv2.IMREAD_COLOR)
            state = api.get(clean.replace(".jpg", ".json")).json()["ar_state"]
            marked = api.get(snapshot["url"])
            assert marked.status_code == 200 and marked.headers["content-type"] == "image/jpeg"
    finally:
        server.stop()
    assert procedure["completed"] == ["place-device"] and procedure["step_id"] == "point-at-cable"
    assert snapshot["device_found"] and state["found"]
    number = read_frame_number(image)
    assert number is not None, f"session {session_id}: the snapshot carries no frame number"
    truth = camera.frame(number).corners_frame_px
    error = float(np.linalg.norm(np.array(state["outline_frame_px"]) - truth, axis=1).max())
    print(f"marker mat outline vs truth of frame {number}: {error:.2f} px")
    assert error < OUTLINE_TOLERANCE_PX, f"the mat outline is {error:.2f} px from the truth of frame {number}"
    assert state["annotations"], "the step's marks were not projected"
