"""File jobs in a child process: the answer and errors come back; a crash fails the job, not us."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from server.recordings.jobs import MAX_CHILD_JOBS, PARENT_CHECK_S, FileJobs, InChildProcess, JobCrashed


def pid_and_double(number: int) -> tuple[int, int]:
    return os.getpid(), 2 * number


def refuse(reason: str) -> None:
    raise ValueError(reason)


def crash() -> None:
    os.abort()  # what a segfault in a codec does to the process that runs it


def test_the_answer_comes_back_from_another_process() -> None:
    child_pid, doubled = InChildProcess(pid_and_double, 21)()
    assert doubled == 42 and child_pid != os.getpid()


def test_an_exception_in_the_job_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="no two voices"):
        InChildProcess(refuse, "no two voices")()


def test_a_crash_fails_the_job_and_the_server_goes_on(tmp_path: Path) -> None:
    async def both() -> tuple[BaseException | None, tuple[int, int]]:
        jobs = FileJobs()
        crashed = None
        try:
            await jobs.run(tmp_path / "a.webm", InChildProcess(crash))
        except JobCrashed as exc:
            crashed = exc
        # The same jobs object (the server's) still runs the next job.
        return crashed, await jobs.run(tmp_path / "b.webm", InChildProcess(pid_and_double, 1))

    crashed, (_, two) = asyncio.run(both())
    assert isinstance(crashed, JobCrashed) and "crash" in str(crashed)
    assert two == 2


def note_the_times(folder: str, name: str) -> None:
    started = time.time()
    time.sleep(0.5)
    (Path(folder) / name).write_text(f"{started} {time.time()}")


def test_at_most_two_children_run_at_once(tmp_path: Path) -> None:
    jobs = [InChildProcess(note_the_times, str(tmp_path), f"job{n}") for n in range(4)]
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    spans = [tuple(map(float, (tmp_path / f"job{n}").read_text().split())) for n in range(4)]
    busiest = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert busiest == MAX_CHILD_JOBS


def write_pid_then_wait(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(120)


def test_a_child_ends_when_its_server_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from server.recordings.jobs import InChildProcess\n"
            "from tests.server.recordings.test_jobs import write_pid_then_wait\n"
            f"InChildProcess(write_pid_then_wait, {str(pid_file)!r})()",
        ],
        cwd=Path(__file__).parents[3],
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.1)
        child = int(pid_file.read_text())
    finally:
        server.kill()  # as a crash or `kill -9` stops it: nothing of its own runs
        server.wait()
    deadline = time.monotonic() + 10 * PARENT_CHECK_S
    while is_running(child):
        assert time.monotonic() < deadline, "the child outlived its killed server"
        time.sleep(0.1)


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended; only its exit status is left
