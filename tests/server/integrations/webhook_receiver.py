"""A real HTTP receiver for webhook tests: ``http.server`` on a free local port, in a thread, that
keeps every request it gets and answers with the statuses it is told, in order (then 200)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: str


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    hang_s: float = 0.0
    received: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        """The first ``count`` requests, once that many came (AssertionError after ``timeout_s``)."""
        wait_until(lambda: len(self.received) >= count, timeout_s, f"{count} requests at {self.url}")
        return self.received[:count]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.05)


@contextmanager
def receiver(statuses: list[int] | None = None, hang_s: float = 0.0) -> Iterator[Receiver]:
    """A running receiver; ``hang_s``: how long it waits before answering each request."""
    state = Receiver(url="", statuses=list(statuses or []), hang_s=hang_s)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(state.hang_s)
            status = state.statuses.pop(0) if state.statuses else 200
            answer = b"receiver says no" if status >= 400 else b""
            self.send_response(status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/repairsight"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
