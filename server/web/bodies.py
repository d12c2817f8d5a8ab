"""Request bodies: read with a size limit, parsed as JSON or a form, validated by pydantic models.

Checked in this order so each mistake gets its own status: too big (413) before a byte is
decoded, a JSON body not sent as ``application/json`` (415), not JSON or past the limits of
``signaling.json_limits`` (400: nested deeper than 32, a number longer than 32 characters), JSON
of the wrong shape (422, naming the field).

Requiring ``application/json`` is also a guard against cross-site forgery: another site's page
can send a ``text/plain`` or form body without asking, but a JSON one only after a CORS
preflight that this server never grants.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.types import Message

from signaling import json_limits

from ..records.accounts import MAX_USERNAME_CHARS
from ..records.vocabulary import CaseLinkKind, CaseStatus, Outcome
from .errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    # A misspelt field is an error, not silently dropped: "costumer_name" must not lose data.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginBody(BaseModel):
    # Not stripped: spaces at either end of a password are part of it.
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=MAX_USERNAME_CHARS)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeBody(BaseModel):
    # Not stripped, like LoginBody: spaces at either end of a password are part of it.
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class CaseCreate(_Body):
    title: str = Field(min_length=1, max_length=200)
    customer_name: str = Field(default="", max_length=200)
    customer_contact: str = Field(default="", max_length=200)
    device_model: str = Field(default="", max_length=200)
    notes: str = Field(default="", max_length=20_000)
    procedure_id: str | None = Field(default=None, max_length=100)
    # An integration's own id for the case (a CRM ticket); and the link to send the customer.
    external_reference: str | None = Field(default=None, min_length=1, max_length=200)
    link: CaseLinkKind | None = None


class CasePatch(_Body):
    """Any subset of a case's fields. ``None`` is allowed only where the case field may be empty."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    customer_name: str | None = Field(default=None, max_length=200)
    customer_contact: str | None = Field(default=None, max_length=200)
    device_model: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=20_000)
    status: CaseStatus | None = None
    outcome: Outcome | None = None
    procedure_id: str | None = Field(default=None, max_length=100)
    fixed_by_step: str | None = Field(default=None, max_length=100)


class EndBody(_Body):
    reason: str = Field(default="ended by the expert", min_length=1, max_length=200)


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 past ``MAX_BODY_BYTES``: by its Content-Length before reading a
    byte, and by counting while reading, for clients that stream without one (or lie)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "the Content-Length header is not a number")
        if int(declared) > MAX_BODY_BYTES:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> ApiError:
    return ApiError(413, "too_large", f"the request body is over {MAX_BODY_BYTES // 2**20} MiB; send less")


async def parse_json(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The body as ``model``: 415 unless sent as ``application/json``, 400 for bytes that are not
    JSON (or past its limits), 422 naming the field that is wrong. An empty body (``empty_ok``)
    needs no Content-Type."""
    raw = await read_body(request)
    if not raw.strip():
        if empty_ok:
            return model()
        raise ApiError(400, "bad_request", "the request body is empty; send a JSON object")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json' "
            f"(it came as {(media_type or 'nothing')[:60]!r})",
        )
    try:
        data = json_limits.loads(raw)
    except json_limits.JSONRejected as exc:
        raise ApiError(400, "bad_request", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", 'the request body must be a JSON object, like {"title": "..."}')
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid", validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    """One line naming each wrong field, e.g. ``title: String should have at least 1 character``."""
    parts = []
    for error in exc.errors()[:5]:
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "is not a field of this request; check its spelling"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


async def read_form(request: Request) -> dict[str, str]:
    """A form body (urlencoded or multipart) with the same size limit as JSON bodies."""
    raw = await read_body(request)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=0, max_fields=20)
    return {key: value for key, value in form.items() if isinstance(value, str)}
