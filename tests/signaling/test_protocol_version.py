"""The protocol version a ``join`` carries: only the current one gets in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signaling.messages import (
    OUTDATED_PAGE_MESSAGE,
    PROTOCOL_VERSION,
    Join,
    OutdatedPage,
    check_protocol_version,
    parse_client_message,
)

SIGNALING_JS = Path(__file__).parents[2] / "client_web" / "js" / "signaling.js"


def test_a_join_of_the_current_version_passes() -> None:
    join = parse_client_message(json.dumps({"type": "join", "role": "expert", "version": PROTOCOL_VERSION}))
    assert isinstance(join, Join)
    check_protocol_version(join)


@pytest.mark.parametrize("version", [None, 0, PROTOCOL_VERSION + 1, 1_000_000])
def test_a_join_of_another_or_no_version_is_told_to_reload(version: int | None) -> None:
    fields = {} if version is None else {"version": version}
    join = parse_client_message(json.dumps({"type": "join", "role": "customer", "token": "t", **fields}))
    assert isinstance(join, Join)
    with pytest.raises(OutdatedPage) as refused:
        check_protocol_version(join)
    assert refused.value.code == "outdated_page"
    assert refused.value.message == OUTDATED_PAGE_MESSAGE
    assert "reload" in OUTDATED_PAGE_MESSAGE


def test_the_pages_send_the_current_version() -> None:
    """``signaling.js`` mirrors the constant (the browser tests then use it for real)."""
    script = SIGNALING_JS.read_text()
    assert f"export const PROTOCOL_VERSION = {PROTOCOL_VERSION};" in script
    assert script.count("version: PROTOCOL_VERSION") == 2  # the customer's join and the expert's
    assert "'outdated_page'" in script  # a join refused for its version is final: no retries
