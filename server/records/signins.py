"""Staff sign-ins kept on the server: a signed-in browser's cookie names one row here, so signing
out ends it for good (a copied cookie stops working too), a password change ends the user's other
sign-ins, and an admin can list every browser signed in and end any of them.

A cookie from before sign-ins were kept (no sign-in id) no longer signs anyone in: that user signs in
once more after the upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..clock import utcnow
from ..errors import NotFound
from .accounts import Principal, principal_for_user_id
from .database import Database
from .models import StaffSignIn, User

# last_seen_at is written at most this often per sign-in (a page makes many requests a minute).
SEEN_EVERY = timedelta(minutes=1)
MAX_USER_AGENT_CHARS = 200


@dataclass(frozen=True)
class SignInInfo:
    id: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    address: str | None
    user_agent: str | None


def start_sign_in(db: Database, user_id: str, address: str | None, user_agent: str | None) -> str:
    """A new sign-in for ``user_id``; returns its id (for the cookie)."""
    with db.session() as s:
        row = StaffSignIn(
            user_id=user_id, address=address, user_agent=(user_agent or "")[:MAX_USER_AGENT_CHARS] or None
        )
        s.add(row)
        s.flush()
        return row.id


def principal_for_sign_in(db: Database, user_id: str, sign_in_id: str | None) -> Principal | None:
    """The staff user a cookie names, while its sign-in has not ended (and the account is enabled)."""
    if not sign_in_id:
        return None
    with db.session() as s:
        row = s.get(StaffSignIn, sign_in_id)
        if row is None or row.ended_at is not None or row.user_id != user_id:
            return None
        now = utcnow()
        if now - row.last_seen_at >= SEEN_EVERY:
            row.last_seen_at = now
    return principal_for_user_id(db, user_id)


def end_sign_in(db: Database, sign_in_id: str) -> SignInInfo:
    """End one sign-in (signing out, or an admin); ``NotFound`` when there is no such live sign-in."""
    with db.session() as s:
        found = s.execute(
            select(StaffSignIn, User.username)
            .join(User)
            .where(StaffSignIn.id == sign_in_id, StaffSignIn.ended_at.is_(None))
        ).first()
        if found is None:
            raise NotFound(f"there is no live sign-in {sign_in_id!r}")
        row, username = found
        row.ended_at = utcnow()
        return _info(row, username)


def end_sign_ins_of(db: Database, user_id: str, keep: str | None = None) -> int:
    """End every live sign-in of ``user_id`` but ``keep``; returns how many were ended."""
    with db.session() as s:
        statement = update(StaffSignIn).where(StaffSignIn.user_id == user_id, StaffSignIn.ended_at.is_(None))
        if keep is not None:
            statement = statement.where(StaffSignIn.id != keep)
        return int(s.execute(statement.values(ended_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]


def list_sign_ins(db: Database) -> list[SignInInfo]:
    """The live sign-ins, most recently seen first."""
    with db.session() as s:
        rows = s.execute(
            select(StaffSignIn, User.username)
            .join(User)
            .where(StaffSignIn.ended_at.is_(None))
            .order_by(StaffSignIn.last_seen_at.desc(), StaffSignIn.id)
        )
        return [_info(row, username) for row, username in rows]


def _info(row: StaffSignIn, username: str) -> SignInInfo:
    return SignInInfo(row.id, username, row.created_at, row.last_seen_at, row.address, row.user_agent)
