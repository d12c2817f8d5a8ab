"""The live session's state machine: who is connected, and what everyone must be told.

Pure logic, no sockets and no clock: the server calls a method when something happens on a
connection and carries out the actions it gets back (send a message, close a socket). That
keeps the rules (one customer tab at a time, who may end a session, what presence the other
side sees) testable with plain function calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .messages import (
    Annotate,
    ClientMessage,
    EndSession,
    Join,
    LinkReport,
    PointerMove,
    Presence,
    PresenceStatus,
    ProtocolError,
    RemoveAnnotation,
    Replaced,
    Role,
    ServerMessage,
    SessionEnded,
    SetBurnIn,
    SetLanguage,
    SetProcedure,
    StepCommand,
    TakeSnapshot,
)

ROLES: tuple[Role, Role] = ("customer", "expert")
EXPERT_ONLY = (
    EndSession,
    SetProcedure,
    StepCommand,
    Annotate,
    RemoveAnnotation,
    PointerMove,
    TakeSnapshot,
    SetBurnIn,
)
CUSTOMER_ONLY = (SetLanguage, LinkReport)

# WebSocket close codes (RFC 6455 section 7.4; 4000-4999 are for applications).
CLOSE_NORMAL = 1000
CLOSE_TOO_LARGE = 1009
CLOSE_REPLACED = 4001
CLOSE_SESSION_ENDED = 4002
CLOSE_FORBIDDEN = 4003
# The page did not read what the server sent it fast enough: its socket was dropped rather than
# let it hold up the session (the page reconnects).
CLOSE_TOO_SLOW = 4008


@dataclass(frozen=True)
class Send:
    connection_id: str
    message: ServerMessage


@dataclass(frozen=True)
class Close:
    connection_id: str
    code: int
    reason: str


Action = Send | Close


def other(role: Role) -> Role:
    return "expert" if role == "customer" else "customer"


@dataclass
class SessionMachine:
    """One session's participants. ``presence`` is what each side is shown about the other."""

    session_id: str
    phase: Literal["open", "ended"] = "open"
    connections: dict[Role, str | None] = field(default_factory=lambda: {"customer": None, "expert": None})
    presence: dict[Role, PresenceStatus] = field(
        default_factory=lambda: {"customer": "left", "expert": "left"}
    )

    def role_of(self, connection_id: str) -> Role | None:
        for role, current in self.connections.items():
            if current == connection_id:
                return role
        return None

    def peers_seen_by(self, role: Role) -> dict[str, PresenceStatus]:
        return {other(role): self.presence[other(role)]}

    def join(self, role: Role, connection_id: str, resumed: bool = False) -> list[Action]:
        """A socket joined as ``role``. A newer socket of the same role takes over from the older;
        the other side is told it was another tab unless the page came back to its own seat
        (``resumed``: its older socket is the one its dropped network left behind)."""
        if self.phase == "ended":
            raise ProtocolError("session_ended", "this session has ended; ask the expert for a new link")
        actions: list[Action] = []
        previous = self.connections[role]
        detail = None
        if previous is not None and previous != connection_id:
            reason = "this session was opened in another tab or device, which has taken over"
            actions += [Send(previous, Replaced(reason=reason)), Close(previous, CLOSE_REPLACED, "replaced")]
            who = "The customer" if role == "customer" else "The expert"
            if not resumed:
                detail = f"{who} opened the session in another tab or device; that one has taken over"
        self.connections[role] = connection_id
        self.presence[role] = "joined"
        actions += self._tell_other(role, Presence(role=role, status="joined", detail=detail))
        return actions

    def check_allowed(self, connection_id: str, message: ClientMessage) -> Role:
        """The role a message comes from, once it may be used; raises ProtocolError otherwise."""
        role = self.role_of(connection_id)
        if role is None:
            if isinstance(message, Join):
                raise ProtocolError("already_joined", "this socket is no longer part of the session")
            raise ProtocolError("not_joined", "send a 'join' message first")
        if isinstance(message, Join):
            raise ProtocolError(
                "already_joined", "this socket has already joined; open a new socket to rejoin"
            )
        if self.phase == "ended":
            raise ProtocolError("session_ended", "this session has ended")
        if isinstance(message, EXPERT_ONLY) and role != "expert":
            raise ProtocolError("forbidden", f"only the expert may send '{message.type}'")
        if isinstance(message, CUSTOMER_ONLY) and role != "customer":
            raise ProtocolError("forbidden", f"only the customer may send '{message.type}'")
        return role

    def broadcast(self, message: ServerMessage) -> list[Action]:
        """A message both sides see: a chat line (the sender's echo is its confirmation), a
        recording status."""
        return [Send(conn, message) for conn in self.connections.values() if conn is not None]

    def media_lost(self, role: Role, connection_id: str) -> list[Action]:
        """The participant's socket or media dropped unexpectedly: the other side sees ``reconnecting``."""
        if self.connections[role] != connection_id or self.phase == "ended":
            return []
        self.presence[role] = "reconnecting"
        return self._tell_other(role, Presence(role=role, status="reconnecting"))

    def leave(self, role: Role, connection_id: str) -> list[Action]:
        """The participant left for good (closed the page, or did not come back in time)."""
        if self.connections[role] != connection_id:
            return []
        self.connections[role] = None
        self.presence[role] = "left"
        return self._tell_other(role, Presence(role=role, status="left"))

    def end(self, reason: str) -> list[Action]:
        """End the session: everyone is told, then every socket is closed."""
        if self.phase == "ended":
            return []
        self.phase = "ended"
        actions: list[Action] = []
        for role in ROLES:
            conn = self.connections[role]
            if conn is not None:
                actions += [
                    Send(conn, SessionEnded(reason=reason)),
                    Close(conn, CLOSE_SESSION_ENDED, "session ended"),
                ]
            self.connections[role] = None
            self.presence[role] = "left"
        return actions

    def _tell_other(self, role: Role, message: ServerMessage) -> list[Action]:
        conn = self.connections[other(role)]
        return [Send(conn, message)] if conn is not None else []
