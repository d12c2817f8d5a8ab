"""The library search finds words whatever their case and accents, in any script, through each
database's own text index (``server/records/search_text.py``).

- ``search_entries`` gets a row number (``id``: SQLite's FTS5 table refers to rows by it) and the
  folded words of each row (``words``). The table is made anew and every row copied with its words,
  so the entries already stored are found at once, even those whose event log is gone.
- ``search_indexed.case_signature``: the hash of a case's searched fields, so the case's title,
  device model and notes are indexed beside the chat (by the first search, from ``cases``).
- SQLite: the FTS5 table ``search_words`` over ``words`` and the triggers that keep it in step;
  PostgreSQL: a GIN index on ``to_tsvector('simple', words)``.

The words come from ``search_text.indexed_words``, the rule queries are folded by, imported rather
than frozen here: the index must be made by the same rule that searches it. Down again, the
entries keep their rows (the case rows go: the search before 0007 read cases from ``cases``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.records.search_text import POSTGRES_CONFIG, POSTGRES_WORD_INDEX, SQLITE_WORD_TABLE, indexed_words

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

ENTRIES = "search_entries"
BEFORE = "search_entries_before_0007"
SESSION_INDEX = "ix_search_entries_session_id"
SEARCHED_KINDS = ("chat", "case")
COPY_BATCH = 1000

# unicode61 folds case and (remove_diacritics 2) Latin accents again, which the words no longer have;
# ``M*`` makes combining marks word characters, as ``search_text.words_of`` does.
SQLITE_TOKENIZER = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
_FORGET_OLD = (
    f"INSERT INTO {SQLITE_WORD_TABLE}({SQLITE_WORD_TABLE}, rowid, words) "
    "VALUES ('delete', old.id, old.words);"
)
_ADD_NEW = f"INSERT INTO {SQLITE_WORD_TABLE}(rowid, words) VALUES (new.id, new.words);"
SQLITE_WORD_INDEX = [
    f"CREATE VIRTUAL TABLE {SQLITE_WORD_TABLE} USING fts5(words, content='{ENTRIES}', content_rowid='id', "
    f'tokenize="{SQLITE_TOKENIZER}")',
    f"CREATE TRIGGER {SQLITE_WORD_TABLE}_insert AFTER INSERT ON {ENTRIES} BEGIN {_ADD_NEW} END",
    f"CREATE TRIGGER {SQLITE_WORD_TABLE}_delete AFTER DELETE ON {ENTRIES} BEGIN {_FORGET_OLD} END",
    f"CREATE TRIGGER {SQLITE_WORD_TABLE}_update AFTER UPDATE ON {ENTRIES} BEGIN {_FORGET_OLD} {_ADD_NEW} END",
    # Index the rows copied in above.
    f"INSERT INTO {SQLITE_WORD_TABLE}({SQLITE_WORD_TABLE}) VALUES ('rebuild')",
]
POSTGRES_WORD_INDEX_SQL = (
    f"CREATE INDEX {POSTGRES_WORD_INDEX} ON {ENTRIES} USING gin (to_tsvector({POSTGRES_CONFIG}, words))"
)


def _entry_columns(with_words: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("t_ms", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
    ]
    if with_words:
        columns = [sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True), *columns]
        columns.append(sa.Column("words", sa.Text(), nullable=False))
    return columns


ENTRY_FIELDS = ("session_id", "t_ms", "kind", "key", "text")


def _copy(rows: sa.Select, target: sa.TableClause, with_words: bool) -> None:
    """Every row of ``rows`` into ``target``, in order, in batches."""
    bind = op.get_bind()
    batch: list[dict[str, object]] = []
    for row in bind.execute(rows).mappings().all():
        record = dict(row)
        if with_words:
            record["words"] = indexed_words(record["text"]) if record["kind"] in SEARCHED_KINDS else ""
        batch.append(record)
        if len(batch) == COPY_BATCH:
            bind.execute(sa.insert(target), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(target), batch)


def _remake_entries(with_words: bool, order: str, kinds: tuple[str, ...] | None = None) -> None:
    """``search_entries`` made anew (with or without ``id`` and ``words``) and its rows copied over in
    the order of ``order`` (an ORDER BY of the table as it was: the order lines were indexed in)."""
    op.drop_index(SESSION_INDEX, table_name=ENTRIES)
    op.rename_table(ENTRIES, BEFORE)
    op.create_table(ENTRIES, *_entry_columns(with_words))
    op.create_index(SESSION_INDEX, ENTRIES, ["session_id"])
    source = sa.table(BEFORE, *(sa.column(name) for name in ENTRY_FIELDS))
    rows = sa.select(source).order_by(sa.text(order))
    if kinds is not None:
        rows = rows.where(source.c.kind.in_(kinds))
    target_fields = (*ENTRY_FIELDS, "words") if with_words else ENTRY_FIELDS
    _copy(rows, sa.table(ENTRIES, *(sa.column(name) for name in target_fields)), with_words)
    op.drop_table(BEFORE)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # The order the rows went in: SQLite's rowid; on PostgreSQL a row's place in the table (ctid) after
    # its session and time, since a session's rows are deleted and written again together.
    _remake_entries(with_words=True, order="rowid" if dialect == "sqlite" else "session_id, t_ms, ctid")
    op.add_column("search_indexed", sa.Column("case_signature", sa.String(64), nullable=True))
    if dialect == "sqlite":
        for statement in SQLITE_WORD_INDEX:
            op.execute(statement)
    else:
        op.execute(POSTGRES_WORD_INDEX_SQL)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {SQLITE_WORD_TABLE}_{trigger}")
        op.execute(f"DROP TABLE {SQLITE_WORD_TABLE}")
    else:
        op.drop_index(POSTGRES_WORD_INDEX, table_name=ENTRIES)
    with op.batch_alter_table("search_indexed") as batch:
        batch.drop_column("case_signature")
    _remake_entries(with_words=False, order="id", kinds=("chat", "procedure", "step"))
