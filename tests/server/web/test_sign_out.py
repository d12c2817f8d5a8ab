"""Signing out ends the sign-in on the server: the old cookie, even copied, no longer works. A password
change signs the user's other browsers out; an admin sees every browser signed in and can end one."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.server.conftest import add_user, browser

SAME_SITE = {"Origin": "http://testserver"}


def sign_in(app: Starlette, client: TestClient, username: str, password: str) -> TestClient:
    page = browser(app, client)
    assert page.post("/api/login", json={"username": username, "password": password}).status_code == 200
    return page


def copy_of(app: Starlette, client: TestClient, page: TestClient) -> TestClient:
    """Another browser holding the very same cookie (copied, or kept from before a sign-out)."""
    thief = browser(app, client)
    thief.cookies.set("repairsight_session", page.cookies["repairsight_session"])
    return thief


def test_a_signed_out_cookie_stops_working_even_copied(app: Starlette, client: TestClient) -> None:
    password = add_user(app, "erin", "expert")
    page = sign_in(app, client, "erin", password)
    kept = copy_of(app, client, page)
    assert kept.get("/api/me").status_code == 200
    assert page.post("/logout", headers=SAME_SITE, follow_redirects=False).status_code == 303
    assert page.get("/api/me").status_code == 401
    assert kept.get("/api/me").status_code == 401  # the copy is signed out too
    assert kept.get("/cases/x", follow_redirects=False).headers["location"].startswith("/?next=")


def test_a_password_change_signs_out_the_other_browsers(app: Starlette, client: TestClient) -> None:
    password = add_user(app, "erin", "expert")
    laptop, phone = sign_in(app, client, "erin", password), sign_in(app, client, "erin", password)
    changed = laptop.post(
        "/api/password",
        json={"current_password": password, "new_password": "a new and longer password"},
        headers=SAME_SITE,
    )
    assert changed.status_code == 200, changed.text
    assert laptop.get("/api/me").status_code == 200  # the browser that changed it stays in
    assert phone.get("/api/me").status_code == 401


def test_an_admin_lists_and_ends_sign_ins(app: Starlette, client: TestClient) -> None:
    add_user(app, "ada", "admin")
    admin = sign_in(app, client, "ada", "ada-correct-horse")
    erin = sign_in(app, client, "erin", add_user(app, "erin", "expert"))
    listed = admin.get("/api/sign-ins").json()
    assert listed["total"] == 2 and {s["username"] for s in listed["sign_ins"]} == {"ada", "erin"}
    erins = next(s for s in listed["sign_ins"] if s["username"] == "erin")
    assert erins["user_agent"] == "testclient" and erins["address"] == "testclient"
    assert erin.get("/api/sign-ins").status_code == 403  # admins only
    ended = admin.post(f"/api/sign-ins/{erins['id']}/end", headers=SAME_SITE)
    assert ended.status_code == 200 and ended.json()["username"] == "erin"
    assert erin.get("/api/me").status_code == 401
    again = admin.post(f"/api/sign-ins/{erins['id']}/end", headers=SAME_SITE)
    assert again.status_code == 404


def test_the_sign_in_form_refuses_another_sites_page(app: Starlette, client: TestClient) -> None:
    password = add_user(app, "erin", "expert")
    forged = client.post(
        "/login",
        data={"username": "erin", "password": password},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "cross_origin"
