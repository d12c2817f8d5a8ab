"""An SDP offer as a browser sends it (audio, video and the ``ar`` data channel), made by aiortc,
and small ways to break it: for the tests of what the server does with malformed offers."""

from __future__ import annotations

import asyncio
import functools

from aiortc import RTCPeerConnection


@functools.cache
def browser_offer() -> str:
    async def make() -> str:
        pc = RTCPeerConnection()
        pc.addTransceiver("audio")
        pc.addTransceiver("video")
        pc.createDataChannel("ar")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


def without_line(sdp: str, line: str) -> str:
    """``sdp`` without its first ``line`` (e.g. ``a=mid:0``: aiortc's createAnswer then fails)."""
    lines = sdp.split("\r\n")
    lines.remove(line)
    return "\r\n".join(lines)
