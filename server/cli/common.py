"""What every command shares: its errors, its messages, and how it opens the database."""

from __future__ import annotations

import sys

from ..config import Settings
from ..records.accounts import FIRST_ADMIN_USERNAME
from ..records.database import Database
from ..records.schema import DatabaseError


class CliError(Exception):
    """A mistake in the command line or its input; printed as one line, exit status 2."""


def open_database(settings: Settings) -> Database:
    """The settings' database, its schema brought up to date; one it cannot open is a ``CliError``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Database(settings.database_url)
    except DatabaseError as exc:
        raise CliError(str(exc)) from None


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def first_admin_message(password: str) -> str:
    return (
        f"Created the first admin account: username {FIRST_ADMIN_USERNAME}, "
        f"one-time password {password} (shown only this once)"
    )
