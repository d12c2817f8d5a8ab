"""Customer links: how a link token is made and stored, whether it can still be used, and why not.

One rule for the join page and the signaling socket alike. Only the SHA-256 of a token is stored
(as for API tokens): the clear token exists in the answer that made the session and in the link
sent to the customer, never in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from ..clock import utcnow
from .database import Database
from .models import RepairSession
from .tokens import new_secret_token, sha256_hex

LinkProblem = Literal["unknown", "ended", "expired"]


@dataclass(frozen=True)
class LinkCheck:
    session_id: str | None
    problem: LinkProblem | None


def new_link_token() -> tuple[str, str]:
    """A new link token and the hash it is stored as."""
    token = new_secret_token()
    return token, link_token_hash(token)


def link_token_hash(token: str) -> str:
    return sha256_hex(token)


def session_of_link(db: Database, token: str) -> RepairSession | None:
    """The session whose link carries ``token``, looked up by the token's hash."""
    wanted = link_token_hash(token)
    with db.session() as s:
        return s.scalar(select(RepairSession).where(RepairSession.join_token_sha256 == wanted))


def check_link(db: Database, token: str) -> LinkCheck:
    row = session_of_link(db, token)
    if row is None:
        return LinkCheck(None, "unknown")
    if row.state == "ended":
        return LinkCheck(row.id, "ended")
    # A live session stays joinable past the expiry, so a customer whose phone dropped can reload.
    if row.state != "live" and row.token_expires_at <= utcnow():
        return LinkCheck(row.id, "expired")
    return LinkCheck(row.id, None)
