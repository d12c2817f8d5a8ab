"""Run the real server as a subprocess (``python -m server.cli serve``), for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data_dir: Path, *args: str) -> str:
    """Run ``repairsight ARGS --data-dir DATA_DIR``; returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data-dir", str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def add_user(data_dir: Path, username: str, role: str, password: str, *extra: str) -> None:
    """``repairsight user add USERNAME --role ROLE --password-stdin`` (``extra``: e.g. ``--database-url``)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "user",
            "add",
            username,
            "--role",
            role,
            "--password-stdin",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        input=password,
        text=True,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    data_dir: Path,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    command_prefix: tuple[str, ...] = (),
    ready_timeout_s: float = 30.0,
) -> ServerProcess:
    """``repairsight serve`` on ``port`` (a free one by default), once it answers ``/healthz``.
    ``command_prefix`` runs it under another command that execs it (``taskset -c 0``), so the pid
    is still the server's."""
    port = port or free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [
            *command_prefix,
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *extra_args,
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return ServerProcess(process, base_url, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer /healthz in {ready_timeout_s:g} s:\n{log_path.read_text()}")
