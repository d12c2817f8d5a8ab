"""File jobs in a child process: the answer and errors come back; a crash fails the job, not us."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from server.recordings.jobs import FileJobs, InChildProcess, JobCrashed


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
