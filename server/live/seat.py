"""Whose the customer's seat in a session is, and who may take it.

The link token lets in whoever holds it, until the link expires. The seat it opens is then bound to
the browser that joined: its ``joined`` carries a resume secret the page keeps (``sessionStorage``),
and a reload or a rejoin after a dropped network sends it back. So:

- a rejoin with the seat's secret is let in whenever the session lives, even past the link's expiry
  (a customer mid-repair must not be locked out by the clock);
- any other join (another browser, a forwarded link, a page that lost its secret) is a new join:
  refused once the link has expired, and refused while the seat's customer is in the session or
  reconnecting to it; otherwise it takes the seat, with a new secret (the old one stops working).

A refusal with ``seat_taken`` is worth telling the expert (the link is in other hands), but not every
time: :meth:`CustomerSeat.refusal_worth_telling` lets one through per ``REFUSAL_NOTICE_EVERY_S``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from signaling import ProtocolError

from ..records.tokens import new_secret_token

SEAT_TAKEN_MESSAGE = (
    "someone is already in this session with this link, in another browser. If that is you, go back "
    "to that browser (or close it there, or wait a minute if its connection dropped), or ask the "
    "expert for a new link"
)
EXPIRED_MESSAGE = "this link has expired; ask the expert for a new link"
# A refused join is told to the expert (and logged) at most once in this many seconds: someone who
# opens the link again and again, or a script, floods neither the console nor the event log.
REFUSAL_NOTICE_EVERY_S = 10.0


@dataclass(frozen=True)
class Admission:
    """A customer let in: the secret its page keeps, and whether it came back to its own seat."""

    resume: str
    resumed: bool


class CustomerSeat:
    """One session's customer seat: the secret that binds it, and the link's expiry for new joins."""

    def __init__(self, link_expires_at: datetime) -> None:
        self.link_expires_at = link_expires_at
        self._secret: str | None = None
        self._refusal_told_at_s: float | None = None

    def admit(self, resume: str | None, occupied: bool, now: datetime) -> Admission:
        """Let a customer ``join`` in, or raise :class:`ProtocolError` saying why not.

        ``occupied``: the seat's customer is in the session or reconnecting to it. ``now`` is in the
        same (naive UTC) clock as ``link_expires_at``.
        """
        if resume is not None and self._holds(resume):
            assert self._secret is not None
            return Admission(self._secret, resumed=True)
        if now >= self.link_expires_at:
            raise ProtocolError("token_expired", EXPIRED_MESSAGE)
        if occupied:
            raise ProtocolError("seat_taken", SEAT_TAKEN_MESSAGE)
        self._secret = new_secret_token()
        return Admission(self._secret, resumed=False)

    def refusal_worth_telling(self, now_s: float) -> bool:
        """Whether a ``seat_taken`` refusal at ``now_s`` (a monotonic clock, in seconds) is told and
        logged: the first is, then at most one per ``REFUSAL_NOTICE_EVERY_S``."""
        last = self._refusal_told_at_s
        if last is not None and now_s - last < REFUSAL_NOTICE_EVERY_S:
            return False
        self._refusal_told_at_s = now_s
        return True

    def _holds(self, resume: str) -> bool:
        # Compared in constant time, as bytes: a secret from the page may hold any character.
        return self._secret is not None and hmac.compare_digest(
            resume.encode("utf-8"), self._secret.encode("utf-8")
        )
