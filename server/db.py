"""The data layer: tables for users, API tokens, cases and sessions (SQLAlchemy 2, SQLite by default).

Recordings and their event logs are files (see ``server/media/recorder.py``); the database
keeps only their summary on the session row. Ids and tokens are random (128+ bits), never
sequential, so they can appear in links without leaking how many cases a site has.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Boolean, Float, ForeignKey, String, Text, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from .migrations import add_missing_columns

ROLES = ("expert", "trainer", "admin")
OUTCOMES = ("fixed_remotely", "sent_to_repair", "no_fault_found", "unresolved")
CASE_STATUSES = ("open", "closed")
SESSION_STATES = ("created", "live", "ended")
RECORDING_STATUSES = ("none", "recording", "complete", "partial", "declined", "purged")


def new_id() -> str:
    """A random id: 128 bits, URL-safe."""
    return secrets.token_urlsafe(16)


def new_secret_token() -> str:
    """A random bearer secret: 192 bits, URL-safe."""
    return secrets.token_urlsafe(24)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """Naive UTC datetimes from the database as ISO 8601 with a Z."""
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for scripts; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_contact: Mapped[str] = mapped_column(String(200), default="")
    device_model: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    procedure_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The step of the procedure that fixed it (outcome fixed_remotely only).
    fixed_by_step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    sessions: Mapped[list[RepairSession]] = relationship(
        back_populates="case", order_by="RepairSession.created_at"
    )


class RepairSession(Base):
    """One live call on a case: its customer link, its life and its recording's summary."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    # The customer link secret. Kept in clear so the console can show the link again; it
    # is bound to this session and expires.
    join_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_secret_token)
    token_expires_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="created")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    consent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    recording_status: Mapped[str] = mapped_column(String(16), default="none")
    recording_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)

    case: Mapped[Case] = relationship(back_populates="sessions")


class Database:
    """The engine and a session factory; ``create_all`` makes the schema on first use, and
    ``add_missing_columns`` brings a database made by an older version up to date."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine, Base.metadata)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> Database:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(data_dir / 'repairsight.sqlite3').resolve()}")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with self._factory() as db:
            with db.begin():
                yield db

    def close(self) -> None:
        self.engine.dispose()

    def count_users(self) -> int:
        with self.session() as db:
            return len(db.scalars(select(User.id)).all())


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets the API read while a session writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
