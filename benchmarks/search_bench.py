"""Library search benchmark: how long ``search_library`` takes on a library of many recordings.

Fills a fresh database (a SQLite file in a temporary folder, or a PostgreSQL database made for the
run and dropped after, with ``--postgres``) with ``--sessions`` recorded sessions of
``--lines`` chat lines each, in German, French, Greek, Hindi and Arabic, straight into the tables
(no event log on disk: the stored entries are what is searched). Then times, for a few queries:

- ``search``: ``search_library`` end to end (the index refresh, one stat per session, included);
- ``words``: the word index's query alone (``search_text.words_match``), rows counted;
- ``like``: the substring scan the search did before revision 0007 (``lower(text) LIKE``), for
  comparison (it folds no accents, so its count can differ).

Each figure is the median of ``--repeat`` runs, in ms. Prints a table; nothing passes or fails.

    python -m benchmarks.search_bench [--sessions 2000] [--lines 50] [--postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import ColumnElement, func, insert, select, text

from server.recordings.search import LibraryQuery, search_library
from server.records.database import Database
from server.records.models import Case, RepairSession, search_entries, search_indexed
from server.records.search_text import indexed_words, words_match, words_of

LINES = (
    "Der Stecker ist locker, sagt Frau Müller {n}",
    "Ça ne chauffe plus depuis {n} jours",
    "Η Σοφία λέει ότι η πόρτα δεν κλείνει {n}",
    "प्लग ढीला है और बत्ती लाल है {n}",
    "أهلاً، الباب لا يُغلق منذ {n} أيام",
    "Please unplug the power cord and check connector J{n}",
)
QUERIES = ("muller", "ÇA NE", "σοφια", "ढीला", "يغلق", "connector j1", "nothing like this")
NOW = datetime(2026, 11, 20, 9, 0)
T = TypeVar("T")


@contextmanager
def database(postgres: bool) -> Iterator[Database]:
    if postgres:
        from tests.server.databases import postgres_database

        with postgres_database() as url:
            db = Database(url)
            try:
                yield db
            finally:
                db.close()
        return
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        try:
            yield db
        finally:
            db.close()


def fill(db: Database, sessions: int, lines: int) -> None:
    with db.session() as s:
        for number in range(sessions):
            case = Case(id=f"case{number}", title=f"Case {number} Kühlschrank", notes="Türdichtung prüfen")
            s.add(case)
            s.add(
                RepairSession(
                    id=f"session{number}",
                    case_id=case.id,
                    token_expires_at=NOW,
                    state="ended",
                    started_at=NOW,
                    recording_status="complete",
                )
            )
        s.flush()
        rows = []
        for number in range(sessions):
            for line in range(lines):
                said = LINES[line % len(LINES)].format(n=number + line)
                rows.append(
                    {
                        "session_id": f"session{number}",
                        "t_ms": line * 1000,
                        "kind": "chat",
                        "key": "customer",
                        "text": said,
                        "words": indexed_words(said),
                    }
                )
        for start in range(0, len(rows), 5000):
            s.execute(insert(search_entries), rows[start : start + 5000])
        s.execute(
            insert(search_indexed), [{"session_id": f"session{n}", "signature": ""} for n in range(sessions)]
        )


def median_ms(run: Callable[[], T], repeat: int) -> tuple[float, T]:
    times: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def count_where(db: Database, condition: ColumnElement[bool]) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(search_entries).where(condition)) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="on a PostgreSQL database of its own")
    options = parser.parse_args()
    with database(options.postgres) as db, tempfile.TemporaryDirectory() as recordings:
        fill(db, options.sessions, options.lines)
        search_library(db, Path(recordings), LibraryQuery(q="warm up"))  # indexes the cases' fields once
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("ANALYZE search_entries"))
        with db.session() as s:
            entries = s.scalar(select(func.count()).select_from(search_entries))
        print(
            f"{db.engine.dialect.name}: {options.sessions} sessions, {entries} entries; "
            f"median of {options.repeat}"
        )
        print(
            f"{'q':<20} {'search ms':>10} {'results':>8} {'words ms':>9} {'rows':>6} "
            f"{'like ms':>8} {'rows':>6}"
        )
        for q in QUERIES:
            query = LibraryQuery(q=q)
            search_ms, results = median_ms(
                partial(search_library, db, Path(recordings), query), options.repeat
            )
            by_words = words_match(db.engine.dialect.name, words_of(q))
            words_ms, rows = median_ms(partial(count_where, db, by_words), options.repeat)
            by_like = func.lower(search_entries.c.text).like(f"%{q.lower()}%")
            like_ms, like_rows = median_ms(partial(count_where, db, by_like), options.repeat)
            print(
                f"{q:<20} {search_ms:>10.1f} {len(results):>8} {words_ms:>9.1f} {rows:>6} "
                f"{like_ms:>8.1f} {like_rows:>6}"
            )


if __name__ == "__main__":
    main()
