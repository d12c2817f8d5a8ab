"""Building the server's aiortc peer connections: ICE configuration, codecs and SDP details."""

from __future__ import annotations

import re

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import candidate_from_sdp

from ...config import IceServerConfig

# Chrome starts sending at about 300 kbps and takes seconds to ramp up; this fmtp parameter
# in our answer lets it start at full resolution.
START_BITRATE_KBPS = 1500


def rtc_configuration(ice_servers: tuple[IceServerConfig, ...]) -> RTCConfiguration:
    """Always explicit: with no configuration aiortc falls back to a public STUN host."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.url, username=s.username, credential=s.credential) for s in ice_servers
        ]
    )


def new_peer_connection(ice_servers: tuple[IceServerConfig, ...]) -> RTCPeerConnection:
    return RTCPeerConnection(rtc_configuration(ice_servers))


def vp8_preferences() -> list[RTCRtpCodecCapability]:
    """VP8 (and its RTX): forwarding needs the same codec on both legs, and VP8 is what
    every browser and aiortc share (aiortc's H.264 is baseline only)."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]


def prefer_vp8(transceiver: RTCRtpTransceiver) -> None:
    """Set before creating the answer (iOS Safari lists H.264 first)."""
    if transceiver.kind == "video":
        transceiver.setCodecPreferences(vp8_preferences())


def with_start_bitrate(sdp: str, kbps: int = START_BITRATE_KBPS) -> str:
    """Add ``x-google-start-bitrate`` to every VP8 payload's fmtp line (adding one if absent)."""
    payload_types = re.findall(r"^a=rtpmap:(\d+) VP8/90000", sdp, flags=re.MULTILINE)
    lines = sdp.split("\r\n")
    out: list[str] = []
    for line in lines:
        out.append(line)
        for pt in payload_types:
            if line.startswith(f"a=rtpmap:{pt} VP8/90000") and f"a=fmtp:{pt} " not in sdp:
                out.append(f"a=fmtp:{pt} x-google-start-bitrate={kbps}")
            elif line.startswith(f"a=fmtp:{pt} ") and "x-google-start-bitrate" not in line:
                out[-1] = f"{line};x-google-start-bitrate={kbps}"
    return "\r\n".join(out)


async def add_remote_candidate(
    pc: RTCPeerConnection, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
) -> None:
    """Trickled ICE from a browser (``candidate:...`` SDP attribute); an empty one ends the list."""
    if not candidate:
        return
    parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    await pc.addIceCandidate(parsed)
