"""The ``repairsight`` command, run in-process (and once as the installed script)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn

from server.cli import main
from server.cli import serve as serve_command
from server.cli.common import open_database
from server.config import Settings
from server.records import accounts as auth
from server.records.database import Database

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")
VENV_BIN = Path(sys.executable).parent


def database(data_dir: Path) -> Database:
    return open_database(Settings(data_dir=data_dir))


def test_user_add_generates_and_prints_a_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    password = re.search(r"One-time password: (\S+)", out)
    assert password is not None
    assert auth.verify_login(database(tmp_path), "erin", password.group(1)) is not None


def test_user_add_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct-horse-battery\n"))
    code = main(["user", "add", "tom", "--role", "trainer", "--password-stdin", "--data-dir", str(tmp_path)])
    assert code == 0
    assert "correct-horse-battery" not in capsys.readouterr().out
    principal = auth.verify_login(database(tmp_path), "tom", "correct-horse-battery")
    assert principal is not None and principal.role == "trainer"


def test_a_duplicate_username_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["user", "add", "erin", "--role", "admin", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "a user named 'erin' already exists" in err
    assert auth.find_user(database(tmp_path), "erin").role == "expert"  # type: ignore[union-attr]


def test_a_short_or_empty_stdin_password_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for given, message in (("short\n", "at least 8"), ("", "empty password")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(given))
        assert (
            main(["user", "add", "erin", "--role", "expert", "--password-stdin", "--data-dir", str(tmp_path)])
            == 2
        )
        assert message in capsys.readouterr().err
    assert database(tmp_path).count_users() == 0


def test_an_unknown_role_is_an_argparse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["user", "add", "erin", "--role", "customer", "--data-dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "invalid choice: 'customer'" in capsys.readouterr().err


def test_token_create_on_a_fresh_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "never-served"
    assert main(["token", "create", "--data-dir", str(data_dir), "--label", "ci"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and TOKEN_RE.match(lines[0])
    assert "Created the first admin account: username admin, one-time password" in captured.err
    principal = auth.principal_for_token(database(data_dir), lines[0])
    assert principal is not None and principal.username == "admin" and principal.role == "admin"


def test_token_create_for_a_named_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path)])
    capsys.readouterr()
    assert main(["token", "create", "--user", "erin", "--data-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert "first admin" not in captured.err  # there were users already
    principal = auth.principal_for_token(database(tmp_path), token)
    assert principal is not None and principal.username == "erin"


def test_token_create_for_an_unknown_user_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--user", "ghost", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no user named 'ghost'" in captured.err


def test_the_data_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPAIRSIGHT_DATA_DIR", str(tmp_path / "from-env"))
    assert main(["user", "add", "erin", "--role", "expert"]) == 0
    assert auth.find_user(database(tmp_path / "from-env"), "erin") is not None


def test_vision_gets_the_rest_of_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``repairsight vision check`` runs the real vision tool on a real (one-frame) video."""
    import cv2

    board = cv2.imread(str(DATA / "board.jpg"))
    video = tmp_path / "board.y4m"
    writer = cv2.VideoWriter(
        str(video), cv2.VideoWriter_fourcc(*"I420"), 30, (board.shape[1], board.shape[0])
    )
    writer.write(board)
    writer.release()
    assert main(["vision", "check", str(DATA / "board.jpg"), str(video)]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["frame"] == 0 and first["found"] is True


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """Record the uvicorn configuration instead of listening on a port."""
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: configs.append(server.config))
    return configs


def test_serve_creates_the_first_admin_and_configures_uvicorn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_uvicorn: list[uvicorn.Config]
) -> None:
    code = main(
        ["serve", "--data-dir", str(tmp_path), "--port", "8123", "--ice-server", "stun:stun.example.org"]
    )
    assert code == 0
    out = capsys.readouterr().out
    password = re.search(r"one-time password (\S+) \(shown only this once\)", out)
    assert password is not None
    assert auth.verify_login(database(tmp_path), "admin", password.group(1)) is not None
    assert "http://127.0.0.1:8123/" in out
    [config] = no_uvicorn
    assert (config.host, config.port, config.ws, config.ws_max_size) == (
        "127.0.0.1",
        8123,
        "websockets-sansio",
        2**20,
    )
    assert config.ssl_certfile is None
    assert config.app.state.services.settings.ice_servers[0].url == "stun:stun.example.org"

    main(["serve", "--data-dir", str(tmp_path)])
    assert "one-time password" not in capsys.readouterr().out  # only the first time


def test_serve_keeps_full_collections_away_from_live_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_uvicorn: list[uvicorn.Config]
) -> None:
    tuned: list[bool] = []
    monkeypatch.setattr(serve_command, "tune_collector", lambda: tuned.append(True))
    assert main(["serve", "--data-dir", str(tmp_path)]) == 0
    assert tuned == [True] and len(no_uvicorn) == 1


