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
    # The page each role's socket came from, as its join named it (None: it did not say).
    pages: dict[Role, str | None] = field(default_factory=lambda: {"customer": None, "expert": None})

    def role_of(self, connection_id: str) -> Role | None:
        for role, current in self.connections.items():
            if current == connection_id:
                return role
        return None

    def peers_seen_by(self, role: Role) -> dict[str, PresenceStatus]:
        return {other(role): self.presence[other(role)]}

    def join(
        self,
        role: Role,
        connection_id: str,
        resumed: bool = False,
        page_id: str | None = None,
        older_open: bool = False,
    ) -> list[Action]:
        """A socket joined as ``role``. A newer socket of the same role takes over from the older,
        and the other side is told when another page took over (:meth:`_taken_over`)."""
        if self.phase == "ended":
            raise ProtocolError("session_ended", "this session has ended; ask the expert for a new link")
        actions: list[Action] = []
        previous = self.connections[role]
        detail = None
        if previous is not None and previous != connection_id:
            reason = "this session was opened in another tab or device, which has taken over"
            actions += [Send(previous, Replaced(reason=reason)), Close(previous, CLOSE_REPLACED, "replaced")]
            if self._taken_over(role, resumed, page_id, older_open):
                who = "The customer" if role == "customer" else "The expert"
                where = "another tab" if resumed else "another tab or device"
                detail = f"{who} opened the session in {where}; that one has taken over"
        self.connections[role] = connection_id
        self.pages[role] = page_id
        self.presence[role] = "joined"
        actions += self._tell_other(role, Presence(role=role, status="joined", detail=detail))
        return actions

    def _taken_over(self, role: Role, resumed: bool, page_id: str | None, older_open: bool) -> bool:
        """Whether a join that replaces an older socket of ``role`` is another page taking over.

        A join without the seat's secret (not ``resumed``) is another page. A customer's page that
        comes back to its seat (``resumed``) is their own page, unless the older socket is still
        open (``older_open``: the server has not seen it close) and the join names another page
        (``page_id``): a copy of the tab, which carries the secret in its copied storage. A reload
        is not one (the page closes its socket as it unloads, before the new page joins), nor is the
        same page rejoining after its network dropped (its older socket may still look open, but its
        page id is the same)."""
        if not resumed:
            return True
        return older_open and page_id is not None and page_id != self.pages[role]

    def customer_kept_out(self, browser: str | None) -> list[Action]:
        """Another browser opened the customer's link and was kept out of their seat
        (``seat_taken``). The expert is told, with the customer's status as it is: the call goes on,
        but whoever runs it should know that the link is in other hands."""
        where = f" ({browser})" if browser else ""
        detail = f"The customer's link was opened in another browser{where} and kept out; the call goes on"
        status = self.presence["customer"]
        return self._tell_other("customer", Presence(role="customer", status=status, detail=detail))

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
