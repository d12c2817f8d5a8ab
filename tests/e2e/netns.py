"""A network of its own for the customer's Chromium, so a test can cut the phone's network for real.

Chromium's offline emulation does not stop WebRTC on loopback (measured), so the customer's browser
runs in a Linux network namespace joined to the host's by a veth pair: the server listens on the
host's end, and :meth:`CustomerNetwork.cut` takes the namespace's end down (the phone's Wi-Fi gone)
until :meth:`CustomerNetwork.restore`; :meth:`CustomerNetwork.limit` holds the link to a rate (a weak
mobile link) until :meth:`CustomerNetwork.unlimit`. It needs root and ``ip`` (iproute2); without them
:func:`customer_network` fails the test loudly: a network test that skips proves nothing.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

IP = shutil.which("ip") or "/usr/sbin/ip"
TC = shutil.which("tc") or "/usr/sbin/tc"
# A phone's uplink queue: a packet waits at most this long behind the limit before it is dropped.
LIMIT_LATENCY_MS = 300
# The bytes that may pass at once above the rate (two full packets: a bucket, not a burst allowance).
LIMIT_BURST_BYTES = 3000


def _run(tool: str, *args: str) -> None:
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(tool).name} {' '.join(args)}: {done.stderr.strip()}")


def _ip(*args: str) -> None:
    _run(IP, *args)


def _tc(*args: str) -> None:
    _run(TC, *args)


@dataclass(frozen=True)
class CustomerNetwork:
    """The namespace ``name``; the server is reachable from it at ``host_ip``."""

    name: str
    host_ip: str
    inner_ip: str
    inner_if: str
    host_if: str

    def cut(self) -> None:
        """The phone loses its network: the namespace's end of the link goes down."""
        _ip("-n", self.name, "link", "set", self.inner_if, "down")

    def restore(self) -> None:
        """The network comes back (the address stays; its route returns with the link)."""
        _ip("-n", self.name, "link", "set", self.inner_if, "up")

    def limit(self, rate_kbit: int) -> None:
        """A weak link: both directions held to ``rate_kbit`` by a token bucket filter (``tbf``; the
        kernel's ``netem`` is not on every machine), on the namespace's end for what the phone sends and
        on the host's end for what it receives. Packets over the rate wait up to
        :data:`LIMIT_LATENCY_MS`, then are dropped, as in a phone's radio queue."""
        for where in (
            ("-n", self.name, "qdisc", "replace", "dev", self.inner_if),
            ("qdisc", "replace", "dev", self.host_if),
        ):
            _tc(
                *where,
                "root",
                "tbf",
                "rate",
                f"{rate_kbit}kbit",
                "burst",
                str(LIMIT_BURST_BYTES),
                "latency",
                f"{LIMIT_LATENCY_MS}ms",
            )

    def unlimit(self) -> None:
        """The link is good again: the limits of :meth:`limit` removed."""
        _tc("-n", self.name, "qdisc", "del", "dev", self.inner_if, "root")
        _tc("qdisc", "del", "dev", self.host_if, "root")

    def chromium_launcher(self, folder: Path, chromium: str) -> Path:
        """A script Playwright can launch as the browser: Chromium, inside the namespace (the pipe
        Playwright talks to it over is inherited)."""
        script = folder / f"chromium-in-{self.name}"
        script.write_text(f'#!/bin/sh\nexec {IP} netns exec {self.name} {chromium} "$@"\n')
        script.chmod(0o755)
        return script


@contextmanager
def customer_network() -> Iterator[CustomerNetwork]:
    """A namespace with a veth pair to the host (a /30 of 10.213.x.y), removed afterwards."""
    if os.geteuid() != 0 or not Path(IP).exists():
        pytest.fail(
            "this test cuts the customer's network with a network namespace: it must run as root "
            f"with iproute2's `ip` (found: {IP if Path(IP).exists() else 'none'}, uid {os.geteuid()})"
        )
    tag = f"{os.getpid() % 10000}{random.randrange(100)}"
    name, host_if, inner_if = f"rs-cust-{tag}", f"rsh{tag}", f"rsc{tag}"
    third, fourth = random.randrange(256), random.randrange(0, 256, 4)
    host_ip, inner_ip = f"10.213.{third}.{fourth + 1}", f"10.213.{third}.{fourth + 2}"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", inner_if)
        _ip("link", "set", inner_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{inner_ip}/30", "dev", inner_if)
        _ip("-n", name, "link", "set", inner_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield CustomerNetwork(name, host_ip, inner_ip, inner_if, host_if)
    finally:
        subprocess.run([IP, "link", "del", host_if], capture_output=True, timeout=10)
        subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=10)
