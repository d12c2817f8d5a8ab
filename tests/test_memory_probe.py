"""The fuzz run's memory probe (``benchmarks/memory_probe/sitecustomize.py``) in a process that has
the server's modules loaded: each signal writes a report, and the probe never raises into the code
it interrupts (it once did, on Cython's metatypes, whose ``__module__`` is not a string: the server
then closed sockets with 1011 and its media workers exited)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.server_process import REPO

PROBE = REPO / "benchmarks" / "memory_probe"
CHILD = """
import sys, time, server.app, aiortc  # noqa: F401 - the objects the server has
print("ready", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    sum(range(1000))
"""


def wait_for(path: Path, timeout_s: float = 30.0) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name}"
        time.sleep(0.1)
    return dict(json.loads(path.read_text()))


def test_each_signal_writes_a_report_and_nothing_raises_into_the_process(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROBE), str(REPO)]),
        "PYTHONTRACEMALLOC": "1",
        "REPAIRSIGHT_MEMORY_PROBE": str(tmp_path),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        child.send_signal(signal.SIGUSR1)
        first = wait_for(tmp_path / f"probe-{child.pid}-1.json")
        child.send_signal(signal.SIGUSR2)
        second = wait_for(tmp_path / f"probe-{child.pid}-2.json")
        assert child.poll() is None, "the probe's signal ended the process"
    finally:
        child.kill()
        output = child.communicate(timeout=30)[0].decode(errors="replace")

    assert "Traceback" not in output, output
    assert not list(tmp_path.glob("probe-*-failed.txt"))
    assert first["status_kb"]["VmRSS"] > 0 and first["traced_bytes"] > 0
    assert (tmp_path / f"snapshot-{child.pid}-1.tracemalloc").exists()
    assert any(kind.startswith("starlette.") for kind, _ in first["watched_types"])
    assert "status_kb_after_trim" in second and "status_kb_after_trim" not in first
