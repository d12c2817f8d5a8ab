"""The tables: users, API tokens, cases and sessions (SQLAlchemy 2 declarative models).

Recordings and their event logs are files (``server/recordings``); the database keeps only their
summary on the session row. Which values a column may hold is ``vocabulary.py``'s; how a session
row changes is ``sessions.py``'s.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..clock import utcnow
from .tokens import new_id, new_secret_token


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