def test_serve_on_all_interfaces_without_tls_warns_about_the_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_uvicorn: list[uvicorn.Config]
) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0"]) == 0
    assert "Phones will refuse the camera on plain HTTP" in capsys.readouterr().err


def test_serve_with_a_self_signed_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_uvicorn: list[uvicorn.Config]
) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), "--host", "0.0.0.0", "--self-signed"]) == 0
    captured = capsys.readouterr()
    assert "refuse the camera" not in captured.err
    assert "https://" in captured.out
    [config] = no_uvicorn
    assert config.ssl_certfile is not None and Path(config.ssl_certfile).is_file()
    assert config.ssl_keyfile is not None and Path(config.ssl_keyfile).is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-cert", "cert.pem"], "give both --tls-cert and --tls-key"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], "no such file"),
        (
            ["--ice-server", "turn:turn.example.org"],
            "give --ice-username, and its credential in REPAIRSIGHT_ICE_",
        ),
        (["--ice-server", "http://stun.example.org"], "must start with one of stun:"),
        (["--public-url", "help.example.com"], "must start with http:// or https://"),
    ],
)
def test_serve_refuses_bad_options(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_uvicorn: list[uvicorn.Config],
    extra: list[str],
    message: str,
) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert no_uvicorn == []


def test_the_installed_script_prints_only_the_token_on_stdout(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "repairsight"), "token", "create", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}\n", result.stdout)
    assert "one-time password" in result.stderr


def test_python_dash_m_server_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "serve" in result.stdout and "token" in result.stdout


# --- user list, passwd, disable, enable; token list, revoke -------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``repairsight ARGS``; returns its exit status, stdout and stderr."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("repairsight: error: "), err
    return lines[0]


def test_a_generated_password_is_one_time_and_a_chosen_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path))
    assert "must be changed at the next sign-in" in out
    password = re.search(r"One-time password: (\S+)", out).group(1)  # type: ignore[union-attr]
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct-horse-battery\n"))
    run_cli(
        capsys, "user", "add", "tom", "--role", "trainer", "--password-stdin", "--data-dir", str(tmp_path)
    )
    db = database(tmp_path)
    assert auth.verify_login(db, "erin", password).must_change_password  # type: ignore[union-attr]
    assert not auth.verify_login(db, "tom", "correct-horse-battery").must_change_password  # type: ignore[union-attr]


