"""One core for the server, another for the load: pinning, and CPU read from ``/proc``.

For the capacity benchmark. The server runs under ``taskset`` (its media worker processes inherit
the pin); the load generator pins itself. CPU is read as the kernel counts it: user + system time
of a process tree (``/proc/<pid>/stat``), and each core's busy and stolen time (``/proc/stat``), so
another program on a core shows as that core being busier than the processes measured on it.

The tree's CPU is also split four ways (:class:`TreeCpu`), which for the server says where it goes:
the root's main thread (its event loop: signaling, and aiortc's per-packet work when forwarding),
the root's other threads (recorder, pipes to the workers, aiortc's codec threads when re-encoding),
the children's main threads (a media worker's: receiving frames and decoding them) and the
children's other threads (a media worker's vision thread and the native pools under it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import astuple, dataclass
from pathlib import Path

from tests.server_process import ServerProcess, start_server

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOOP_STEPS = 10_000_000
_LOOP = "\n".join(
    [
        "import time",
        "t = time.perf_counter()",
        f"for _ in range({LOOP_STEPS}): pass",
        "print(time.perf_counter() - t)",
    ]
)


def pin_this_process(cpus: set[int]) -> None:
    """Pin every thread of this process; threads started later inherit it from their starter."""
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), cpus)


def start_pinned_server(data_dir: Path, cpus: str, extra_args: tuple[str, ...] = ()) -> ServerProcess:
    """``taskset -c CPUS repairsight serve``; taskset execs the server, so the pid is the server's."""
    return start_server(
        data_dir, extra_args=extra_args, command_prefix=("taskset", "-c", cpus), ready_timeout_s=60
    )


def _stat(pid: int, task: str = "") -> list[str] | None:
    """The fields of ``/proc/<pid>/[task/<tid>/]stat`` after the command name (field 3, state, is
    index 0); ``task``: ``"task/<tid>/"`` for one thread's."""
    try:
        return Path(f"/proc/{pid}/{task}stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (the server and its media workers)."""
    parent_of: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                parent_of[int(entry)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parent_of.items() if parent in frontier]
        tree += frontier
    return tree


@dataclass(frozen=True)
class TreeCpu:
    """CPU of a process tree by kind of thread (seconds, or cores over a window)."""

    root_main: float = 0.0
    root_threads: float = 0.0
    children_main: float = 0.0
    children_threads: float = 0.0  # with children that already exited and were waited for

    @property
    def total(self) -> float:
        return self.root_main + self.root_threads + self.children_main + self.children_threads

    def minus(self, before: TreeCpu, seconds: float) -> TreeCpu:
        """The CPU between ``before`` and this, in cores over ``seconds``."""
        return TreeCpu(*((a - b) / seconds for a, b in zip(astuple(self), astuple(before), strict=True)))

    def per(self, n: int) -> TreeCpu:
        return TreeCpu(*(value / n for value in astuple(self)))


def _ticks(fields: list[str], waited: bool) -> int:
    """utime + stime (fields 14, 15 of ``stat``), with cutime + cstime (16, 17) when ``waited``."""
    return sum(int(fields[i]) for i in ((11, 12, 13, 14) if waited else (11, 12)))


def tree_cpu(root: int) -> TreeCpu:
    """CPU seconds (user + system) of ``root`` and its descendants, split by kind of thread. A
    process's own figure counts its threads that already ended; children that already exited and
    were waited for (cutime + cstime) count too, so a worker that dies mid-window still counts."""
    parts = [0, 0, 0, 0]
    for pid in process_tree(root):
        fields = _stat(pid)
        if fields is None:
            continue
        main_fields = _stat(pid, f"task/{pid}/")
        main = 0 if main_fields is None else _ticks(main_fields, waited=False)
        own = _ticks(fields, waited=False)
        base = 0 if pid == root else 2
        parts[base] += main
        parts[base + 1] += own - main
        parts[3] += _ticks(fields, waited=True) - own
    return TreeCpu(*(ticks / CLOCK_TICKS for ticks in parts))


def tree_rss_mb(root: int) -> float:
    total_kb = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total_kb += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total_kb / 1024


def tree_cpus(root: int) -> set[int]:
    """The cores any thread of the tree may run on (checks the pin held for every child)."""
    cpus: set[int] = set()
    for pid in process_tree(root):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                cpus |= os.sched_getaffinity(int(tid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return cpus


def core_ticks() -> dict[int, tuple[int, int, int]]:
    """Per core: (busy, stolen, total) clock ticks since boot (busy excludes idle and iowait)."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values]
            total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
            out[int(name[3:])] = (total - ticks[3] - ticks[4], ticks[7], total)
    return out


@dataclass(frozen=True)
class Usage:
    """CPU over one window, in cores (1.0 = one core busy the whole window)."""

    seconds: float
    server: float | None
    generator: float
    server_parts: TreeCpu | None
    core_busy: dict[int, float]
    core_steal: dict[int, float]


class Meter:
    """Call :meth:`start`, then :meth:`stop` for the usage in between."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid

    def start(self) -> None:
        self._wall = time.monotonic()
        self._server = tree_cpu(self.server_pid) if self.server_pid else TreeCpu()
        times = os.times()
        self._own = times.user + times.system
        self._cores = core_ticks()

    def stop(self) -> Usage:
        wall = time.monotonic() - self._wall
        parts = tree_cpu(self.server_pid).minus(self._server, wall) if self.server_pid else None
        times = os.times()
        cores = core_ticks()
        busy, steal = {}, {}
        for cpu, (b, s, total) in cores.items():
            b0, s0, total0 = self._cores[cpu]
            span = max(1, total - total0)
            busy[cpu], steal[cpu] = (b - b0) / span, (s - s0) / span
        generator = (times.user + times.system - self._own) / wall
        return Usage(wall, parts.total if parts else None, generator, parts, busy, steal)


def python_loop_s(cpu: int) -> float:
    """Seconds a 10-million-step Python loop takes on ``cpu``: how fast this host is today."""
    done = subprocess.run(
        ["taskset", "-c", str(cpu), sys.executable, "-c", _LOOP], capture_output=True, text=True, check=True
    )
    return float(done.stdout)
