"""JSON text to Python values, refused with a reason when it is deeper or its numbers longer than
any message of ours.

``json.loads`` recurses once per nesting level, so a few thousand ``[`` raise ``RecursionError``,
and it turns a 5,000-digit number into an ``int`` only to raise ``ValueError`` past Python's
4,300-digit conversion limit; neither is the error a client should get for a bad message.
:func:`loads` refuses an over-long number as the parser meets it (before converting it), turns
the parser's own recursion guard into a refusal, measures the depth of what was built (without
recursion) before anyone uses it, and refuses ``NaN`` and ``Infinity`` (not JSON, RFC 8259
section 6). Every way it fails is a :class:`JSONRejected` that says why. The ``/ws`` protocol
and the REST bodies both read JSON through it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

# Deeper than any message or body of ours (the deepest, an annotation's points, is 3).
MAX_DEPTH = 32
# Longer than any number a page sends (JavaScript writes a float in at most 24 characters).
MAX_NUMBER_CHARS = 32


class JSONRejected(ValueError):
    """Not JSON, or JSON past a limit; the message says which, for the client."""


def loads(raw: str | bytes, *, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise JSONRejected(f"not valid UTF-8: {exc}") from None

    def number(kind: Callable[[str], float]) -> Callable[[str], float]:
        def convert(token: str) -> float:
            if len(token) > max_number_chars:
                raise JSONRejected(f"a number of {len(token)} characters; at most {max_number_chars}")
            value = kind(token)
            if not math.isfinite(value):
                raise JSONRejected(f"the number {token} is out of range")
            return value

        return convert

    def constant(token: str) -> Any:
        raise JSONRejected(f"{token} is not a JSON value")

    too_deep = JSONRejected(f"nested more than {max_depth} levels deep")
    try:
        value = json.loads(text, parse_int=number(int), parse_float=number(float), parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise JSONRejected(str(exc)) from None
    except RecursionError:
        raise too_deep from None
    if depth_over(value, max_depth):
        raise too_deep
    return value


def depth_over(value: Any, max_depth: int) -> bool:
    """Whether lists and objects nest more than ``max_depth`` levels in ``value`` (a walk with a
    stack of its own, stopping at the first level too deep)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
