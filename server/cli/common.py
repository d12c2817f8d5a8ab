"""What every command shares: its errors, where the data lives, and how it opens the database."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..config import DEFAULT_DATA_DIR, Settings
from ..records.accounts import FIRST_ADMIN_USERNAME
from ..records.database import Database

DATA_DIR_ENV = "REPAIRSIGHT_DATA_DIR"


class CliError(Exception):
    """A mistake in the command line or its input; printed as one line, exit status 2."""


def data_dir_of(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings a record command works with (the data directory's database and recordings)."""
    return Settings(data_dir=data_dir_of(args))


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.database_url)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def first_admin_message(password: str) -> str:
    return (
        f"Created the first admin account: username {FIRST_ADMIN_USERNAME}, "
        f"one-time password {password} (shown only this once)"
    )
