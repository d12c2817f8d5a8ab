"""Sign-in is throttled per account and per address, before any password is hashed."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.web import login_api
from server.web.signin_throttle import SignInRefused, SignInThrottle, ThrottleLimits
from tests.server.conftest import add_user


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check that reached the hash, by username."""
    checked: list[str] = []
    real = login_api.verify_login

    def counting(db: Any, username: str, password: str) -> Any:
        checked.append(username)
        return real(db, username, password)

    monkeypatch.setattr(login_api, "verify_login", counting)
    return checked


def use_limits(app: Starlette, limits: ThrottleLimits) -> None:
    app.state.services = dataclasses.replace(app.state.services, signin=SignInThrottle(limits))


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/login", json={"username": username, "password": password})


def test_an_account_is_refused_after_ten_failures_without_hashing(
    app: Starlette, client: TestClient, hashes: list[str]
) -> None:
    password = add_user(app, "dana", "expert")
    for _ in range(10):
        assert login(client, "dana", "wrong").status_code == 401
    refused = login(client, "dana", password)  # even the right password waits now
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_sign_ins"
    wait_s = int(refused.headers["Retry-After"])
    assert 0 < wait_s <= 300
    assert f"try again in {wait_s} s" in refused.json()["error"]["message"]
    assert len(hashes) == 10  # the refused try cost no hash
    # Another account from elsewhere is not affected by dana's count (the address limit is higher).
    add_user(app, "eli", "expert")
    assert login(client, "eli", "eli-correct-horse").status_code == 200


def test_a_success_clears_the_accounts_count(app: Starlette, client: TestClient) -> None:
    password = add_user(app, "dana", "expert")
    for _ in range(9):
        assert login(client, "dana", "wrong").status_code == 401
    assert login(client, "dana", password).status_code == 200
    for _ in range(9):
        assert login(client, "dana", "wrong").status_code == 401
    assert login(client, "dana", password).status_code == 200


def test_an_address_is_refused_after_its_failures_across_accounts(
    app: Starlette, client: TestClient, hashes: list[str]
) -> None:
    use_limits(app, ThrottleLimits(per_account="10/5minutes", per_address="5/5minutes"))
    password = add_user(app, "fern", "expert")
    for name in ("a", "b", "c", "d", "e"):  # unknown accounts cost a try too
        assert login(client, name, "guess").status_code == 401
    refused = login(client, "fern", password)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_sign_ins"
    assert "fern" not in hashes


def test_the_sign_in_page_is_told_how_long_to_wait(app: Starlette, client: TestClient) -> None:
    use_limits(app, ThrottleLimits(per_account="2/5minutes"))
    add_user(app, "gus", "expert")
    for _ in range(2):
        form = client.post("/login", data={"username": "gus", "password": "x"}, follow_redirects=False)
        assert form.headers["location"] == "/?error=1"
    form = client.post("/login", data={"username": "gus", "password": "x"}, follow_redirects=False)
    assert form.status_code == 303
    assert form.headers["location"].startswith("/?error=throttled&retry=")


def test_usernames_count_whatever_their_case_and_spaces(app: Starlette, client: TestClient) -> None:
    use_limits(app, ThrottleLimits(per_account="3/5minutes"))
    add_user(app, "hal", "expert")
    for name in ("hal", "HAL", " Hal "):
        login(client, name, "wrong")
    assert login(client, "hal", "hal-correct-horse").status_code == 429


def test_password_checks_at_once_are_bounded() -> None:
    throttle = SignInThrottle(ThrottleLimits(concurrent_checks=1, max_waiting=2))

    async def scenario() -> list[str]:
        inside: list[str] = []
        release = asyncio.Event()

        async def sign_in(name: str) -> None:
            async with throttle.checking():
                inside.append(name)
                await release.wait()

        first = asyncio.ensure_future(sign_in("first"))
        second = asyncio.ensure_future(sign_in("second"))
        await asyncio.sleep(0.01)
        assert inside == ["first"]  # one check at a time; the second waits
        with pytest.raises(SignInRefused) as busy:
            async with throttle.checking():
                pass
        assert busy.value.code == "sign_in_busy" and busy.value.retry_after_s > 0
        release.set()
        await asyncio.gather(first, second)
        return inside

    assert asyncio.run(scenario()) == ["first", "second"]
