"""GET /api/library?q=: words found whatever their case and accents, in any script, on both databases;
query syntax of either database's text search is only words and separators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.records.models import search_entries
from server.records.search_text import words_match, words_of
from tests.server.seeded_recordings import event, seed_session

pytestmark = pytest.mark.both_databases


def said(*lines: str) -> list[dict[str, Any]]:
    """An event log with these chat lines, one a second."""
    return [event(0, "recording_started")] + [
        event(1000 * (index + 1), "chat", id=f"c{index}", from_role="customer", text=line)
        for index, line in enumerate(lines)
    ]


@pytest.fixture
def languages(app: Starlette, expert_client: TestClient) -> dict[str, str]:
    """Sessions whose case or chat is in German, French, Greek, Hindi and Arabic; ids by language."""
    sessions = {
        "de": seed_session(
            app,
            expert_client,
            title="Kühlschrank von Frau Müller",
            device_model="Liebherr",
            notes="Türdichtung prüfen",
            events=said("Die Tür schließt nicht"),
            started_at=datetime(2026, 11, 20, 9, 0),
        ),
        "fr": seed_session(
            app,
            expert_client,
            title="Machine à expresso",
            device_model="Saeco",
            notes="Café trop froid",
            events=said("Ça ne chauffe plus", "Le voyant clignote"),
            started_at=datetime(2026, 11, 21, 9, 0),
        ),
        "el": seed_session(
            app,
            expert_client,
            title="Πλυντήριο",
            device_model="Miele",
            events=said("Η Σοφία λέει ότι η πόρτα δεν κλείνει"),
            started_at=datetime(2026, 11, 22, 9, 0),
        ),
        "hi": seed_session(
            app,
            expert_client,
            title="राउटर",
            device_model="TP-Link",
            events=said("प्लग ढीला है", "बत्ती लाल है"),
            started_at=datetime(2026, 11, 23, 9, 0),
        ),
        "ar": seed_session(
            app,
            expert_client,
            title="ثلاجة",
            device_model="Samsung",
            notes="الشاشة لا تعمل",
            events=said("أهلاً، الباب لا يُغلق"),
            started_at=datetime(2026, 11, 24, 9, 0),
        ),
    }
    return {language: ids["session_id"] for language, ids in sessions.items()}


def found(client: TestClient, q: str) -> list[dict[str, Any]]:
    response = client.get("/api/library", params={"q": q})
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def sessions(results: list[dict[str, Any]]) -> list[str]:
    return [r["session_id"] for r in results]


@pytest.mark.parametrize("q", ["Müller", "muller", "MULLER", "MÜLLER", "Mu\u0308ller"])
def test_a_name_is_found_whatever_its_case_and_accents(
    languages: dict[str, str], trainer_client: TestClient, q: str
) -> None:
    [result] = found(trainer_client, q)
    assert result["session_id"] == languages["de"] and result["matched_in"] == ["title"]


@pytest.mark.parametrize(
    ("q", "language", "matched_in"),
    [
        ("cafe", "fr", ["notes"]),
        ("ÇA", "fr", ["notes", "chat"]),  # "Café" starts with "ca" too
        ("ca ne", "fr", ["chat"]),
        ("a expresso", "fr", ["title"]),  # "à"
        ("turdichtung", "de", ["notes"]),
        ("SCHLIESST", "de", ["chat"]),  # ß
        ("ΣΟΦΙΑ", "el", ["chat"]),
        ("πλυντηριο", "el", ["title"]),
        ("ढीला", "hi", ["chat"]),
        ("बत्ती लाल", "hi", ["chat"]),
        ("راوتر", None, []),
        ("الشاشة", "ar", ["notes"]),
        ("اهلا الباب", "ar", ["chat"]),  # without hamza and tanween
        ("يغلق", "ar", ["chat"]),  # without the damma
    ],
)
def test_words_in_any_script_are_found_in_the_case_and_the_chat(
    languages: dict[str, str],
    trainer_client: TestClient,
    q: str,
    language: str | None,
    matched_in: list[str],
) -> None:
    results = found(trainer_client, q)
    assert sessions(results) == ([languages[language]] if language else [])
    if language:
        assert results[0]["matched_in"] == matched_in


def test_the_first_matching_chat_line_is_the_moment_to_open(
    languages: dict[str, str], trainer_client: TestClient
) -> None:
    [result] = found(trainer_client, "VOYANT")
    assert result["chat_hits"] == [
        {
            "t_ms": 2000,
            "from_role": "customer",
            "text": "Le voyant clignote",
            "url": f"/playback/{languages['fr']}#t=2",
        }
    ]
    assert result["url"] == f"/playback/{languages['fr']}#t=2"


def test_words_follow_in_order_and_the_last_may_be_the_start_of_a_word(
    languages: dict[str, str], trainer_client: TestClient
) -> None:
    assert sessions(found(trainer_client, "kuhlschr")) == [languages["de"]]
    assert sessions(found(trainer_client, "frau mull")) == [languages["de"]]
    assert found(trainer_client, "mull frau") == []  # the words in another order
    assert found(trainer_client, "frau kuhlschrank") == []
    assert found(trainer_client, "uller") == []  # a word's middle is not a word


def test_an_edited_case_is_found_by_its_new_words(
    app: Starlette, languages: dict[str, str], expert_client: TestClient, trainer_client: TestClient
) -> None:
    assert found(trainer_client, "Gefrierfach") == []
    with app.state.services.db.engine.connect() as connection:
        case_id = connection.scalar(
            text("SELECT case_id FROM sessions WHERE id = :id"), {"id": languages["de"]}
        )
    patched = expert_client.patch(f"/api/cases/{case_id}", json={"notes": "Das Gefrierfach vereist"})
    assert patched.status_code == 200, patched.text
    [result] = found(trainer_client, "gefrierfach")
    assert result["session_id"] == languages["de"] and result["matched_in"] == ["notes"]
    assert found(trainer_client, "turdichtung") == []  # the old notes are gone from the index


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"Müller',
        'Müller"',
        "'",
        "Müller'",
        "*",
        "Mül*",
        "-Müller",
        "Müller -Frau",
        "NEAR(Frau Müller)",
        "NEAR(Frau Müller, 2)",
        "Frau AND Müller",
        "Frau OR Müller",
        "NOT Müller",
        "(Müller",
        "Müller)",
        "title:Müller",
        "words:Müller",
        "Müller:*",
        "Frau <-> Müller",
        "!Müller & | Frau",
        "^Müller",
        "{Müller}",
        "\\",
        "Müller\\",
        "%",
        "🙂",
        "Müller 🔧",
        "\u200b\u200d",
        "x" * 200,
        "é" * 200,
        " ".join(["Müller"] * 28),
        "'; DROP TABLE search_entries; --",
    ],
)
def test_query_syntax_never_breaks_the_search(
    languages: dict[str, str], trainer_client: TestClient, q: str
) -> None:
    results = found(trainer_client, q)
    assert set(sessions(results)) <= {languages["de"]}


def test_syntax_characters_are_separators_around_plain_words(
    languages: dict[str, str], trainer_client: TestClient
) -> None:
    de = [languages["de"]]
    for q in (
        '"Müller',
        "Müller)",
        "-Müller",
        "Mül*",
        "Müller:*",
        "(frau müller)",
        "Frau—Müller!",
        "🔧 Müller",
    ):
        assert sessions(found(trainer_client, q)) == de, q
    for q in ("Frau OR Müller", "NEAR(Frau Müller)", "Frau AND Müller", "🙂", "'"):
        assert found(trainer_client, q) == [], q


def test_the_query_goes_through_the_database_text_index(
    app: Starlette, languages: dict[str, str], trainer_client: TestClient
) -> None:
    """SQLite's FTS5 table answers it; PostgreSQL's planner can use the GIN index for it."""
    found(trainer_client, "muller")  # fills the index
    engine = app.state.services.db.engine
    condition = select(search_entries.c.id).where(words_match(engine.dialect.name, words_of("Müller")))
    query = str(condition.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        assert len(connection.execute(text(query)).all()) == 1
        if engine.dialect.name == "sqlite":
            plan = str(connection.execute(text("EXPLAIN QUERY PLAN " + query)).all())
            assert "VIRTUAL TABLE INDEX" in plan and "search_words" in plan, plan
        else:
            connection.execute(text("SET enable_seqscan = off"))  # a table this small is read whole
            plan = "\n".join(connection.scalars(text("EXPLAIN " + query)))
            assert "ix_search_entries_words" in plan, plan
