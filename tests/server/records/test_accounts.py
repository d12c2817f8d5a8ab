"""Accounts, passwords and tokens, tested on the records directly (no HTTP)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from server.cli.common import open_database
from server.config import Settings
from server.errors import Conflict, Invalid, NotFound
from server.records import accounts as auth
from server.records.database import Database
from server.records.models import ApiToken, Case, User
from server.records.sessions import insert_session

pytestmark = pytest.mark.both_databases


@pytest.fixture
def db(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    database = open_database(Settings(data_dir=tmp_path, database=database_url))
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
    row, token = insert_session(db, case.id, None, 3600)
    principal = auth.principal_for_token(db, token)
    assert principal is not None
    assert principal.role == "customer" and principal.session_id == row.id and not principal.is_staff


# --- one-time passwords ----------------------------------------------------------------------


def test_the_first_admins_password_is_one_time_until_changed(db: Database) -> None:
    password = auth.ensure_first_admin(db)
    assert password is not None
    principal = auth.verify_login(db, "admin", password)
    assert principal is not None and principal.must_change_password
    assert principal.user_id is not None

    changed = auth.change_password(db, principal.user_id, password, "my own admin password")
    assert not changed.must_change_password
    assert auth.verify_login(db, "admin", password) is None
    again = auth.verify_login(db, "admin", "my own admin password")
    assert again is not None and not again.must_change_password
    assert auth.principal_for_user_id(db, principal.user_id) == again


def test_a_chosen_password_is_not_one_time(db: Database) -> None:
    auth.create_user(db, "erin", "expert", "correct-horse")
    auth.create_user(db, "tom", "trainer", "generated-horse", one_time=True)
    erin = auth.verify_login(db, "erin", "correct-horse")
    tom = auth.verify_login(db, "tom", "generated-horse")
    assert erin is not None and not erin.must_change_password
    assert tom is not None and tom.must_change_password


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong-password", "a fresh password", "current_password: that is not your current password"),
        ("generated-horse", "short", "the new password needs at least 8 characters"),
        (
            "generated-horse",
            "generated-horse",
            "new_password: choose a password different from the current one",
        ),
    ],
)
def test_a_password_change_is_refused_with_a_reason_and_changes_nothing(
    db: Database, current: str, new: str, message: str
) -> None:
    user = auth.create_user(db, "tom", "trainer", "generated-horse", one_time=True)
    with pytest.raises(Invalid, match=message):
        auth.change_password(db, user.id, current, new)
    principal = auth.verify_login(db, "tom", "generated-horse")
    assert principal is not None and principal.must_change_password


def test_an_admin_sets_or_resets_a_password(db: Database) -> None:
    user = auth.create_user(db, "erin", "expert", "correct-horse")
    assert auth.set_password(db, user.id, "chosen-by-admin", one_time=False).must_change_password is False
    assert auth.verify_login(db, "erin", "correct-horse") is None
    assert auth.verify_login(db, "erin", "chosen-by-admin") == auth.Principal(user.id, "erin", "expert")

    reset, password = auth.reset_password(db, user.id)
    assert reset.must_change_password and len(password) >= 16
    principal = auth.verify_login(db, "erin", password)
    assert principal is not None and principal.must_change_password

    with pytest.raises(Invalid, match="at least 8"):
        auth.set_password(db, user.id, "short", one_time=False)
    with pytest.raises(NotFound, match="no user with the id 'ghost'"):
        auth.reset_password(db, "ghost")


def test_an_api_token_is_not_held_back_by_a_one_time_password(db: Database) -> None:
    """Tokens are made at the server's shell, not from the password: scripts keep working."""
    auth.ensure_first_admin(db)
    admin = auth.first_admin(db)
    assert admin is not None and admin.must_change_password
    principal = auth.principal_for_token(db, auth.create_api_token(db, admin))
    assert principal is not None and not principal.must_change_password


# --- listing, disabling ----------------------------------------------------------------------


def test_users_are_listed_oldest_first(db: Database) -> None:
    auth.ensure_first_admin(db)
    auth.create_user(db, "erin", "expert", "correct-horse")
    users = auth.list_users(db)
    assert [(u.username, u.role, u.disabled, u.must_change_password) for u in users] == [
        ("admin", "admin", False, True),
        ("erin", "expert", False, False),
    ]
    assert auth.user_named(db, "erin").id == users[1].id
    with pytest.raises(NotFound, match="no user named 'ghost'; 'repairsight user list' shows the accounts"):
        auth.user_named(db, "ghost")