def test_user_list_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "user", "list", "--data-dir", str(tmp_path))
    assert (code, out) == (0, "") and "No staff accounts yet" in err

    run_cli(capsys, "token", "create", "--data-dir", str(tmp_path))  # makes the first admin
    run_cli(capsys, "user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path))
    run_cli(capsys, "user", "add", "ada", "--role", "admin", "--data-dir", str(tmp_path))
    run_cli(capsys, "user", "disable", "erin", "--data-dir", str(tmp_path))
    code, out, _ = run_cli(capsys, "user", "list", "--data-dir", str(tmp_path))
    assert code == 0
    header, *rows = out.splitlines()
    assert re.split(r"\s{2,}", header) == [
        "USERNAME",
        "ROLE",
        "CREATED (UTC)",
        "DISABLED",
        "MUST CHANGE PASSWORD",
    ]
    cells = [re.split(r"\s{2,}", line) for line in rows]
    assert [(c[0], c[1], c[3], c[4]) for c in cells] == [
        ("admin", "admin", "no", "yes"),
        ("erin", "expert", "yes", "yes"),
        ("ada", "admin", "no", "yes"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", c[2]) for c in cells)
    for line, c in zip(rows, cells, strict=True):  # columns line up under their headings
        assert line[header.index("ROLE") :].startswith(c[1])
        assert line[header.index("MUST CHANGE") :].startswith(c[4])


def test_user_passwd_from_stdin_or_generated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("chosen-by-the-admin\n"))
    code, out, _ = run_cli(capsys, "user", "passwd", "erin", "--password-stdin", "--data-dir", str(tmp_path))
    assert code == 0 and "chosen-by-the-admin" not in out and "One-time" not in out
    chosen = auth.verify_login(database(tmp_path), "erin", "chosen-by-the-admin")
    assert chosen is not None and not chosen.must_change_password

    code, out, _ = run_cli(capsys, "user", "passwd", "erin", "--data-dir", str(tmp_path))
    assert code == 0 and "Set a new password for 'erin'." in out
    generated = re.search(r"One-time password: (\S+) \(shown only this once", out).group(1)  # type: ignore[union-attr]
    db = database(tmp_path)
    assert auth.verify_login(db, "erin", "chosen-by-the-admin") is None
    assert auth.verify_login(db, "erin", generated).must_change_password  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["user", "passwd", "ghost"],
            "",
            "no user named 'ghost'; 'repairsight user list' shows the accounts",
        ),
        (["user", "passwd", "erin", "--password-stdin"], "short\n", "a password needs at least 8 characters"),
        (["user", "passwd", "erin", "--password-stdin"], "", "--password-stdin: read an empty password"),
        (["user", "disable", "ghost"], "", "no user named 'ghost'"),
        (["user", "enable", "ghost"], "", "no user named 'ghost'"),
        (["token", "list", "--user", "ghost"], "", "no user named 'ghost'"),
        (["token", "revoke", "no-such-token-id"], "", "no API token with the id 'no-such-token-id'"),
    ],
)
def test_account_commands_refuse_bad_input_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct-horse-battery\n"))
    run_cli(
        capsys, "user", "add", "erin", "--role", "expert", "--password-stdin", "--data-dir", str(tmp_path)
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code, out, err = run_cli(capsys, *args, "--data-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert message in one_line_error(err)
    assert auth.verify_login(database(tmp_path), "erin", "correct-horse-battery") is not None  # untouched


def test_user_disable_stops_sign_in_and_tokens_and_enable_restores_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct-horse-battery\n"))
    run_cli(
        capsys, "user", "add", "erin", "--role", "expert", "--password-stdin", "--data-dir", str(tmp_path)
    )
    _, token, _ = run_cli(capsys, "token", "create", "--user", "erin", "--data-dir", str(tmp_path))
    code, out, _ = run_cli(capsys, "user", "disable", "erin", "--data-dir", str(tmp_path))
    assert code == 0 and "signed-in browsers and API tokens stop working now" in out
    db = database(tmp_path)
    with pytest.raises(auth.AccountDisabled):
        auth.verify_login(db, "erin", "correct-horse-battery")
    with pytest.raises(auth.AccountDisabled):
        auth.principal_for_token(db, token.strip())
    code, _, err = run_cli(capsys, "token", "create", "--user", "erin", "--data-dir", str(tmp_path))
    assert code == 2 and "'erin' is disabled" in one_line_error(err)

    code, out, _ = run_cli(capsys, "user", "enable", "erin", "--data-dir", str(tmp_path))
    assert code == 0 and "Enabled 'erin'" in out
    assert auth.verify_login(db, "erin", "correct-horse-battery") is not None
    assert auth.principal_for_token(db, token.strip()) is not None


def test_the_last_enabled_admin_is_not_disabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "token", "create", "--data-dir", str(tmp_path))  # makes the first admin
    code, out, err = run_cli(capsys, "user", "disable", "admin", "--data-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert "'admin' is the last enabled admin; disabling it would leave nobody able to manage accounts" in (
        one_line_error(err)
    )
    assert not auth.user_named(database(tmp_path), "admin").disabled

    run_cli(capsys, "user", "add", "ada", "--role", "admin", "--data-dir", str(tmp_path))
    assert run_cli(capsys, "user", "disable", "admin", "--data-dir", str(tmp_path))[0] == 0


def test_token_list_shows_ids_never_secrets_and_revoke_stops_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "token", "list", "--data-dir", str(tmp_path))
    assert (code, out) == (0, "") and "No API tokens" in err
    _, admin_token, _ = run_cli(capsys, "token", "create", "--label", "ci", "--data-dir", str(tmp_path))
    run_cli(capsys, "user", "add", "erin", "--role", "expert", "--data-dir", str(tmp_path))
    _, erin_token, _ = run_cli(capsys, "token", "create", "--user", "erin", "--data-dir", str(tmp_path))

    code, out, _ = run_cli(capsys, "token", "list", "--data-dir", str(tmp_path))
    assert code == 0 and admin_token.strip() not in out and erin_token.strip() not in out
    header, *rows = out.splitlines()
    assert re.split(r"\s{2,}", header) == ["ID", "OWNER", "LABEL", "CREATED (UTC)"]
    cells = [re.split(r"\s{2,}", line) for line in rows]
    assert [(c[1], c[2]) for c in cells] == [("admin", "ci"), ("erin", "-")]
    assert all(ID_RE.fullmatch(c[0]) for c in cells)
    _, only_erin, _ = run_cli(capsys, "token", "list", "--user", "erin", "--data-dir", str(tmp_path))
    assert [re.split(r"\s{2,}", line)[1] for line in only_erin.splitlines()[1:]] == ["erin"]

    erin_id = cells[1][0]
    # An id may start with "-": after "--" it is never read as an option.
    code, out, _ = run_cli(capsys, "token", "revoke", "--data-dir", str(tmp_path), "--", erin_id)
    assert code == 0 and f"Revoked the API token {erin_id} of 'erin'; it no longer works." in out
    db = database(tmp_path)
    assert auth.principal_for_token(db, erin_token.strip()) is None
    assert auth.principal_for_token(db, admin_token.strip()) is not None
