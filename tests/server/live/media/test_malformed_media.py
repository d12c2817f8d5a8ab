"""aiortc's failures on a malformed offer or candidate become this client's error, not the
session's (issue 15, finding 6): ``SessionMedia`` raises ``ValueError`` (``bad_offer``,
``bad_candidate`` to the page) and is left as it was. These reach aiortc directly, without the
checks of ``signaling.sdp`` in front."""

from __future__ import annotations

import asyncio

import pytest

from server.live.media.hub import SessionMedia
from tests.offers import browser_offer, without_line


def test_an_offer_that_breaks_create_answer_is_a_value_error_and_no_leg_is_left() -> None:
    broken = without_line(browser_offer(), "a=mid:0")  # aiortc: AttributeError in createAnswer

    async def scenario() -> None:
        media = SessionMedia("malformed", ice_servers=())
        with pytest.raises(ValueError, match="the offer could not be used: AttributeError"):
            await media.accept_offer("customer", "c1", broken)
        assert media.legs["customer"] is None
        answer = await media.accept_offer("customer", "c2", browser_offer())  # the next offer works
        assert "m=video" in answer
        await media.close()

    asyncio.run(scenario())


def test_a_short_candidate_after_the_answer_is_a_value_error() -> None:
    async def scenario() -> None:
        media = SessionMedia("malformed", ice_servers=())
        await media.accept_offer("customer", "c1", browser_offer())
        with pytest.raises(ValueError, match="AssertionError"):
            await media.add_candidate("customer", "candidate:1 1 udp", "0", 0)
        await media.add_candidate("customer", "", "0", 0)  # the end of candidates still works
        await media.close()

    asyncio.run(scenario())


def test_a_short_candidate_before_the_answer_is_skipped_when_the_answer_is_made() -> None:
    async def scenario() -> None:
        media = SessionMedia("malformed", ice_servers=())
        media_task = asyncio.ensure_future(media.accept_offer("customer", "c1", browser_offer()))
        await asyncio.sleep(0)  # the leg exists, not yet answered: candidates wait for the answer
        await media.add_candidate("customer", "candidate:1 1 udp", "0", 0)
        leg = media.legs["customer"]
        assert leg is not None and not leg.answered and leg.early_candidates
        assert "m=audio" in await media_task
        await media.close()

    asyncio.run(scenario())
