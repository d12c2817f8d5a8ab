"""How often a participant may do something: a token bucket, with the clock passed in.

Chat is the one message a customer can send as fast as it likes that the session keeps (in the
event log) and passes on (to the expert): unlimited, 6,000 lines of 2 KB grew a log by 12.7 MB
in 32 s. A bucket per participant lets a person type in bursts and stops a script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Chat: up to 10 lines at once, then one a second on average (10 lines in any 10 s).
CHAT_BURST_LINES = 10
CHAT_LINES_PER_S = 1.0


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``per_s`` a second; each action takes one."""

    capacity: float
    per_s: float
    tokens: float = field(init=False)
    updated_s: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per_s <= 0:
            raise ValueError("a token bucket needs a capacity of at least 1 and a positive rate")
        self.tokens = self.capacity

    def take(self, now_s: float) -> float:
        """Take a token at monotonic time ``now_s``: 0.0 when one was there, else (nothing taken)
        the seconds until one will be."""
        if self.updated_s is not None:
            self.tokens = min(self.capacity, self.tokens + (now_s - self.updated_s) * self.per_s)
        self.updated_s = now_s
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_s


def chat_bucket() -> TokenBucket:
    return TokenBucket(CHAT_BURST_LINES, CHAT_LINES_PER_S)
