"""Every message of the ``/ws`` signaling protocol, defined once.

Each model's docstring says who sends it and when; ``docs/protocol.md`` is the reader's
version and ``client_web/js/signaling.js`` mirrors the type names and fields. Messages are
JSON objects with a ``type`` field. :func:`parse_client_message` is the one way in (it
checks the size before it decodes anything, so a huge message costs nothing) and
:func:`serialize` the one way out.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE_BYTES = 64 * 1024
MAX_CHAT_CHARS = 2000
MAX_SDP_CHARS = 60_000

Role = Literal["customer", "expert"]
PresenceStatus = Literal["joined", "reconnecting", "left"]
RecordingState = Literal["recording", "complete", "partial", "declined", "none"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server -------------------------------------------------------------------


class Join(_Message):
    """Client, first message on a new socket: who it is and which session it joins.

    A customer proves itself with the link ``token`` and says whether it consents to the
    recording; an expert is known by its signed-in cookie or bearer token, and names the
    ``session_id``.
    """

    type: Literal["join"] = "join"
    role: Role
    session_id: str | None = Field(default=None, max_length=64)
    token: str | None = Field(default=None, max_length=128)
    consent: bool = False


class Offer(_Message):
    """Client, after ``joined``: its SDP offer for a new peer connection (W3C RTCSessionDescription)."""

    type: Literal["offer"] = "offer"
    sdp: str = Field(max_length=MAX_SDP_CHARS)


class IceCandidate(_Message):
    """Client, after its offer: one trickled ICE candidate; ``candidate`` empty means end of candidates."""

    type: Literal["ice"] = "ice"
    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)  # noqa: N815 - W3C name
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)  # noqa: N815 - W3C name


class ChatSend(_Message):
    """Client, any time after ``joined``: a chat line for the other side."""

    type: Literal["chat"] = "chat"
    text: str = Field(min_length=1, max_length=MAX_CHAT_CHARS)


class EndSession(_Message):
    """Expert only: end the session for everyone; the recording is finalised."""

    type: Literal["end_session"] = "end_session"


class Ping(_Message):
    """Client, any time: keeps proxies from closing an idle socket; answered with ``pong``."""

    type: Literal["ping"] = "ping"


ClientMessage = Annotated[
    Join | Offer | IceCandidate | ChatSend | EndSession | Ping, Field(discriminator="type")
]
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = ("join", "offer", "ice", "chat", "end_session", "ping")


# --- server -> client -------------------------------------------------------------------


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Joined(_Message):
    """Server, answer to ``join``: the client may now send its offer.

    ``ice_servers`` is the server's STUN/TURN configuration for the page's RTCPeerConnection;
    ``peers`` is who else is in the session right now.
    """

    type: Literal["joined"] = "joined"
    session_id: str
    role: Role
    ice_servers: list[IceServer]
    recording: bool
    peers: dict[str, PresenceStatus]


class Answer(_Message):
    """Server, answer to ``offer``: the SDP answer, with all of the server's ICE candidates in it."""

    type: Literal["answer"] = "answer"
    sdp: str


class Presence(_Message):
    """Server, to the other side, whenever a participant joins, drops (``reconnecting``) or leaves."""

    type: Literal["presence"] = "presence"
    role: Role
    status: PresenceStatus


class ChatMessage(_Message):
    """Server, to both sides: a chat line as recorded (the sender sees its own echo)."""

    type: Literal["chat"] = "chat"
    id: str
    from_role: Role
    text: str
    sent_at: str  # ISO 8601, UTC


class RecordingStatus(_Message):
    """Server, to both sides: the recording started, stopped, or was declined by the customer."""

    type: Literal["recording"] = "recording"
    status: RecordingState


class Replaced(_Message):
    """Server, to an older socket of the same role, just before it is closed: a newer tab took over."""

    type: Literal["replaced"] = "replaced"
    reason: str


class SessionEnded(_Message):
    """Server, to both sides, when the expert ends the session (the socket is then closed)."""

    type: Literal["session_ended"] = "session_ended"
    reason: str


class Pong(_Message):
    """Server, answer to ``ping``."""

    type: Literal["pong"] = "pong"


class Error(_Message):
    """Server, answer to a message it could not use. The session goes on unless the socket is closed."""

    type: Literal["error"] = "error"
    code: str
    message: str


ServerMessage = (
    Joined | Answer | Presence | ChatMessage | RecordingStatus | Replaced | SessionEnded | Pong | Error
)


class ProtocolError(Exception):
    """A client message that cannot be used; ``code`` and ``message`` go back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_message(self) -> Error:
        return Error(code=self.code, message=self.message)


class MessageTooLarge(ProtocolError):
    """Over :data:`MAX_MESSAGE_BYTES`: the socket is closed with 1009 (RFC 6455 section 7.4.1)."""


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Turn one frame from a browser into a typed message, or raise :class:`ProtocolError`.

    The size is checked first, on the raw frame, so an oversized message is never decoded.
    """
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            "too_large", f"message of {size} bytes is over the limit of {MAX_MESSAGE_BYTES}"
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("malformed_json", f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("malformed_message", "message must be a JSON object with a 'type' field")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind!r}; expected one of {', '.join(CLIENT_TYPES)}"
        )
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise ProtocolError("invalid_message", f"{kind}: {where}: {first['msg']}") from None


def serialize(message: ServerMessage | ClientMessage) -> str:
    """The one way a message becomes JSON text on the wire."""
    return message.model_dump_json(exclude_none=True)
