"""Options from the environment, secrets from the environment or a file, and ``--database-url``."""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from server.cli import build_parser, main
from server.cli.options import SecretFlag, ServeOptions, StorageOptions, env_name, options_from
from server.config import Settings
from server.records import accounts as auth
from server.records.database import Database
from tests.server.databases import postgres_database

SECRET_VARIABLES = ("SECRET_KEY", "ICE_CREDENTIAL", "DATABASE_PASSWORD")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``REPAIRSIGHT_*`` option of the machine running the tests leaks into them."""
    for field in ServeOptions.model_fields:
        monkeypatch.delenv(env_name(field), raising=False)


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[uvicorn.Config]]:
    """Record the uvicorn configuration instead of listening on a port; the logging that ``serve``
    configured for its process is put back as it was afterwards (the tests share one process)."""
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: configs.append(server.config))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield configs
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def served_settings(configs: list[uvicorn.Config]) -> Settings:
    [config] = configs
    app: Any = config.app  # the Starlette app that create_app made
    settings: Settings = app.state.services.settings
    app.state.services.db.close()
    return settings


def serve_actions() -> list[argparse.Action]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = subparsers.choices["serve"]
    return [a for a in serve._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def test_every_serve_flag_also_reads_a_variable_and_no_flag_takes_a_secret() -> None:
    actions = serve_actions()
    plain = [a for a in actions if not isinstance(a, SecretFlag)]
    assert {a.dest for a in plain} <= set(ServeOptions.model_fields)
    assert all(a.default is None for a in plain), "a flag's default would hide its variable"
    assert [a.option_strings for a in actions if isinstance(a, SecretFlag)] == [["--ice-credential"]]
    for secret in SECRET_VARIABLES:
        flag = "--" + secret.lower().replace("_", "-")
        assert all(flag not in a.option_strings for a in plain)
        assert {secret.lower(), f"{secret.lower()}_file"} <= set(ServeOptions.model_fields)


def test_serve_takes_its_options_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[uvicorn.Config]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REPAIRSIGHT_PORT", "8124")
    monkeypatch.setenv("REPAIRSIGHT_ICE_SERVERS", "stun:a.example.org:3478, stun:b.example.org")
    monkeypatch.setenv("REPAIRSIGHT_MEDIA_WORKERS", "2")
    monkeypatch.setenv("REPAIRSIGHT_PUBLIC_URL", "https://help.example.com/")
    monkeypatch.setenv("REPAIRSIGHT_MEDIA_RELAY", "reencode")
    assert main(["serve"]) == 0
    [config] = no_uvicorn
    assert (config.host, config.port) == ("127.0.0.1", 8124)
    settings = served_settings(no_uvicorn)
    assert settings.data_dir == tmp_path / "data" and (tmp_path / "data" / "repairsight.sqlite3").exists()
    assert [s.url for s in settings.ice_servers] == ["stun:a.example.org:3478", "stun:b.example.org"]
    assert (settings.media_workers, settings.public_url, settings.media_relay) == (
        2,
        "https://help.example.com",
        "reencode",
    )


def test_a_flag_wins_over_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[uvicorn.Config]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("REPAIRSIGHT_PORT", "8124")
    monkeypatch.setenv("REPAIRSIGHT_ICE_SERVERS", "stun:env.example.org")
    args = [
        "serve",
        "--data-dir",
        str(tmp_path / "flag"),
        "--port",
        "8125",
        "--ice-server",
        "stun:flag.example.org",
    ]
    assert main(args) == 0
    assert no_uvicorn[0].port == 8125
    settings = served_settings(no_uvicorn)
    assert settings.data_dir == tmp_path / "flag" and not (tmp_path / "from-env").exists()
    assert [s.url for s in settings.ice_servers] == ["stun:flag.example.org"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REPAIRSIGHT_PORT", "eighty", "$REPAIRSIGHT_PORT 'eighty': Input should be a valid integer"),
        ("REPAIRSIGHT_MEDIA_RELAY", "copy", "$REPAIRSIGHT_MEDIA_RELAY 'copy': Input should be 'forward' or"),
        ("REPAIRSIGHT_MEDIA_WORKERS", "0", "--media-workers 0: give 1 to 64"),
        ("REPAIRSIGHT_ICE_SERVERS", "http://stun.example.org", "must start with one of stun:"),
    ],
)
def test_a_bad_variable_is_named_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("repairsight: error: ") and message in line
    assert no_uvicorn == []


# --- secrets ------------------------------------------------------------------------------------------


def test_the_old_credential_flag_says_where_the_secret_goes_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_uvicorn: list[uvicorn.Config]
) -> None:
    code = main(["serve", "--data-dir", str(tmp_path), "--ice-username", "u", "--ice-credential", "hunter2"])
    assert code == 2 and no_uvicorn == []
    err = capsys.readouterr().err
    assert "--ice-credential: secrets are not taken on the command line" in err
    assert (
        "set REPAIRSIGHT_ICE_CREDENTIAL, or write it to a file and set REPAIRSIGHT_ICE_CREDENTIAL_FILE" in err
    )


def test_secrets_come_from_files_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[uvicorn.Config]
) -> None:
    (tmp_path / "turn").write_text("turn-credential\n")
    (tmp_path / "key").write_text("a-signing-key-shared-by-every-process\n")
    monkeypatch.setenv("REPAIRSIGHT_ICE_CREDENTIAL_FILE", str(tmp_path / "turn"))
    monkeypatch.setenv("REPAIRSIGHT_SECRET_KEY_FILE", str(tmp_path / "key"))
    args = ["serve", "--data-dir", str(tmp_path / "data"), "--ice-server", "turn:turn.example.org"]
    assert main([*args, "--ice-username", "rs"]) == 0
    settings = served_settings(no_uvicorn)
    [turn] = settings.ice_servers
    assert (turn.username, turn.credential) == ("rs", "turn-credential")
    assert settings.secret_key == "a-signing-key-shared-by-every-process"
    assert not (tmp_path / "data" / "secret_key").exists()  # the key given is the one used


def test_secrets_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[uvicorn.Config]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_ICE_CREDENTIAL", "turn-credential")
    monkeypatch.setenv("REPAIRSIGHT_SECRET_KEY", "signing-key")
    monkeypatch.setenv("REPAIRSIGHT_ICE_USERNAME", "rs")
    monkeypatch.setenv("REPAIRSIGHT_ICE_SERVERS", "turn:turn.example.org")
    assert main(["serve", "--data-dir", str(tmp_path)]) == 0
    settings = served_settings(no_uvicorn)
    assert settings.ice_servers[0].credential == "turn-credential" and settings.secret_key == "signing-key"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("both", "both REPAIRSIGHT_SECRET_KEY and REPAIRSIGHT_SECRET_KEY_FILE are set; keep one"),
        ("missing", "REPAIRSIGHT_SECRET_KEY_FILE {tmp}/no-such-file: cannot read it (No such file"),
        ("empty", "REPAIRSIGHT_SECRET_KEY_FILE {tmp}/key: the file is empty"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
    setup: str,
    message: str,
) -> None:
    (tmp_path / "key").write_text("" if setup == "empty" else "k")
    monkeypatch.setenv(
        "REPAIRSIGHT_SECRET_KEY_FILE", str(tmp_path / ("no-such-file" if setup == "missing" else "key"))
    )
    if setup == "both":
        monkeypatch.setenv("REPAIRSIGHT_SECRET_KEY", "k")
    assert main(["serve", "--data-dir", str(tmp_path / "data")]) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert no_uvicorn == []


def test_the_database_password_goes_into_the_url_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db-password").write_text("s3cret/with@odd:chars\n")
    monkeypatch.setenv("REPAIRSIGHT_DATABASE_PASSWORD_FILE", str(tmp_path / "db-password"))
    args = argparse.Namespace(
        data_dir=None, database_url="postgresql+psycopg://rs@db.example.org/repairsight"
    )
    url = options_from(args, StorageOptions).database()
    assert url is not None
    assert make_url(url).password == "s3cret/with@odd:chars"
    assert make_url(url).username == "rs" and make_url(url).host == "db.example.org"


def test_a_password_on_the_command_line_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://rs:hunter2@db.example.org/repairsight"
    assert main(["user", "list", "--data-dir", str(tmp_path), "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert "--database-url holds a password" in err and "REPAIRSIGHT_DATABASE_PASSWORD" in err
    assert "hunter2" not in err


def test_a_database_password_without_a_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_DATABASE_PASSWORD", "hunter2")
    assert main(["user", "list", "--data-dir", str(tmp_path)]) == 2
    assert "no --database-url (or REPAIRSIGHT_DATABASE_URL) says which database" in capsys.readouterr().err


# --- --database-url ---------------------------------------------------------------------------------


def test_user_and_token_commands_work_on_postgresql(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    on_postgres = ["--data-dir", str(tmp_path), "--database-url", postgres_url]
    assert main(["user", "add", "erin", "--role", "expert", *on_postgres]) == 0
    assert main(["token", "create", "--user", "erin", *on_postgres]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    db = Database(postgres_url)
    owner = auth.principal_for_token(db, token)
    assert owner is not None and owner.username == "erin"
    db.close()
    assert not (tmp_path / "repairsight.sqlite3").exists()  # nothing went to the SQLite default
    assert main(["user", "list", *on_postgres]) == 0
    assert re.search(r"^erin\s+expert", capsys.readouterr().out, re.MULTILINE)


def test_serve_and_purge_take_the_database_from_the_environment(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_DATABASE_URL", postgres_url)
    assert main(["serve", "--data-dir", str(tmp_path)]) == 0
    settings = served_settings(no_uvicorn)
    assert settings.database_url == postgres_url
    assert "Created the first admin account" in capsys.readouterr().out
    db = Database(postgres_url)
    assert [u.username for u in auth.list_users(db)] == ["admin"]
    assert "sessions" in inspect(db.engine).get_table_names()
    db.close()
    assert main(["purge", "--older-than-days", "30", "--data-dir", str(tmp_path)]) == 0
    assert "nothing to delete" in capsys.readouterr().err
    assert not (tmp_path / "repairsight.sqlite3").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://rs@db.example.org/repairsight",
            "RepairSight runs on SQLite (sqlite:///PATH) or PostgreSQL",
        ),
        ("not a url", "is not a database URL; give sqlite:///PATH or postgresql+psycopg://"),
        ("postgresql://postgres@127.0.0.1:1/repairsight", "cannot open the database postgresql+psycopg://"),
    ],
)
def test_a_database_that_cannot_be_used_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert main(["user", "list", "--data-dir", str(tmp_path), "--database-url", url]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("repairsight: error: ") and message in line


def test_a_turn_server_with_the_sites_turn_secret_needs_no_password(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
) -> None:
    args = ["serve", "--data-dir", str(tmp_path / "data"), "--ice-server", "turn:turn.example.org"]
    assert main(args) == 2 and no_uvicorn == []
    assert "REPAIRSIGHT_TURN_SECRET for short-lived credentials" in capsys.readouterr().err
    (tmp_path / "turn-secret").write_text("shared with coturn\n")
    monkeypatch.setenv("REPAIRSIGHT_TURN_SECRET_FILE", str(tmp_path / "turn-secret"))
    assert main(args) == 0
    settings = served_settings(no_uvicorn)
    assert settings.turn_secret == "shared with coturn"
    [turn] = settings.ice_servers
    assert turn.username is None and turn.credential is None  # issued per participant at each join


def test_the_vision_pace_is_an_option(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
) -> None:
    args = ["serve", "--data-dir", str(tmp_path / "data")]
    assert main(args) == 0 and served_settings(no_uvicorn).vision_fps == 10.0  # Settings' default
    no_uvicorn.clear()
    monkeypatch.setenv("REPAIRSIGHT_VISION_FPS", "7.5")
    assert main(args) == 0 and served_settings(no_uvicorn).vision_fps == 7.5
    no_uvicorn.clear()
    assert main([*args, "--vision-fps", "0"]) == 2 and no_uvicorn == []
    assert "vision_fps" in capsys.readouterr().err.replace("-", "_").lower()
