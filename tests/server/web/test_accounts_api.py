"""One-time passwords, changing one's own password, disabled accounts, and the admin's account routes
and page, over HTTP (docs/api-contract.md)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.records import accounts as auth

NEW_PASSWORD = "my very own password"


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def first_admin_password(app: Starlette) -> str:
    """The printed one-time password of the ``admin`` a fresh site makes."""
    password = auth.ensure_first_admin(app.state.services.db)
    assert password is not None
    return password


# --- a one-time password ---------------------------------------------------------------------


def test_a_one_time_password_signs_in_only_far_enough_to_change_it(
    client: TestClient, first_admin_password: str
) -> None:
    response = client.post("/api/login", json={"username": "admin", "password": first_admin_password})
    assert response.status_code == 403
    assert error_of(response)["code"] == "password_change_required"
    assert "POST /api/password" in error_of(response)["message"]
    for method, path in (
        ("GET", "/api/me"),
        ("GET", "/api/cases"),
        ("POST", "/api/cases"),
        ("GET", "/api/users"),
    ):
        refused = client.request(method, path, json={"title": "x"})
        assert refused.status_code == 403, path
        assert error_of(refused)["code"] == "password_change_required"

    changed = client.post(
        "/api/password", json={"current_password": first_admin_password, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"username": "admin", "role": "admin"}
    assert client.get("/api/me").json() == {"username": "admin", "role": "admin"}
    assert client.get("/api/cases").status_code == 200

    client.post("/logout")
    refused = client.post("/api/login", json={"username": "admin", "password": first_admin_password})
    assert refused.status_code == 401
    assert client.post("/api/login", json={"username": "admin", "password": NEW_PASSWORD}).status_code == 200


def test_the_pages_send_a_one_time_password_to_the_change_page(
    client: TestClient, first_admin_password: str
) -> None:
    signed = client.post(
        "/login",
        data={"username": "admin", "password": first_admin_password, "next": "/cases/abc"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/password?required=1&next=%2Fcases%2Fabc"
    for path, target in (
        ("/", "/password?required=1"),
        ("/cases/abc", "/password?required=1&next=%2Fcases%2Fabc"),
        ("/admin", "/password?required=1&next=%2Fadmin"),
    ):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, target)
    page = client.get("/password?required=1")
    assert page.status_code == 200 and 'data-testid="password-submit"' in page.text


def test_the_password_page_needs_a_sign_in(client: TestClient) -> None:
    response = client.get("/password", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/?next=/password")


def test_an_api_token_is_not_held_back_by_the_one_time_password(
    app: Starlette, client: TestClient, first_admin_password: str
) -> None:
    db = app.state.services.db
    token = auth.create_api_token(db, auth.user_named(db, "admin"))
    assert client.get("/api/cases", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"current_password": "wrong-password", "new_password": NEW_PASSWORD},
            422,
            "current_password: that is not",
        ),
        ({"current_password": "erin-correct-horse", "new_password": "short"}, 422, "at least 8 characters"),
        (
            {"current_password": "erin-correct-horse", "new_password": "erin-correct-horse"},
            422,
            "different from the current one",
        ),
        ({"current_password": "erin-correct-horse"}, 422, "new_password: Field required"),
        ({"password": "x", "new_password": NEW_PASSWORD}, 422, "is not a field of this request"),
    ],
)
def test_a_bad_password_change_says_why_and_keeps_the_old_password(
    app: Starlette, expert_client: TestClient, body: dict, status: int, message: str
) -> None:
    response = expert_client.post("/api/password", json=body)
    assert response.status_code == status
    assert message in error_of(response)["message"]
    assert auth.verify_login(app.state.services.db, "erin", "erin-correct-horse") is not None


def test_changing_a_password_needs_a_sign_in(client: TestClient) -> None:
    response = client.post("/api/password", json={"current_password": "x", "new_password": NEW_PASSWORD})
    assert response.status_code == 401


def test_a_chosen_password_changes_too(app: Starlette, expert_client: TestClient) -> None:
    response = expert_client.post(
        "/api/password", json={"current_password": "erin-correct-horse", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert auth.verify_login(app.state.services.db, "erin", NEW_PASSWORD) is not None


# --- disabled accounts -----------------------------------------------------------------------


def test_a_disabled_account_loses_its_cookie_token_and_sign_in(
    app: Starlette, expert_client: TestClient
) -> None:
    db = app.state.services.db
    erin = auth.user_named(db, "erin")
    token = auth.create_api_token(db, erin)
    auth.set_disabled(db, erin.id, True)

    assert expert_client.get("/api/cases").status_code == 401  # the cookie signed in before
    assert expert_client.get("/cases/abc", follow_redirects=False).headers["location"] == "/?next=/cases/abc"
    refused = expert_client.get("/api/cases", headers=bearer(token))
    assert refused.status_code == 403 and error_of(refused)["code"] == "account_disabled"
    login = expert_client.post("/api/login", json={"username": "erin", "password": "erin-correct-horse"})
    assert login.status_code == 403 and error_of(login) == {
        "code": "account_disabled",
        "message": "the account 'erin' is disabled; ask an admin to enable it",
    }
    form = expert_client.post(
        "/login", data={"username": "erin", "password": "erin-correct-horse"}, follow_redirects=False
    )
    assert form.headers["location"] == "/?error=disabled"


# --- the admin's routes ----------------------------------------------------------------------


def test_admins_list_the_accounts(admin_client: TestClient, expert_client: TestClient) -> None:
    response = admin_client.get("/api/users")
    assert response.status_code == 200
    users = response.json()["users"]
    assert [(u["username"], u["role"], u["disabled"], u["must_change_password"]) for u in users] == [
        ("ada", "admin", False, False),
        ("erin", "expert", False, False),
    ]
    assert set(users[0]) == {
        "id",
        "username",
        "role",
        "created_at",
        "disabled",
        "disabled_at",
        "must_change_password",
    }
    assert users[0]["created_at"].endswith("Z") and users[0]["disabled_at"] is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users"),
        ("POST", "/api/users/{id}/disable"),
        ("POST", "/api/users/{id}/enable"),
        ("POST", "/api/users/{id}/password"),
    ],
)
def test_only_admins_reach_the_account_routes(
    app: Starlette, client: TestClient, expert_client: TestClient, method: str, path: str
) -> None:
    url = path.format(id=auth.user_named(app.state.services.db, "erin").id)
    assert client.request(method, url).status_code == 401
    refused = expert_client.request(method, url)
    assert refused.status_code == 403
    assert error_of(refused)["message"] == "this needs the role admin; you are signed in as expert"
    assert not auth.user_named(app.state.services.db, "erin").must_change_password


def test_an_admin_disables_enables_and_resets(
    app: Starlette, client: TestClient, admin_client: TestClient, expert_client: TestClient
) -> None:
    erin_id = auth.user_named(app.state.services.db, "erin").id
    disabled = admin_client.post(f"/api/users/{erin_id}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True and disabled.json()["disabled_at"].endswith("Z")
    assert expert_client.get("/api/cases").status_code == 401
    enabled = admin_client.post(f"/api/users/{erin_id}/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False

    reset = admin_client.post(f"/api/users/{erin_id}/password")
    assert reset.status_code == 200
    body = reset.json()
    assert body["user"]["username"] == "erin" and body["user"]["must_change_password"] is True
    # Erin's open browser is held at the change, and the new password signs in only that far.
    assert error_of(expert_client.get("/api/cases"))["code"] == "password_change_required"
    login = client.post("/api/login", json={"username": "erin", "password": body["password"]})
    assert error_of(login)["code"] == "password_change_required"


def test_the_account_routes_refuse_unknown_ids_and_disabling_oneself(
    app: Starlette, admin_client: TestClient, admin_token: str
) -> None:
    """Over HTTP the acting admin is always an enabled admin, so refusing to disable oneself is
    what keeps the last one (records/test_accounts.py tests that rule itself)."""
    for action in ("disable", "enable", "password"):
        response = admin_client.post(f"/api/users/no-such-user/{action}")
        assert response.status_code == 404
        assert "no user with the id 'no-such-user'" in error_of(response)["message"]
    ada_id = auth.user_named(app.state.services.db, "ada").id
    response = admin_client.post(f"/api/users/{ada_id}/disable")
    assert response.status_code == 409
    assert "you cannot disable the account you are signed in with" in error_of(response)["message"]
    assert admin_client.get("/api/users").status_code == 200

    by_root = admin_client.post(f"/api/users/{ada_id}/disable", headers=bearer(admin_token))
    assert by_root.status_code == 200 and by_root.json()["disabled"] is True
    assert admin_client.get("/api/users").status_code == 401


# --- the page --------------------------------------------------------------------------------


def test_the_admin_page_is_for_admins(
    client: TestClient, admin_client: TestClient, expert_client: TestClient
) -> None:
    signed_out = client.get("/admin", follow_redirects=False)
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/?next=/admin")
    refused = expert_client.get("/admin")
    assert refused.status_code == 403
    assert "Only the role admin may open this page; you are signed in as erin (expert)" in refused.text
    assert "<script" not in refused.text
    page = admin_client.get("/admin")
    assert page.status_code == 200 and 'data-testid="accounts-table"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
