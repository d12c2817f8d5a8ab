"""Staff sign-ins on the server: ended ones stop working, a password change ends the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings
from server.errors import NotFound
from server.records import accounts
from server.records.database import Database
from server.records.signins import (
    end_sign_in,
    end_sign_ins_of,
    list_sign_ins,
    principal_for_sign_in,
    start_sign_in,
)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(Settings(data_dir=tmp_path).database_url)


def test_a_sign_in_works_until_it_is_ended(db: Database) -> None:
    user = accounts.create_user(db, "erin", "expert", "correct horse battery")
    sign_in = start_sign_in(db, user.id, "10.0.0.7", "Mozilla/5.0 " + "x" * 500)
    principal = principal_for_sign_in(db, user.id, sign_in)
    assert principal is not None and principal.username == "erin"
    [listed] = list_sign_ins(db)
    assert (listed.id, listed.username, listed.address) == (sign_in, "erin", "10.0.0.7")
    assert listed.user_agent is not None and len(listed.user_agent) == 200
    assert end_sign_in(db, sign_in).username == "erin"
    assert principal_for_sign_in(db, user.id, sign_in) is None
    assert list_sign_ins(db) == []
    with pytest.raises(NotFound):
        end_sign_in(db, sign_in)  # ended already


def test_a_cookie_without_a_sign_in_or_with_anothers_is_nobody(db: Database) -> None:
    erin = accounts.create_user(db, "erin", "expert", "correct horse battery")
    ada = accounts.create_user(db, "ada", "admin", "correct horse battery")
    adas = start_sign_in(db, ada.id, None, None)
    assert principal_for_sign_in(db, erin.id, None) is None  # a cookie from before sign-ins were kept
    assert principal_for_sign_in(db, erin.id, adas) is None  # another user's sign-in
    assert principal_for_sign_in(db, erin.id, "no-such-id") is None


def test_ending_a_users_other_sign_ins_keeps_the_current_one(db: Database) -> None:
    user = accounts.create_user(db, "erin", "expert", "correct horse battery")
    here, laptop, phone = (start_sign_in(db, user.id, None, None) for _ in range(3))
    assert end_sign_ins_of(db, user.id, keep=here) == 2
    assert principal_for_sign_in(db, user.id, here) is not None
    assert (
        principal_for_sign_in(db, user.id, laptop) is None
        and principal_for_sign_in(db, user.id, phone) is None
    )


def test_a_disabled_account_is_nobody_whatever_its_sign_ins(db: Database) -> None:
    accounts.create_user(db, "ada", "admin", "correct horse battery")
    user = accounts.create_user(db, "erin", "expert", "correct horse battery")
    sign_in = start_sign_in(db, user.id, None, None)
    accounts.set_disabled(db, user.id, True)
    assert principal_for_sign_in(db, user.id, sign_in) is None
