"""The schema of RepairSight 0.1, frozen: what ``create_all`` made before there were migrations.

Never edit it to follow ``models.py``: a change of schema is a new revision in ``versions/``. It
is written out (not taken from the models) because it is also the target that a database made
before migrations is brought up to before it is stamped (``schema.py``); its plain column
defaults are the values such a database's existing rows get for a column they lack.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Integer, MetaData, String, Table, Text

BASELINE_REVISION = "0001"


def baseline_metadata() -> MetaData:
    """The 0.1 tables, on a new ``MetaData`` each call (so a caller may bind or alter it freely)."""
    metadata = MetaData()
    Table(
        "users",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("password_hash", String(256), nullable=False),
        Column("role", String(16), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("must_change_password", Boolean, nullable=False, default=False),
        Column("disabled_at", DateTime, nullable=True),
    )
    Table(
        "api_tokens",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
        Column("token_sha256", String(64), nullable=False, unique=True),
        Column("label", String(128), nullable=False, default=""),
        Column("created_at", DateTime, nullable=False),
    )
    Table(
        "cases",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("title", String(200), nullable=False),
        Column("customer_name", String(200), nullable=False, default=""),
        Column("customer_contact", String(200), nullable=False, default=""),
        Column("device_model", String(200), nullable=False, default=""),
        Column("notes", Text, nullable=False, default=""),
        Column("status", String(16), nullable=False, default="open"),
        Column("outcome", String(32), nullable=True),
        Column("procedure_id", String(100), nullable=True),
        Column("fixed_by_step", String(100), nullable=True),
        Column("created_by", String(32), ForeignKey("users.id"), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "sessions",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
        Column("join_token", String(64), nullable=False, unique=True),
        Column("token_expires_at", DateTime, nullable=False),
        Column("state", String(16), nullable=False, default="created"),
        Column("created_by", String(32), ForeignKey("users.id"), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("started_at", DateTime, nullable=True),
        Column("ended_at", DateTime, nullable=True),
        Column("end_reason", String(200), nullable=True),
        Column("consent", Boolean, nullable=True),
        Column("consent_at", DateTime, nullable=True),
        Column("recording_status", String(16), nullable=False, default="none"),
        Column("recording_duration_s", Float, nullable=True),
    )
    Table(
        "search_entries",
        metadata,
        Column("session_id", String(32), nullable=False, index=True),
        Column("t_ms", Integer, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("key", String(100), nullable=True),
        Column("text", Text, nullable=False),
    )
    Table(
        "search_indexed",
        metadata,
        Column("session_id", String(32), primary_key=True),
        Column("signature", String(64), nullable=False),
    )
    return metadata
