"""The README's first sign-in, in Chromium: the first admin signs in with the printed one-time
password, is made to choose their own, and then reaches the staff accounts page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_process import ServerProcess, cli, start_server

NEW_PASSWORD = "the admin's own password"


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A server on a new data directory and the first admin's one-time password, read from what
    ``serve`` printed; then an expert added from the shell, as the README says."""
    data_dir = tmp_path / "data"
    process = start_server(data_dir)
    try:
        printed = re.search(r"one-time password (\S+) \(shown only this once\)", process.log())
        assert printed is not None, process.log()
        cli(data_dir, "user", "add", "erin", "--role", "expert")
        yield process, printed.group(1)
    finally:
        process.stop()


def test_the_first_admin_changes_the_one_time_password_then_sees_the_accounts(
    browser: Any, fresh_server: tuple[ServerProcess, str]
) -> None:
    server, one_time_password = fresh_server
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(server.base_url + "/admin")
    page.get_by_test_id("login-username").fill("admin")
    page.get_by_test_id("login-password").fill(one_time_password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/password?required=1&next=%2Fadmin")
    assert page.get_by_test_id("password-required").is_visible()

    page.get_by_test_id("password-current").fill(one_time_password)
    page.get_by_test_id("password-new").fill("short")
    page.get_by_test_id("password-confirm").fill("short")
    page.get_by_test_id("password-submit").click()
    error = page.get_by_test_id("password-error")
    error.wait_for()
    assert error.text_content() == "The new password needs at least 8 characters"
    # Nothing else opens before the change.
    page.goto(server.base_url + "/")
    page.wait_for_url("**/password?required=1")

    page.get_by_test_id("password-current").fill(one_time_password)
    page.get_by_test_id("password-new").fill(NEW_PASSWORD)
    page.get_by_test_id("password-confirm").fill(NEW_PASSWORD)
    page.get_by_test_id("password-submit").click()
    page.wait_for_url(server.base_url + "/")
    page.get_by_test_id("admin-link").click()
    page.wait_for_url("**/admin")

    rows = page.get_by_test_id("account-row")
    rows.nth(1).wait_for()
    seen = [
        (
            row.get_by_test_id("account-username").text_content(),
            row.get_by_test_id("account-role").text_content(),
            row.get_by_test_id("account-status").text_content(),
            row.get_by_test_id("account-password").text_content(),
        )
        for row in rows.all()
    ]
    assert seen == [("admin", "admin", "active", "own"), ("erin", "expert", "active", "must change")]
    assert page.get_by_test_id("user-name").text_content() == "admin (admin)"
    assert errors == []
