"""No secret reaches a log line, the access log's included; JSON lines carry the session and case."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.logs import LOG_FORMATS, log_context, logging_config, redact, set_node
from tests.server_process import cli, start_server
from tests.ws_participants import link_token, new_session

TOKEN = "Zx9_kT3-qQ7vLm2NpR5sWd"


@pytest.mark.parametrize(
    "line",
    [
        f'127.0.0.1:5555 - "GET /join/{TOKEN} HTTP/1.1" 200',
        f'127.0.0.1:5555 - "POST /join/{TOKEN}/problem HTTP/1.1" 204',
        f'"GET /help/{TOKEN}?lang=de HTTP/1.1"',
        f"Authorization: Bearer {TOKEN}",
        f"GET /api/x?token={TOKEN}&page=2",
        f'body {{"username": "dana", "password": "{TOKEN}"}}',
        f'{{"new_password":"{TOKEN}"}}',
    ],
)
def test_secrets_are_hidden(line: str) -> None:
    hidden = redact(line)
    assert TOKEN not in hidden
    assert "[token]" in hidden or "[hidden]" in hidden


def test_ordinary_paths_are_kept() -> None:
    line = '"GET /api/sessions/s_123/recording HTTP/1.1" 200 /console/s_123 /cases/c_9'
    assert redact(line) == line


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    set_node(None)


def configure(log_format: str, stream: io.StringIO) -> None:
    config = logging_config(log_format)  # type: ignore[arg-type]
    config["handlers"]["main"]["stream"] = stream
    logging.config.dictConfig(config)


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_the_access_log_line_keeps_its_shape_without_the_token(
    log_format: str, captured: io.StringIO
) -> None:
    configure(log_format, captured)
    # uvicorn's access log: the path comes as an argument.
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "GET", f"/join/{TOKEN}", "1.1", 200
    )
    logging.getLogger("server.live").warning("link %s failed", f"/join/{TOKEN}", exc_info=False)
    out = captured.getvalue()
    assert TOKEN not in out
    assert out.count("/join/[token]") == 2 and "10.0.0.7:5123" in out


def test_an_exception_text_is_redacted_too(captured: io.StringIO) -> None:
    configure("text", captured)
    try:
        raise ValueError(f"bad link /join/{TOKEN}")
    except ValueError:
        logging.getLogger("server").exception("join failed")
    assert TOKEN not in captured.getvalue() and "Traceback" in captured.getvalue()


def test_json_lines_carry_the_session_case_and_node(captured: io.StringIO) -> None:
    configure("json", captured)
    set_node("node-a")

    async def a_session() -> None:
        log_context(session_id="s_1", case_id="c_1")
        await asyncio.sleep(0)
        logging.getLogger("server.live.session").info("customer joined")

    asyncio.run(a_session())
    logging.getLogger("server").info("no session here")
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["message"] == "customer joined" and first["level"] == "INFO"
    assert (first["session_id"], first["case_id"], first["node"]) == ("s_1", "c_1", "node-a")
    assert second["session_id"] is None and second["node"] == "node-a"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'text' or 'json'"):
        logging_config("xml")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_a_served_link_leaves_no_token_in_the_servers_log(tmp_path: Path, log_format: str) -> None:
    data_dir = tmp_path / "data"
    api_token = cli(data_dir, "token", "create").strip()
    server = start_server(data_dir, extra_args=("--log-format", log_format))
    try:
        session = new_session(server.base_url, api_token)
        token = link_token(session)
        with httpx.Client(base_url=server.base_url) as phone:
            assert phone.get(f"/join/{token}").status_code == 200
            phone.post(f"/join/{token}/problem", json={"problem": "no_webrtc"})
            phone.get("/api/me", headers={"Authorization": f"Bearer {api_token}"})
            phone.post("/api/login", json={"username": "admin", "password": "a password typed wrong"})
    finally:
        server.stop()
    log = server.log()
    assert "/join/[token]" in log  # the access log saw the link...
    assert token not in log and api_token not in log  # ...without its secret part
    if log_format == "json":
        access = [json.loads(line) for line in log.splitlines() if line.startswith("{") and "/join/" in line]
        assert access and all(line["logger"] == "uvicorn.access" for line in access)
