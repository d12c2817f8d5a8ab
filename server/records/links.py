"""Customer links: whether a link token can still be used, and why not.

One rule for the join page and the signaling socket alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from ..clock import utcnow
from .database import Database
from .models import RepairSession

LinkProblem = Literal["unknown", "ended", "expired"]


@dataclass(frozen=True)
class LinkCheck:
    session_id: str | None
    problem: LinkProblem | None


def check_link(db: Database, token: str) -> LinkCheck:
    with db.session() as s:
        row = s.scalar(select(RepairSession).where(RepairSession.join_token == token))
        if row is None:
            return LinkCheck(None, "unknown")
        if row.state == "ended":
            return LinkCheck(row.id, "ended")
        # A live session stays joinable past the expiry, so a customer whose phone dropped can reload.
        if row.state != "live" and row.token_expires_at <= utcnow():
            return LinkCheck(row.id, "expired")
        return LinkCheck(row.id, None)
