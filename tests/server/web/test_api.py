"""The JSON API against docs/api-contract.md: use, and misuse (who may, bad bodies, unknown ids)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from datetime import timedelta

import pytest
import segno
from starlette.testclient import TestClient

from server.app import create_app
from server.clock import utcnow
from server.config import Settings
from server.recordings.files import recording_files
from server.records import accounts as auth
from server.records.models import RepairSession, User
from server.web.bodies import MAX_BODY_BYTES
from server.web.presenters import link_warning, slug
from tests.server.conftest import add_user

ID_RE = re.compile(r"^[A-Za-z0-9_-]{22,}$")


def make_case(c: TestClient, **fields: str) -> dict:
    response = c.post("/api/cases", json={"title": "Dishwasher E24", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def make_session(c: TestClient, case_id: str) -> dict:
    response = c.post(f"/api/cases/{case_id}/sessions")
    assert response.status_code == 201, response.text
    return response.json()


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- sign-in ---------------------------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_api_login_sets_the_cookie_and_logout_clears_it(app, client: TestClient) -> None:
    password = add_user(app, "erin", "expert")
    response = client.post("/api/login", json={"username": "erin", "password": password})
    assert response.status_code == 200
    assert response.json() == {"username": "erin", "role": "expert"}
    assert client.get("/api/me").json() == {"username": "erin", "role": "expert"}

    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.get("/api/me").status_code == 401


def test_api_login_with_a_wrong_password_or_unknown_user_is_401(app, client: TestClient) -> None:
    add_user(app, "erin", "expert")
    for body in ({"username": "erin", "password": "wrong-password"}, {"username": "nobody", "password": "x"}):
        response = client.post("/api/login", json=body)
        assert response.status_code == 401
        assert error_of(response)["message"] == "wrong username or password"
    assert client.get("/api/me").status_code == 401


def test_spaces_around_a_password_are_part_of_it(app, client: TestClient) -> None:
    auth.create_user(app.state.services.db, "sam", "expert", "  spaced out  ")
    for password, status in (("spaced out", 401), ("  spaced out  ", 200)):
        assert client.post("/api/login", json={"username": "sam", "password": password}).status_code == status


def test_form_login_redirects_to_next_and_wrong_password_to_error(app, client: TestClient) -> None:
    password = add_user(app, "erin", "expert")
    wrong = client.post("/login", data={"username": "erin", "password": "nope"}, follow_redirects=False)
    assert wrong.status_code == 303 and wrong.headers["location"] == "/?error=1"
    assert client.get("/api/me").status_code == 401

    ok = client.post(
        "/login",
        data={"username": "erin", "password": password, "next": "/cases/abc"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/cases/abc"
    assert client.get("/api/me").json()["username"] == "erin"


def test_form_login_keeps_next_on_a_wrong_password(app, client: TestClient) -> None:
    add_user(app, "erin", "expert")
    response = client.post(
        "/login?next=/console/xyz", data={"username": "erin", "password": "nope"}, follow_redirects=False
    )
    assert response.headers["location"] == "/?error=1&next=%2Fconsole%2Fxyz"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "cases"])
def test_form_login_never_redirects_off_site(app, client: TestClient, target: str) -> None:
    password = add_user(app, "erin", "expert")
    response = client.post(
        "/login", data={"username": "erin", "password": password, "next": target}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


# --- who may do what --------------------------------------------------------------------------

STAFF_ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/cases"),
    ("POST", "/api/cases"),
    ("GET", "/api/cases/{case}"),
    ("PATCH", "/api/cases/{case}"),
    ("POST", "/api/cases/{case}/sessions"),
    ("GET", "/api/sessions/{session}"),
    ("POST", "/api/sessions/{session}/end"),
    ("GET", "/api/sessions/{session}/recording"),
    ("GET", "/api/sessions/{session}/recording/media"),
    ("GET", "/api/sessions/{session}/recording/events"),
]


@pytest.fixture
def existing(expert_client: TestClient) -> dict[str, str]:
    case = make_case(expert_client)
    session = make_session(expert_client, case["id"])
    return {"case": case["id"], "session": session["id"], "token": session["customer_url"].rsplit("/", 1)[1]}


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
def test_staff_routes_need_credentials(client: TestClient, existing, method: str, path: str) -> None:
    response = client.request(method, path.format(**existing), json={"title": "x"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
def test_a_customer_link_is_refused_on_staff_routes(
    client: TestClient, existing, method: str, path: str
) -> None:
    response = client.request(
        method, path.format(**existing), json={"title": "x"}, headers=bearer(existing["token"])
    )
    assert response.status_code == 403
    assert error_of(response)["message"].startswith("a customer link cannot be used here")


def test_unknown_or_malformed_bearer_tokens_are_401(client: TestClient) -> None:
    unknown = client.get("/api/cases", headers=bearer("not-a-real-token"))
    assert unknown.status_code == 401
    assert "token create" in error_of(unknown)["message"]
    basic = client.get("/api/cases", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert "Bearer" in error_of(basic)["message"]


def test_an_api_token_works_without_a_cookie(client: TestClient, admin_token: str) -> None:
    assert client.get("/api/me", headers=bearer(admin_token)).json() == {"username": "root", "role": "admin"}
    created = client.post("/api/cases", json={"title": "By script"}, headers=bearer(admin_token))
    assert created.status_code == 201
    assert client.get("/api/cases").status_code == 401  # the token is not a cookie


def test_a_trainer_reads_but_cannot_create_or_change(
    expert_client: TestClient, trainer_client: TestClient
) -> None:
    case = make_case(expert_client)
    session = make_session(expert_client, case["id"])
    assert trainer_client.get("/api/cases").status_code == 200
    assert trainer_client.get(f"/api/cases/{case['id']}").status_code == 200
    assert trainer_client.get(f"/api/sessions/{session['id']}").status_code == 200

    refused = [
        trainer_client.post("/api/cases", json={"title": "x"}),
        trainer_client.patch(f"/api/cases/{case['id']}", json={"notes": "x"}),
        trainer_client.post(f"/api/cases/{case['id']}/sessions"),
        trainer_client.post(f"/api/sessions/{session['id']}/end"),
    ]
    for response in refused:
        assert response.status_code == 403
        assert "you are signed in as trainer" in error_of(response)["message"]
    assert expert_client.get(f"/api/cases/{case['id']}").json()["notes"] == ""
    assert expert_client.get(f"/api/sessions/{session['id']}").json()["state"] == "created"


def test_a_cookie_of_a_deleted_user_is_401(app, expert_client: TestClient) -> None:
    with app.state.services.db.session() as s:
        s.delete(s.query(User).filter_by(username="erin").one())
    assert expert_client.get("/api/cases").status_code == 401


# --- cases ---------------------------------------------------------------------------------------


def test_create_list_and_get_cases(expert_client: TestClient) -> None:
    first = make_case(expert_client, customer_name="Ana", device_model="DW-500", notes="leaks")
    assert first["status"] == "open" and first["outcome"] is None and first["sessions"] == []
    assert first["customer_name"] == "Ana" and first["device_model"] == "DW-500"
    assert first["created_at"].endswith("Z")
    second = make_case(expert_client, title="Boiler")
    make_session(expert_client, first["id"])

    listed = expert_client.get("/api/cases").json()["cases"]
    assert [c["id"] for c in listed] == [second["id"], first["id"]]  # newest first
    assert [c["session_count"] for c in listed] == [0, 1]
    assert all("sessions" not in c for c in listed)

    detail = expert_client.get(f"/api/cases/{first['id']}").json()
    assert len(detail["sessions"]) == 1 and detail["sessions"][0]["case_id"] == first["id"]


def test_ids_and_link_tokens_are_random_and_long(expert_client: TestClient) -> None:
    case_ids = [make_case(expert_client)["id"] for _ in range(5)]
    session_urls = [make_session(expert_client, case_ids[0]) for _ in range(5)]
    session_ids = [s["id"] for s in session_urls]
    tokens = [s["customer_url"].rsplit("/", 1)[1] for s in session_urls]
    for ident in case_ids + session_ids:
        assert ID_RE.match(ident)
        assert len(base64.urlsafe_b64decode(ident + "==")) >= 16  # 128 bits
    for token in tokens:
        assert len(token) >= 32 and len(base64.urlsafe_b64decode(token + "==")) >= 24  # 192 bits
    everything = case_ids + session_ids + tokens
    assert len(set(everything)) == len(everything)
    # Not a counter: consecutive ids do not share a long prefix.
    assert max(len(_common_prefix(a, b)) for a, b in zip(case_ids, case_ids[1:], strict=False)) < 8


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"title": "ok", "costumer_name": "Ana"}, "costumer_name"),
        ({"title": "ok", "notes": ["a"]}, "notes"),
    ],
)
def test_case_bodies_that_fail_validation_are_422_naming_the_field(
    expert_client: TestClient, body: dict, field: str
) -> None:
    response = expert_client.post("/api/cases", json=body)
    assert response.status_code == 422
    assert error_of(response)["message"].startswith(f"{field}:")
    assert expert_client.get("/api/cases").json()["cases"] == []


def test_a_json_body_that_is_not_an_object_is_422(expert_client: TestClient) -> None:
    response = expert_client.post("/api/cases", json=["title"])
    assert response.status_code == 422
    assert "JSON object" in error_of(response)["message"]


@pytest.mark.parametrize("raw", [b"{title: 'x'}", b'{"title": "x"', b"\xff\xfe", b""])
def test_malformed_json_is_400(expert_client: TestClient, raw: bytes) -> None:
    response = expert_client.post("/api/cases", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_a_body_over_1_mib_is_413(expert_client: TestClient) -> None:
    big = b'{"title": "x", "notes": "' + b"a" * MAX_BODY_BYTES + b'"}'
    response = expert_client.post("/api/cases", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_a_streamed_body_over_1_mib_without_content_length_is_413(expert_client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"title": "x", "notes": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    response = expert_client.post(
        "/api/cases", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert expert_client.get("/api/cases").json()["cases"] == []


def test_a_body_just_under_the_limit_is_accepted_when_valid(expert_client: TestClient) -> None:
    notes = "a" * 20_000
    response = expert_client.post("/api/cases", json={"title": "x", "notes": notes})
    assert response.status_code == 201 and response.json()["notes"] == notes


def test_patch_a_case_and_close_it_with_an_outcome(expert_client: TestClient) -> None:
    case = make_case(expert_client)
    response = expert_client.patch(
        f"/api/cases/{case['id']}", json={"notes": "cable was loose", "title": "Boiler"}
    )
    assert response.status_code == 200
    assert response.json()["notes"] == "cable was loose" and response.json()["title"] == "Boiler"

    no_outcome = expert_client.patch(f"/api/cases/{case['id']}", json={"status": "closed"})
    assert no_outcome.status_code == 422
    assert error_of(no_outcome)["message"].startswith("outcome:")
    assert expert_client.get(f"/api/cases/{case['id']}").json()["status"] == "open"

    closed = expert_client.patch(
        f"/api/cases/{case['id']}", json={"status": "closed", "outcome": "no_fault_found"}
    )
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["outcome"] == "no_fault_found"

    unset = expert_client.patch(f"/api/cases/{case['id']}", json={"outcome": None})
    assert unset.status_code == 422  # a closed case keeps an outcome


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "fixed"}, "outcome"),
        ({"status": "archived"}, "status"),
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_patches_are_422_naming_the_field(expert_client: TestClient, body: dict, field: str) -> None:
    case = make_case(expert_client)
    response = expert_client.patch(f"/api/cases/{case['id']}", json=body)
    assert response.status_code == 422
    assert error_of(response)["message"].startswith(f"{field}:")


def test_unknown_case_ids_are_404(expert_client: TestClient) -> None:
    unknown = "A" * 22
    for response in (
        expert_client.get(f"/api/cases/{unknown}"),
        expert_client.patch(f"/api/cases/{unknown}", json={"notes": "x"}),
        expert_client.post(f"/api/cases/{unknown}/sessions"),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(expert_client: TestClient) -> None:
    response = expert_client.delete("/api/cases")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


# --- sessions -----------------------------------------------------------------------------------


def test_a_new_session_has_links_expiry_and_presence(expert_client: TestClient, settings: Settings) -> None:
    case = make_case(expert_client)
    session = make_session(expert_client, case["id"])
    token = session["customer_url"].rsplit("/", 1)[1]
    assert session["customer_url"] == f"http://testserver/join/{token}"
    assert "only on https:// pages" in session["link_warning"]
    assert session["console_url"] == f"http://testserver/console/{session['id']}"
    assert session["qr_url"].startswith("data:image/svg+xml;base64,")
    assert session["state"] == "created" and session["consent"] is None
    assert session["started_at"] is None and session["ended_at"] is None and session["end_reason"] is None
    assert set(session["participants"]) == {"customer", "expert"}
    assert session["recording"] == {
        "status": "none",
        "duration_s": None,
        "media_url": None,
        "events_url": None,
    }
    assert session["expires_at"] > session["created_at"]
    again = expert_client.get(f"/api/sessions/{session['id']}").json()
    assert again["id"] == session["id"]
    # The link is shown once: the database keeps only its hash.
    assert again["customer_url"] is None and again["qr_url"] is None
    assert "only on https:// pages" in again["link_warning"]


def test_the_database_keeps_only_a_hash_of_the_link(app, expert_client: TestClient) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    token = session["customer_url"].rsplit("/", 1)[1]
    with app.state.services.db.engine.connect() as connection:
        stored = [str(value) for row in connection.exec_driver_sql("SELECT * FROM sessions") for value in row]
    assert stored and not any(token in value for value in stored)
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert expert_client.get(f"/join/{token}").status_code == 200  # the link still opens the page


def test_links_use_the_public_url_when_set(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test", public_url="https://help.example.com/")
    app = create_app(settings)
    with TestClient(app) as c:
        password = add_user(app, "erin", "expert")
        c.post("/api/login", json={"username": "erin", "password": password})
        session = make_session(c, make_case(c)["id"])
    app.state.services.db.close()
    assert session["customer_url"].startswith("https://help.example.com/join/")
    assert session["console_url"] == f"https://help.example.com/console/{session['id']}"
    assert session["link_warning"] is None  # a link a phone can open, with its camera


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/join/t", "points at this computer (127.0.0.1)"),
        ("http://localhost:8080/join/t", "--host 0.0.0.0 --self-signed"),
        ("https://[::1]:8443/join/t", "points at this computer"),
        ("http://192.168.1.20:8080/join/t", "only on https:// pages"),
        ("https://192.168.1.20:8443/join/t", None),
        ("https://help.example.com/join/t", None),
    ],
)
def test_a_link_a_phone_cannot_use_says_so_and_how_to_fix_it(url: str, says: str | None) -> None:
    warning = link_warning(url)
    assert (warning is None) if says is None else (says in (warning or ""))


def test_no_session_on_a_closed_case(expert_client: TestClient) -> None:
    case = make_case(expert_client)
    expert_client.patch(f"/api/cases/{case['id']}", json={"status": "closed", "outcome": "fixed_remotely"})
    response = expert_client.post(f"/api/cases/{case['id']}/sessions")
    assert response.status_code == 409
    assert "closed" in error_of(response)["message"]
    assert expert_client.get(f"/api/cases/{case['id']}").json()["sessions"] == []

    expert_client.patch(f"/api/cases/{case['id']}", json={"status": "open"})
    assert expert_client.post(f"/api/cases/{case['id']}/sessions").status_code == 201


def test_ending_a_session_nobody_joined(expert_client: TestClient) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    response = expert_client.post(
        f"/api/sessions/{session['id']}/end", json={"reason": "customer called back"}
    )
    assert response.status_code == 200
    ended = response.json()
    assert ended["state"] == "ended" and ended["end_reason"] == "customer called back"
    assert ended["ended_at"] is not None

    again = expert_client.post(f"/api/sessions/{session['id']}/end")
    assert again.status_code == 409
    assert expert_client.get(f"/api/sessions/{session['id']}").json()["end_reason"] == "customer called back"


def test_ending_without_a_body_gives_a_default_reason(expert_client: TestClient) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    response = expert_client.post(f"/api/sessions/{session['id']}/end")
    assert response.status_code == 200 and response.json()["end_reason"]


def test_end_with_a_bad_body(expert_client: TestClient) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    bad = expert_client.post(f"/api/sessions/{session['id']}/end", json={"reason": 3})
    assert bad.status_code == 422 and error_of(bad)["message"].startswith("reason:")
    assert expert_client.get(f"/api/sessions/{session['id']}").json()["state"] == "created"


def test_unknown_session_ids_are_404(expert_client: TestClient) -> None:
    unknown = "B" * 22
    for path in ("", "/recording", "/recording/media", "/recording/events"):
        response = expert_client.get(f"/api/sessions/{unknown}{path}")
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    response = expert_client.post(f"/api/sessions/{unknown}/end")
    assert response.status_code == 404


def test_expires_at_follows_the_link_ttl(app, expert_client: TestClient, settings: Settings) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, session["id"])
        assert row is not None
        remaining = row.token_expires_at - utcnow()
    assert timedelta(seconds=settings.link_ttl_s - 60) < remaining <= timedelta(seconds=settings.link_ttl_s)


# --- recordings and QR codes ------------------------------------------------------------------------


def test_recording_download_with_range_and_filename(
    app, expert_client: TestClient, settings: Settings
) -> None:
    case = make_case(expert_client, title="Pump P-3 won't start!")
    session = make_session(expert_client, case["id"])
    files = recording_files(settings.recordings_dir, session["id"])
    files.directory.mkdir(parents=True)
    media = bytes(range(256)) * 40
    files.media.write_bytes(media)
    files.events.write_text('{"type": "join"}\n{"type": "chat"}\n')
    with app.state.services.db.session() as s:
        row = s.get(RepairSession, session["id"])
        assert row is not None
        row.recording_status, row.recording_duration_s = "complete", 12.5

    recording = expert_client.get(f"/api/sessions/{session['id']}/recording").json()
    assert recording == {
        "status": "complete",
        "duration_s": 12.5,
        "media_url": f"/api/sessions/{session['id']}/recording/media",
        "events_url": f"/api/sessions/{session['id']}/recording/events",
    }
    full = expert_client.get(recording["media_url"])
    assert full.status_code == 200 and full.content == media
    assert full.headers["content-type"] == "video/webm"
    assert full.headers["accept-ranges"] == "bytes"
    expected_name = f"repairsight-pump-p-3-won-t-start-{session['id']}.webm"
    assert f'filename="{expected_name}"' in full.headers["content-disposition"]

    part = expert_client.get(recording["media_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == media[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(media)}"

    events = expert_client.get(recording["events_url"])
    assert events.status_code == 200 and events.headers["content-type"].startswith("application/x-ndjson")
    assert events.text.splitlines() == ['{"type": "join"}', '{"type": "chat"}']


def test_a_session_without_recording_files_is_404_json(expert_client: TestClient) -> None:
    session = make_session(expert_client, make_case(expert_client)["id"])
    for path in ("media", "events"):
        response = expert_client.get(f"/api/sessions/{session['id']}/recording/{path}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_slug_keeps_download_names_plain() -> None:
    assert slug("Pump P-3 won't start!") == "pump-p-3-won-t-start"
    assert slug("Ärger / ../etc") == "rger-etc"
    assert slug("!!!") == "case"
    assert len(slug("x" * 500)) == 60


def test_qr_code_encodes_the_customer_link(expert_client: TestClient) -> None:
    response = expert_client.post(f"/api/cases/{make_case(expert_client)['id']}/sessions")
    session = response.json()
    assert response.headers["cache-control"] == "no-store"  # it carries the link secret
    svg = base64.b64decode(session["qr_url"].removeprefix("data:image/svg+xml;base64,"))
    expected = io.BytesIO()
    segno.make_qr(session["customer_url"], error="m").save(expected, kind="svg", scale=6, border=4)
    assert svg == expected.getvalue()
    assert b"<svg" in svg
