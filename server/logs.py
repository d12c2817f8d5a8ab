"""Log lines: no secret in any of them, JSON for a log pipeline or text for a terminal, and the
session, case and node on every line that concerns them.

A customer's link token is their credential (whoever has ``/join/<token>`` joins the call), so it
must not reach a log file, nor may passwords, API tokens or TURN secrets. :class:`RedactSecrets`
is a filter on every handler (the access log's included) that rewrites them in the message and in
its arguments before any formatter sees them. :func:`log_context` puts a session's and case's ids
on the lines logged by the task that handles it (context variables, inherited by the tasks it
starts). :func:`logging_config` is the one configuration, for ``logging.config.dictConfig`` and
uvicorn's ``log_config``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A customer's link (and a self-help link): the token is the credential.
    (re.compile(r"(/(?:join|help)/)[^/?#\s\"']+"), r"\1[token]"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+"), r"\1[token]"),
    (re.compile(r"(?i)([?&](?:token|password|secret|key|credential)=)[^&\s\"']+"), r"\1[hidden]"),
    (
        re.compile(
            r"(?i)(\"(?:password|current_password|new_password|token|secret|credential)\"\s*:\s*\")[^\"]*"
        ),
        r"\1[hidden]",
    ),
)

_session_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("session_id", default=None)
_case_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("case_id", default=None)
_node: dict[str, str | None] = {"id": None}  # this process's node id (set once at start-up)


def redact(text: str) -> str:
    """``text`` with link tokens, bearer tokens, and password/token/secret values hidden."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites secrets in a record's message and arguments (keeping their shape, so a formatter
    that unpacks the arguments, as uvicorn's access log does, still works)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class ContextFields(logging.Filter):
    """Adds ``session_id``, ``case_id`` and ``node`` to every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = _session_id.get()
        record.case_id = _case_id.get()
        record.node = _node["id"]
        return True


def log_context(*, session_id: str | None = None, case_id: str | None = None) -> None:
    """The session and case the current task (and the tasks it starts from now on) works for."""
    if session_id is not None:
        _session_id.set(session_id)
    if case_id is not None:
        _case_id.set(case_id)


def set_node(node_id: str | None) -> None:
    _node["id"] = node_id


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``stream``, or else to whatever ``sys.stderr`` is when a line is written (so a
    replaced stderr, a test's capture included, never leaves it writing to a closed file)."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)  # sets self.stream (sys.stderr when None)
        self._fixed = stream

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        self._fixed = value


class TextFormatter(logging.Formatter):
    """``LEVEL: logger: message [session=… case=…]`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{name}={value}"
            for name in ("session", "case", "node")
            if (value := getattr(record, f"{name}_id" if name != "node" else "node", None))
        ]
        return f"{line} [{' '.join(tags)}]" if tags else line


def logging_config(log_format: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """The ``dictConfig`` for the server (and for uvicorn's ``log_config``): one handler on
    stderr, secrets redacted, context fields added, text or JSON lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be 'text' or 'json', got {log_format!r}")
    formatter: dict[str, Any]
    if log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(session_id)s %(case_id)s %(node)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"()": "server.logs.TextFormatter", "fmt": "%(levelname)s:     %(name)s: %(message)s"}
    handler = {"()": StderrHandler, "formatter": "main", "filters": ["secrets", "context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"secrets": {"()": RedactSecrets}, "context": {"()": ContextFields}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "loggers": {
            **{
                name: {"handlers": ["main"], "level": level, "propagate": False}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Alembic's own chatter ("Context impl SQLiteImpl."); what the schema did is logged by
            # server/records/schema.py.
            "alembic": {"level": "WARNING"},
        },
    }
