"""Every list endpoint answers in pages: ``limit`` and ``cursor`` in, ``next_cursor`` and ``total`` out."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.web.pagination import MAX_LIMIT, encode_cursor
from tests.server.conftest import add_user


def all_pages(client: TestClient, path: str, key: str, limit: int) -> tuple[list[Any], list[dict[str, Any]]]:
    items: list[Any] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        pages.append(body)
        items.extend(body[key])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_cases_come_in_pages_newest_first_without_gaps_or_repeats(expert_client: TestClient) -> None:
    for n in range(7):
        assert expert_client.post("/api/cases", json={"title": f"case {n}"}).status_code == 201
    everything = expert_client.get("/api/cases").json()
    assert everything["total"] == 7 and everything["next_cursor"] is None and len(everything["cases"]) == 7
    items, pages = all_pages(expert_client, "/api/cases", "cases", limit=3)
    assert [len(p["cases"]) for p in pages] == [3, 3, 1]
    assert all(p["total"] == 7 for p in pages)
    assert [c["id"] for c in items] == [c["id"] for c in everything["cases"]]


def test_users_and_procedures_come_in_pages(app: Starlette, admin_client: TestClient) -> None:
    for n in range(3):
        add_user(app, f"u{n}", "expert")
    users, pages = all_pages(admin_client, "/api/users", "users", limit=2)
    assert len(users) == pages[0]["total"] >= 4 and len({u["id"] for u in users}) == len(users)
    procedures, pages = all_pages(admin_client, "/api/procedures", "procedures", limit=1)
    assert len(procedures) == pages[0]["total"] >= 2 and "errors" in pages[0]


def test_the_library_says_when_there_are_more(expert_client: TestClient) -> None:
    body = expert_client.get("/api/library", params={"limit": 5}).json()
    assert body["results"] == [] and body["total"] == 0 and body["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", str(MAX_LIMIT + 1), "abc", "-1", "2.5"])
def test_a_bad_limit_says_what_is_allowed(expert_client: TestClient, limit: str) -> None:
    refused = expert_client.get("/api/cases", params={"limit": limit})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "invalid_limit",
        "message": f"limit must be a whole number from 1 to {MAX_LIMIT}",
    }


@pytest.mark.parametrize("cursor", ["nonsense", "eyJvIjozfQ", encode_cursor(3)[:-2] + "xx", "%%%"])
def test_a_cursor_the_server_did_not_give_is_refused(expert_client: TestClient, cursor: str) -> None:
    refused = expert_client.get("/api/cases", params={"cursor": cursor})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_cursor"


def test_a_cursor_past_the_end_gives_an_empty_last_page(expert_client: TestClient) -> None:
    expert_client.post("/api/cases", json={"title": "only one"})
    page = expert_client.get("/api/cases", params={"cursor": encode_cursor(10)}).json()
    assert page["cases"] == [] and page["next_cursor"] is None and page["total"] == 1