def test_a_disabled_account_loses_its_password_cookie_and_tokens_until_enabled(db: Database) -> None:
    user = auth.create_user(db, "erin", "expert", "correct-horse")
    token = auth.create_api_token(db, user, "ci")
    assert auth.set_disabled(db, user.id, True).disabled
    with pytest.raises(auth.AccountDisabled, match="the account 'erin' is disabled; ask an admin"):
        auth.verify_login(db, "erin", "correct-horse")
    assert auth.verify_login(db, "erin", "wrong-password") is None  # says nothing more to a guess
    assert auth.principal_for_user_id(db, user.id) is None
    with pytest.raises(auth.AccountDisabled, match="belongs to 'erin', whose account is disabled"):
        auth.principal_for_token(db, token)
    assert auth.set_disabled(db, user.id, True).disabled  # twice is harmless

    assert not auth.set_disabled(db, user.id, False).disabled
    assert auth.verify_login(db, "erin", "correct-horse") is not None
    assert auth.principal_for_token(db, token) is not None
    assert auth.principal_for_user_id(db, user.id) is not None


def test_the_last_enabled_admin_cannot_be_disabled(db: Database) -> None:
    auth.ensure_first_admin(db)
    admin = auth.user_named(db, "admin")
    with pytest.raises(Conflict, match="'admin' is the last enabled admin"):
        auth.set_disabled(db, admin.id, True)
    assert not auth.user_named(db, "admin").disabled

    second = auth.create_user(db, "ada", "admin", "correct-horse")
    auth.set_disabled(db, admin.id, True)
    assert auth.first_admin(db) is not None and auth.first_admin(db).id == second.id  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="'ada' is the last enabled admin"):
        auth.set_disabled(db, second.id, True)
    expert = auth.create_user(db, "erin", "expert", "correct-horse")
    assert auth.set_disabled(db, expert.id, True).disabled  # other roles are never the last admin


def test_an_admin_cannot_disable_themselves_from_the_page(db: Database) -> None:
    auth.create_user(db, "ada", "admin", "correct-horse")
    root = auth.create_user(db, "root", "admin", "correct-horse")
    with pytest.raises(Conflict, match="you cannot disable the account you are signed in with"):
        auth.set_disabled(db, root.id, True, actor_id=root.id)
    assert auth.set_disabled(db, root.id, True).disabled  # from the shell there is no actor


# --- API tokens ------------------------------------------------------------------------------


def test_tokens_are_listed_without_their_secret_and_revoked_at_once(db: Database) -> None:
    erin = auth.create_user(db, "erin", "expert", "correct-horse")
    tom = auth.create_user(db, "tom", "trainer", "correct-horse")
    first = auth.create_api_token(db, erin, "ci")
    second = auth.create_api_token(db, tom)
    listed = auth.list_tokens(db)
    assert [(t.username, t.label) for t in listed] == [("erin", "ci"), ("tom", "")]
    assert all(first not in repr(t) and second not in repr(t) for t in listed)
    assert [t.username for t in auth.list_tokens(db, "tom")] == ["tom"]
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        auth.list_tokens(db, "ghost")

    revoked = auth.revoke_token(db, listed[0].id)
    assert (revoked.id, revoked.username, revoked.label) == (listed[0].id, "erin", "ci")
    assert auth.principal_for_token(db, first) is None
    assert auth.principal_for_token(db, second) is not None
    with pytest.raises(NotFound, match="no API token with the id"):
        auth.revoke_token(db, listed[0].id)


# --- a database from before these columns ------------------------------------------------------

# The users table as the version before one-time passwords and disabling made it.
OLD_USERS_DDL = """
CREATE TABLE users (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    username VARCHAR(64) NOT NULL UNIQUE,
    password_hash VARCHAR(256) NOT NULL,
    role VARCHAR(16) NOT NULL,
    created_at DATETIME NOT NULL
)
"""


def test_an_old_users_table_gains_the_new_columns_and_its_accounts_still_sign_in(tmp_path: Path) -> None:
    path = tmp_path / "repairsight.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(OLD_USERS_DDL)
        connection.execute(
            "INSERT INTO users VALUES ('old-user-1', 'erin', ?, 'expert', '2026-10-01 09:00:00')",
            (auth.hash_password("correct-horse"),),
        )
    db = open_database(Settings(data_dir=tmp_path))
    columns = {c["name"] for c in inspect(db.engine).get_columns("users")}
    assert {"must_change_password", "disabled_at"} <= columns
    principal = auth.verify_login(db, "erin", "correct-horse")
    assert principal == auth.Principal("old-user-1", "erin", "expert")
    [user] = auth.list_users(db)
    assert (user.disabled, user.must_change_password) == (False, False)
    auth.set_disabled(db, user.id, True)
    assert auth.principal_for_user_id(db, user.id) is None
    db.close()
