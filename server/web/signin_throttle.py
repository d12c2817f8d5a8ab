"""How often anyone may fail to sign in, and how many passwords are checked at once.

A password check costs an Argon2 hash (about 160 ms of a core, and tens of MB while it runs) in the
process that carries the calls, so an unthrottled sign-in form lets anyone on the network take
that process's CPU and memory. Failures are counted per account and per address in a moving window
(the ``limits`` package, in memory; in Redis when the processes of a service share one); once
either is used up, sign-in answers 429 with the seconds to wait, before any hash is computed. A
success clears the account's count. At most ``concurrent_checks`` passwords are hashed at once,
off the event loop; a sign-in that would wait behind more than ``max_waiting`` others is refused
at once (429, "busy") rather than queued without end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class ThrottleLimits:
    """The limits, in ``limits``' notation (``N/5minutes``)."""

    per_account: str = "10/5minutes"
    per_address: str = "30/5minutes"
    concurrent_checks: int = 2
    max_waiting: int = 16


class SignInRefused(Exception):
    """Too many failed sign-ins (``code`` "too_many_sign_ins") or too many at once ("sign_in_busy")."""

    def __init__(self, code: str, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


class SignInThrottle:
    """One per process (or one shared store for all of a service's processes: ``storage_uri``)."""

    def __init__(self, limits: ThrottleLimits | None = None, storage_uri: str | None = None) -> None:
        self.limits = limits or ThrottleLimits()
        store = storage_from_string(storage_uri) if storage_uri else MemoryStorage()
        if not isinstance(store, Storage):
            raise ValueError(f"sign-in throttle: {storage_uri!r} is not a storage the throttle can use")
        self._window = MovingWindowRateLimiter(store)
        self._per_account: RateLimitItem = parse(self.limits.per_account)
        self._per_address: RateLimitItem = parse(self.limits.per_address)
        self._checks = asyncio.Semaphore(self.limits.concurrent_checks)
        self._waiting = 0

    def check_allowed(self, username: str, address: str) -> None:
        """Raises :class:`SignInRefused` while the account or the address has no tries left."""
        waits = [
            self._wait_s(self._per_account, "account", username.strip().lower()),
            self._wait_s(self._per_address, "address", address),
        ]
        wait_s = max(waits)
        if wait_s > 0:
            raise SignInRefused(
                "too_many_sign_ins",
                f"too many failed sign-ins for this account or from this address; try again in {wait_s} s",
                wait_s,
            )

    def failed(self, username: str, address: str) -> None:
        self._window.hit(self._per_account, "account", username.strip().lower())
        self._window.hit(self._per_address, "address", address)

    def succeeded(self, username: str) -> None:
        self._window.clear(self._per_account, "account", username.strip().lower())

    @asynccontextmanager
    async def checking(self) -> AsyncIterator[None]:
        """Holds one of the ``concurrent_checks`` slots while a password is hashed."""
        if self._waiting >= self.limits.max_waiting:
            raise SignInRefused(
                "sign_in_busy", "the server is busy checking other sign-ins; try again in 2 s", 2
            )
        self._waiting += 1
        try:
            async with self._checks:
                yield
        finally:
            self._waiting -= 1

    def _wait_s(self, item: RateLimitItem, *key: str) -> int:
        if self._window.test(item, *key):
            return 0
        reset_at = self._window.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset_at - time.time()))
