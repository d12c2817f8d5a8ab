"""Domain errors: what a caller did wrong, said in words a person can act on.

Records, recordings and live sessions raise these; they never know about HTTP. The web layer
(``server/web/errors.py``) is the one place that turns them into status codes, and the CLI prints
their message. ``code`` is the short machine-readable word clients branch on.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` says what was wrong and what to do."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(DomainError):
    """The request is well formed but the thing is in the wrong state for it (a closed case, an
    ended session, a recording still being written)."""

    code = "conflict"


class Invalid(DomainError):
    """A value that cannot be used; the message names the field."""

    code = "invalid"
