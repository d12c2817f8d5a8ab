"""Every message of the ``/ws`` signaling protocol, defined once.

Each model's docstring says who sends it and when; ``docs/protocol.md`` is the reader's
version and ``client_web/js/signaling.js`` mirrors the type names and fields. Messages are
JSON objects with a ``type`` field. :func:`parse_client_message` is the one way in (it
checks the size before it decodes anything, so a huge message costs nothing) and
:func:`serialize` the one way out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from . import json_limits

MAX_MESSAGE_BYTES = 64 * 1024
MAX_CHAT_CHARS = 2000
MAX_SDP_CHARS = 60_000
# Steps of the customer's video on a weak link (``client_web/js/link-adapt.js`` has four, 0-3).
MAX_LINK_LEVEL = 9
# The protocol's version, sent in every ``join``: a page from before a change to the protocol (a
# tab left open across an upgrade, or a cached script) is told to reload rather than half-work.
# Raise it with every change that an older page would misread; ``client_web/js/signaling.js``
# sends its own copy.
PROTOCOL_VERSION = 1

Role = Literal["customer", "expert"]
PresenceStatus = Literal["joined", "reconnecting", "left"]
# A session's recording, as the badge on both pages and the session row say it (the row's
# ``recording_status``): none yet, being written, finished (complete, or partial when the server
# stopped mid-session), declined by the customer, or deleted by the retention policy.
RecordingState = Literal["none", "recording", "complete", "partial", "declined", "purged"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server -------------------------------------------------------------------


# A language tag (``de``, ``pt-BR``, ``zh-Hant``), as the page's catalogs are named (server/languages.py).
LANGUAGE_TAG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"


class ClientInfo(_Message):
    """What a page says about its browser: its user agent, and the language its page is shown in
    (a language tag such as ``de`` or ``pt-BR``), for the other side to see."""

    user_agent: str = Field(default="", max_length=400)
    language: str | None = Field(default=None, max_length=35, pattern=LANGUAGE_TAG_PATTERN)


class Join(_Message):
    """Client, first message on a new socket: who it is and which session it joins.

    A customer proves itself with the link ``token`` and says whether it consents to the
    recording; an expert is known by its signed-in cookie or bearer token, and names the
    ``session_id``. ``client`` describes the browser (the expert sees the customer's).
    A customer coming back (a reload, a dropped network) sends the ``resume`` secret its first
    ``joined`` gave it: that keeps its seat, even past the link's expiry. ``page_id`` names the
    page that sends it (made once per page load, kept in memory only): a copy of the tab carries
    the same secret but another page id, so the expert can be told it took the page over.
    """

    type: Literal["join"] = "join"
    role: Role
    session_id: str | None = Field(default=None, max_length=64)
    token: str | None = Field(default=None, max_length=128)
    consent: bool = False
    client: ClientInfo | None = None
    resume: str | None = Field(default=None, max_length=64)
    page_id: str | None = Field(default=None, max_length=64)
    # Any integer, so a page of another version is told to reload (``check_protocol_version``)
    # rather than that its join is malformed. Missing: a page from before versions.
    version: int | None = Field(default=None, ge=0, le=1_000_000, strict=True)


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


class ClientProblem(_Message):
    """Client, any time after ``joined``: something on the page failed that the server cannot see
    (the peer connection could not start, the camera stopped); logged, and told to the other side."""

    type: Literal["client_problem"] = "client_problem"
    problem: str = Field(min_length=1, max_length=500)


class LinkFigures(_Message):
    """How the customer's link is doing, as the customer's page reads its own sender's statistics
    once a second (W3C webrtc-stats): whether it is ``weak``, the ``level`` its video is stepped down
    to (0 the camera as it is, up to :data:`MAX_LINK_LEVEL`), what it sends (``sent_kbps``, audio
    and video), the video it sends (``video_fps``, ``video_width`` x ``video_height``), the share of
    its packets lost on the way to the server (``loss_pct``), the round trip (``rtt_ms``) and the
    browser's bandwidth estimate (``available_kbps``); None where the browser had no figure yet."""

    weak: bool
    level: int = Field(ge=0, le=MAX_LINK_LEVEL)
    sent_kbps: float | None = Field(default=None, ge=0, le=1_000_000)
    video_fps: float = Field(default=0, ge=0, le=1000)
    video_width: int = Field(default=0, ge=0, le=16384)
    video_height: int = Field(default=0, ge=0, le=16384)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    rtt_ms: float | None = Field(default=None, ge=0, le=600_000)
    available_kbps: float | None = Field(default=None, ge=0, le=100_000_000)


class LinkReport(LinkFigures):
    """Customer only, while live: its link's figures, once a second while the link is weak, at each
    change, and every few seconds otherwise (``client_web/js/link-adapt.js``). Passed on to the
    expert as the server's ``link_quality``."""

    type: Literal["link_quality"] = "link_quality"


class SetLanguage(_Message):
    """Customer only, any time after ``joined``: its page is now shown in ``language`` (the picker
    changed it). The server sends the customer the procedure in that language, its overlay labels
    follow, and the expert is told (``participant_info``)."""

    type: Literal["set_language"] = "set_language"
    language: str = Field(max_length=35, pattern=LANGUAGE_TAG_PATTERN)


class EndSession(_Message):
    """Expert only: end the session for everyone; the recording is finalised."""

    type: Literal["end_session"] = "end_session"


class Ping(_Message):
    """Client, any time: keeps proxies from closing an idle socket; answered with ``pong``."""

    type: Literal["ping"] = "ping"


Point = tuple[float, float]


class SetProcedure(_Message):
    """Expert only, any time: guide with this procedure from its first step (``None``: no procedure)."""

    type: Literal["set_procedure"] = "set_procedure"
    procedure_id: str | None = Field(max_length=100)


class StepCommand(_Message):
    """Expert only, with a procedure chosen: go to the next or previous step, or jump to ``step_id``.

    ``action`` ``complete`` marks the current step done (the expert overrides vision) and
    moves on.
    """

    type: Literal["step"] = "step"
    action: Literal["next", "previous", "jump", "complete"]
    step_id: str | None = Field(default=None, max_length=100)


ShapeKind = Literal["arrow", "circle", "rect", "freehand", "text"]


class Annotate(_Message):
    """Expert only: a mark drawn on the video, in the pixels of the frame it was drawn on.

    ``frame_timestamp_ms`` is the ``timestamp_ms`` of the AR state of that frame (the live
    one, or the frozen one): the server maps the points through that frame's homography into
    reference pixels, so the mark stays on the device. Points: arrow and rect [from, to],
    circle [centre, a point on the rim], freehand 2-500 points, text [anchor] with ``text``.
    """

    type: Literal["annotate"] = "annotate"
    shape: ShapeKind
    points_frame_px: list[Point] = Field(min_length=1, max_length=500)
    frame_timestamp_ms: int | None = None
    frame_size: tuple[int, int] = Field(description="width, height of the frame the points are in")
    text: str | None = Field(default=None, max_length=200)


class RemoveAnnotation(_Message):
    """Expert only: take one of its marks away (``id`` from ``annotation_added``)."""

    type: Literal["remove_annotation"] = "remove_annotation"
    id: str = Field(max_length=64)


class PointerMove(_Message):
    """Expert only, while pointing: a transient dot at (x, y) in frame pixels; ``None`` hides it."""

    type: Literal["pointer"] = "pointer"
    x_frame_px: float | None = None
    y_frame_px: float | None = None
    frame_size: tuple[int, int] = (640, 480)


class TakeSnapshot(_Message):
    """Expert only: save the current full-resolution frame (with its AR state) to the case."""

    type: Literal["snapshot"] = "snapshot"


class SetBurnIn(_Message):
    """Expert only: draw the overlay into the expert's video on the server (costs a re-encode)."""

    type: Literal["burn_in"] = "burn_in"
    enabled: bool


ClientMessage = Annotated[
    Join
    | Offer
    | IceCandidate
    | ChatSend
    | EndSession
    | Ping
    | SetProcedure
    | StepCommand
    | Annotate
    | RemoveAnnotation
    | PointerMove
    | TakeSnapshot
    | SetBurnIn
    | ClientProblem
    | LinkReport
    | SetLanguage,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = (
    "join",
    "offer",
    "ice",
    "chat",
    "end_session",
    "ping",
    "set_procedure",
    "step",
    "annotate",
    "remove_annotation",
    "pointer",
    "snapshot",
    "burn_in",
    "client_problem",
    "link_quality",
    "set_language",
)


# --- server -> client -------------------------------------------------------------------


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Joined(_Message):
    """Server, answer to ``join``: the client may now send its offer.

    ``ice_servers`` is the server's STUN/TURN configuration for the page's RTCPeerConnection;
    ``peers`` is who else is in the session right now. A customer gets ``resume``, the secret that
    binds the seat to it: the page keeps it and sends it in every later ``join``.
    """

    type: Literal["joined"] = "joined"
    session_id: str
    role: Role
    ice_servers: list[IceServer]
    recording: bool
    peers: dict[str, PresenceStatus]
    resume: str | None = None


class Answer(_Message):
    """Server, answer to ``offer``: the SDP answer, with all of the server's ICE candidates in it."""

    type: Literal["answer"] = "answer"
    sdp: str


class Presence(_Message):
    """Server, to the other side, whenever a participant joins, drops (``reconnecting``) or leaves.
    ``detail`` says more when there is more to say (their page was taken over by another tab); the
    expert also gets one, with the customer's unchanged status, when another browser that opened the
    customer's link was kept out of their seat."""

    type: Literal["presence"] = "presence"
    role: Role
    status: PresenceStatus
    detail: str | None = None


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


class ProcedureState(_Message):
    """Server, to both sides: on join and whenever the expert picks a procedure or the step changes
    (and to the customer when its ``set_language`` changes its language).

    ``procedure`` is the procedure as ``GET /api/procedures/{id}`` gives it (None: no procedure),
    its texts in the receiver's language: the expert's in the procedure's main language, the
    customer's in its page's language where the procedure has a translation (``procedure.language``);
    ``step_id``/``step_index`` is the current step, ``completed`` the steps done so far.
    """

    type: Literal["procedure"] = "procedure"
    procedure: dict[str, Any] | None
    step_id: str | None
    step_index: int | None
    completed: list[str]
    changed_by: Literal["expert", "vision", "server", "customer"] | None = None


class SessionAnnotation(_Message):
    """An expert's mark as the session keeps it.

    Anchored marks are in reference pixels of the procedure's device (``points_ref_px``) and
    come back projected in every AR state; a mark drawn while no device was located is pinned
    to the screen, in fractions of the frame (``points_frame_fraction``, 0..1).
    """

    id: str
    shape: ShapeKind
    anchored: bool
    points_ref_px: list[Point] | None = None
    points_frame_fraction: list[Point] | None = None
    text: str | None = None
    step_id: str | None = None


class AnnotationAdded(_Message):
    """Server, to both sides, after an ``annotate``: the mark as kept (``anchored`` says where)."""

    type: Literal["annotation_added"] = "annotation_added"
    annotation: SessionAnnotation


class AnnotationRemoved(_Message):
    """Server, to both sides, after a ``remove_annotation``."""

    type: Literal["annotation_removed"] = "annotation_removed"
    id: str


class Pointer(_Message):
    """Server, to the customer: the expert's pointer (None hides it), in fractions of the frame."""

    type: Literal["pointer"] = "pointer"
    x_fraction: float | None
    y_fraction: float | None


class SnapshotSaved(_Message):
    """Server, to the expert: a snapshot was saved to the case (``url``: with the marks as the expert
    saw them; ``clean_url``: the frame alone)."""

    type: Literal["snapshot_saved"] = "snapshot_saved"
    id: str
    url: str
    clean_url: str
    t_ms: int | None
    device_found: bool


class BurnInState(_Message):
    """Server, to the expert: whether the overlay is drawn into its video on the server."""

    type: Literal["burn_in"] = "burn_in"
    enabled: bool


class ParticipantInfo(_Message):
    """Server, to the expert: the other side's browser (``browser``, in words), and what stops it
    from taking part when something does (``problem``: its browser cannot make calls, its media
    never arrived, a failure it reported)."""

    type: Literal["participant_info"] = "participant_info"
    role: Role
    browser: str
    problem: str | None = None
    # The language the customer's page is shown in (a language tag), when the page said.
    language: str | None = None


class VisionStatus(_Message):
    """Server, to the expert, when AR stops or comes back on its own: ``restarting`` (its media worker
    stopped; AR and burn-in pause, the call goes on), ``running`` (back), ``failed`` (vision gave up
    on this procedure; picking it again restarts it). ``message`` is for people."""

    type: Literal["vision_status"] = "vision_status"
    state: Literal["restarting", "running", "failed"]
    message: str


class LinkQuality(LinkFigures):
    """Server, to the expert: the customer's last ``link_quality`` figures, as the page sent them
    (and at the expert's join, when the customer's last report is recent). The console shows a
    "weak connection" sign with them while ``weak``."""

    type: Literal["link_quality"] = "link_quality"
    role: Role = "customer"


class ArStateUpdate(_Message):
    """Server, on the ``ar`` data channel (unordered, no retransmits: the newest wins), to both
    sides, at the rate vision runs: where the device is in the frame ``timestamp_ms`` and what
    to draw there. Frame pixels of a ``frame_size`` frame; clients scale to their video element.

    Built from ``vision.ARState.to_dict()`` plus the session's ``seq``, ``step_id`` and pinned
    marks; see docs/protocol.md for every field.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["ar_state"] = "ar_state"
    seq: int
    step_id: str | None
    timestamp_ms: int
    frame_size: list[int]
    found: bool
    outline_frame_px: list[list[float]] | None
    homography: list[list[float]] | None
    annotations: list[dict[str, Any]]
    target_frame_px: list[list[float]] | None
    hands: list[dict[str, Any]]
    step_completed: bool
    pinned: list[SessionAnnotation] = []
    # Which frame this is, for the pages to put the state on the very frame it was computed on:
    # the RTP timestamp the phone put on it (the customer's page), and the RTP timestamp it has in
    # the video the expert's page receives (their `requestVideoFrameCallback` metadata).
    rtp_timestamp: int | None = None
    stream_timestamp: int | None = None
    # How far this frame is behind the newest one the server has received (ms).
    lag_ms: int | None = None


ServerMessage = (
    Joined
    | Answer
    | Presence
    | ChatMessage
    | RecordingStatus
    | Replaced
    | SessionEnded
    | Pong
    | Error
    | ProcedureState
    | AnnotationAdded
    | AnnotationRemoved
    | Pointer
    | SnapshotSaved
    | BurnInState
    | VisionStatus
    | ParticipantInfo
    | LinkQuality
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


class OutdatedPage(ProtocolError):
    """A ``join`` from a page of another protocol version: it must reload to get the current one."""


OUTDATED_PAGE_MESSAGE = "This page is out of date; reload it to continue."


def check_protocol_version(join: Join) -> None:
    """Raise :class:`OutdatedPage` unless ``join`` speaks :data:`PROTOCOL_VERSION`."""
    if join.version != PROTOCOL_VERSION:
        raise OutdatedPage("outdated_page", OUTDATED_PAGE_MESSAGE)


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Turn one frame from a browser into a typed message, or raise :class:`ProtocolError`.

    The size is checked first, on the raw frame, so an oversized message is never decoded; the
    JSON is read with limits (``signaling.json_limits``: depth, number length), so no frame can
    make the decoder itself fail.
    """
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            "too_large", f"message of {size} bytes is over the limit of {MAX_MESSAGE_BYTES}"
        )
    try:
        data = json_limits.loads(raw)
    except json_limits.JSONRejected as exc:
        raise ProtocolError("malformed_json", f"message is not valid JSON, or past a limit: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("malformed_message", "message must be a JSON object with a 'type' field")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {repr(kind)[:40]}; expected one of {', '.join(CLIENT_TYPES)}",
        )
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        if kind == "chat" and where == "text" and first["type"] == "string_too_long":
            raise ProtocolError(
                "chat_too_long",
                f"chat: the text has {len(data['text'])} characters, over the {MAX_CHAT_CHARS} of one line: "
                "send it in shorter parts",
            ) from None
        raise ProtocolError("invalid_message", f"{kind}: {where}: {first['msg']}") from None


def serialize(message: ServerMessage | ClientMessage) -> str:
    """The one way a message becomes JSON text on the wire."""
    return message.model_dump_json(exclude_none=True)
