"""Asking the phone for a keyframe: the PLI must reach its media stream whatever SSRC was heard first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.live.media.forwarding import KeyframeRequester


@dataclass
class Source:
    source: int


class FakeReceiver:
    """What ``KeyframeRequester`` uses of an aiortc receiver: the SSRCs heard, and sending a PLI."""

    def __init__(self, ssrcs: list[int]) -> None:
        self.ssrcs = ssrcs
        self.plis: list[int] = []

    def getSynchronizationSources(self) -> list[Source]:  # noqa: N802 - W3C name
        return [Source(s) for s in self.ssrcs]

    async def _send_rtcp_pli(self, media_ssrc: int) -> None:
        self.plis.append(media_ssrc)


async def test_the_pli_names_every_ssrc_heard_so_the_rtx_one_first_does_not_hide_the_media_one() -> None:
    """Chrome's first packets can be padding on its RTX SSRC (bandwidth probing): a PLI naming only
    that SSRC was ignored, and AR waited 7-10 s, or much longer, for a keyframe."""
    rtx, media = 1111, 2222
    receiver = FakeReceiver([rtx, media])
    requester = KeyframeRequester(receiver, min_interval_s=0.5)  # type: ignore[arg-type]
    requester.request()
    await asyncio.sleep(0)
    assert sorted(receiver.plis) == [rtx, media]


async def test_requests_are_spaced_and_wait_for_a_stream() -> None:
    receiver = FakeReceiver([])
    requester = KeyframeRequester(receiver, min_interval_s=60)  # type: ignore[arg-type]
    requester.request()  # nothing heard yet: nothing to ask
    receiver.ssrcs = [5]
    requester.request()
    requester.request()  # too soon after the last
    await asyncio.sleep(0)
    assert receiver.plis == [5]
