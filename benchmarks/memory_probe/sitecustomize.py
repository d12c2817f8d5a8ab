"""Where a server process's memory is, on request: the fuzz run's probe (``benchmarks/fuzz_run.py``).

Python imports ``sitecustomize`` at start-up from the first folder of ``sys.path`` that has one, so
``PYTHONPATH=benchmarks/memory_probe`` loads this into the server without a line of the server
changed. It does nothing unless ``REPAIRSIGHT_MEMORY_PROBE`` names a folder; then, on ``SIGUSR1``,
the process writes ``probe-<pid>-<n>.json`` there (RSS split into anonymous and file-backed pages,
threads, glibc's heap in use and free, what ``tracemalloc`` traces, and the 40 most numerous
object types), and ``snapshot-<pid>-<n>.tracemalloc`` when ``tracemalloc`` runs (start the process
with ``PYTHONTRACEMALLOC=1``). ``SIGUSR2`` does the same, then calls glibc's ``malloc_trim(0)`` and
records the RSS after it: what the trim gives back was free memory glibc had kept, not a leak.
"""

from __future__ import annotations

import os

_FOLDER = os.environ.get("REPAIRSIGHT_MEMORY_PROBE")
_WATCHED = {"server", "signaling", "vision", "aiortc", "aioice", "av", "starlette", "uvicorn", "websockets"}


def _status() -> dict[str, int]:
    wanted = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads")
    found: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in wanted:
                found[name] = int(value.split()[0])
    return found


def _mallinfo() -> dict[str, int]:
    """glibc's ``mallinfo2``: bytes in use and free in its heaps (all arenas), and mmapped."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return {
        "heap_bytes": info.arena,
        "heap_in_use_bytes": info.uordblks,
        "heap_free_bytes": info.fordblks,
        "mmapped_bytes": info.hblkhd,
    }


def _arenas() -> int:
    """How many glibc arenas besides the main one: each is a 64 MiB-aligned ``[anon]`` region made
    of a read-write part and a ``---p`` reserve, so count the read-write starts aligned to 64 MiB."""
    count = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            start = int(fields[0].split("-")[0], 16)
            if len(fields) == 5 and fields[1] == "rw-p" and start % (64 << 20) == 0:
                count += 1
    return count


def _module(thing: object) -> str:
    """The top-level package of ``thing``'s class (a metaclass's ``__module__`` can be a descriptor)."""
    module = type(thing).__dict__.get("__module__")
    return module.split(".")[0] if isinstance(module, str) else ""


def _dump(signum: int, frame: object) -> None:
    """The signal handler: it runs between two bytecodes of whatever the main thread was doing, so
    it must never raise into it (a failure is written to the report instead)."""
    import time

    started = time.monotonic()
    try:
        _report(signum, started)
    except BaseException as exc:  # noqa: BLE001 - an exception here would surface in the server's code
        try:
            with open(os.path.join(_FOLDER or "/tmp", f"probe-{os.getpid()}-failed.txt"), "a") as out:
                out.write(f"{exc!r}\n")
        except OSError:
            pass


def _report(signum: int, started: float) -> None:
    import collections
    import gc
    import json
    import signal
    import tracemalloc

    assert _FOLDER is not None
    _dump.count = getattr(_dump, "count", 0) + 1  # type: ignore[attr-defined]
    stem = f"{os.getpid()}-{_dump.count}"  # type: ignore[attr-defined]
    report: dict[str, object] = {"status_kb": _status(), "malloc": _mallinfo(), "arenas": _arenas()}
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        report["traced_bytes"] = current
        report["traced_peak_bytes"] = peak
        tracemalloc.take_snapshot().dump(os.path.join(_FOLDER, f"snapshot-{stem}.tracemalloc"))
    objects = gc.get_objects()
    types = collections.Counter(type(thing).__qualname__ for thing in objects)
    report["objects"] = sum(types.values())
    report["object_types"] = types.most_common(40)
    # The project's own objects and those of the libraries that hold a call's state, by module:
    # what is still alive of sessions, sockets and peer connections.
    ours = collections.Counter(
        f"{_module(thing)}.{type(thing).__qualname__}" for thing in objects if _module(thing) in _WATCHED
    )
    report["watched_types"] = ours.most_common(60)
    del objects
    if signum == signal.SIGUSR2:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        report["status_kb_after_trim"] = _status()
        report["malloc_after_trim"] = _mallinfo()
    import time

    report["took_s"] = round(time.monotonic() - started, 2)
    path = os.path.join(_FOLDER, f"probe-{stem}.json")
    with open(path + ".part", "w") as out:
        json.dump(report, out)
    os.replace(path + ".part", path)


if _FOLDER:
    import signal

    signal.signal(signal.SIGUSR1, _dump)
    signal.signal(signal.SIGUSR2, _dump)
