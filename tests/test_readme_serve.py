"""The README's first command, as a person runs it: ``./run serve`` installs and starts the server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import REPO, free_port

pytestmark = pytest.mark.slow
INSTALL_AND_START_S = 240  # a no-op install here; a fresh machine downloads the packages first


def test_run_serve_installs_and_starts_on_its_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["./run", "serve", "--data-dir", str(data_dir), "--port", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + INSTALL_AND_START_S
        while time.monotonic() < deadline:
            assert process.poll() is None, f"./run serve exited with {process.returncode}:\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"./run serve did not answer in {INSTALL_AND_START_S} s:\n{log.read_text()}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    printed = log.read_text()
    assert "Created the first admin account: username admin, one-time password" in printed
    assert (data_dir / "repairsight.sqlite3").exists() and (data_dir / "recordings").is_dir()
