"""Accounts, passwords and tokens, tested on the records directly (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server.cli.common import open_database
from server.clock import utcnow
from server.config import Settings
from server.errors import Invalid
from server.records import accounts as auth
from server.records.database import Database
from server.records.models import ApiToken, Case, RepairSession, User


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(Settings(data_dir=tmp_path))
    yield database
    database.close()


def test_passwords_are_stored_as_argon2_hashes(db: Database) -> None:
    auth.create_user(db, "erin", "expert", "correct-horse")
    with db.session() as s:
        stored = s.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$") and "correct-horse" not in stored


def test_verify_login(db: Database) -> None:
    user = auth.create_user(db, "erin", "expert", "correct-horse")
    assert auth.verify_login(db, "erin", "correct-horse") == auth.Principal(user.id, "erin", "expert")
    assert auth.verify_login(db, "erin", "Correct-horse") is None
    assert auth.verify_login(db, "nobody", "correct-horse") is None


def test_a_username_is_taken_once(db: Database) -> None:
    auth.create_user(db, "erin", "expert", "correct-horse")
    with pytest.raises(auth.UsernameTaken, match="already exists"):
        auth.create_user(db, "erin", "trainer", "another-password")
    assert db.count_users() == 1


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("erin", "boss", "correct-horse", "role must be one of"),
        ("erin", "customer", "correct-horse", "role must be one of"),
        ("", "expert", "correct-horse", "username"),
        (" erin", "expert", "correct-horse", "username"),
        ("x" * 65, "expert", "correct-horse", "username"),
        ("erin", "expert", "short", "at least 8"),
    ],
)
def test_bad_account_details_are_refused(
    db: Database, username: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        auth.create_user(db, username, role, password)
    assert db.count_users() == 0


def test_the_first_admin_is_created_once(db: Database) -> None:
    password = auth.ensure_first_admin(db)
    assert password is not None and len(password) >= 16
    assert auth.verify_login(db, "admin", password) is not None
    assert auth.ensure_first_admin(db) is None
    assert db.count_users() == 1


def test_no_first_admin_when_there_are_users(db: Database) -> None:
    auth.create_user(db, "erin", "expert", "correct-horse")
    assert auth.ensure_first_admin(db) is None
    assert auth.find_user(db, "admin") is None


def test_api_tokens_are_stored_hashed_and_resolve_to_their_user(db: Database) -> None:
    user = auth.create_user(db, "erin", "expert", "correct-horse")
    token = auth.create_api_token(db, user, "ci")
    with db.session() as s:
        row = s.scalars(select(ApiToken)).one()
    assert row.token_sha256 != token and token not in row.token_sha256 and row.label == "ci"
    assert auth.principal_for_token(db, token) == auth.Principal(user.id, "erin", "expert")
    assert auth.principal_for_token(db, token + "x") is None


def test_a_customer_link_token_resolves_to_a_customer_of_one_session(db: Database) -> None:
    with db.session() as s:
        case = Case(title="x")
        s.add(case)
        s.flush()
        row = RepairSession(case_id=case.id, token_expires_at=utcnow() + timedelta(hours=1))
        s.add(row)
    principal = auth.principal_for_token(db, row.join_token)
    assert principal is not None
    assert principal.role == "customer" and principal.session_id == row.id and not principal.is_staff
