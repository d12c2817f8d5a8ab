"""``serve --workers N``: N server processes on one machine behind one public port.

Each worker is ``repairsight serve`` itself (the same options, one worker, the public port bound with
``SO_REUSEPORT`` so the kernel spreads connections over them) with an internal port of its own; they
form one service through Redis like processes on several machines. The supervisor forwards SIGTERM
and SIGINT to every worker (each drains) and waits; a worker that dies otherwise is started again,
and its sessions are ended by the others once their lease runs out.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

logger = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
POLL_S = 0.5


def worker_argv(argv: list[str], index: int, internal_port: int) -> list[str]:
    """A worker's command line: the supervisor's own options, then (the last flag wins) one worker,
    a shared public port and its internal port."""
    port = str(internal_port + index) if internal_port else "0"
    return [
        sys.executable,
        "-m",
        "server.cli",
        *argv,
        "--workers",
        "1",
        "--reuse-port",
        "--internal-port",
        port,
    ]


class Supervisor:
    def __init__(self, argv: list[str], workers: int, internal_port: int) -> None:
        self.argv = argv
        self.internal_port = internal_port
        self.children: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.stopping: int | None = None

    def _start(self, index: int) -> None:
        self.children[index] = subprocess.Popen(worker_argv(self.argv, index, self.internal_port))

    def _stop(self, sig: int, _frame: FrameType | None) -> None:
        first = self.stopping is None
        self.stopping = sig
        for child in self.children:
            if child is not None and child.poll() is None:
                child.send_signal(sig)
        if first:
            print(f"Stopping {len(self.children)} workers (each drains its live sessions)...", flush=True)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        for index in range(len(self.children)):
            self._start(index)
        while True:
            if self.stopping is not None:
                for child in self.children:
                    if child is not None:
                        child.wait()
                return 0
            for index, child in enumerate(self.children):
                if child is not None and child.poll() is not None and self.stopping is None:
                    print(
                        f"Worker {index} (pid {child.pid}) exited with {child.returncode}; starting it again",
                        file=sys.stderr,
                        flush=True,
                    )
                    time.sleep(RESTART_DELAY_S)
                    self._start(index)
            time.sleep(POLL_S)


def run_workers(argv: list[str], workers: int, internal_port: int) -> int:
    os.environ.pop("REPAIRSIGHT_WORKERS", None)  # the workers' own command line says 1
    return Supervisor(argv, workers, internal_port).run()
