"""Offers and ICE candidates are checked before aiortc sees them (issue 15, finding 6)."""

from __future__ import annotations

import pytest

from signaling import ProtocolError
from signaling.sdp import check_candidate, check_offer
from tests.offers import browser_offer, without_line

CHROME = "candidate:842163049 1 udp 1677729535 192.0.2.10 53917 typ srflx raddr 0.0.0.0 rport 0 generation 0"
FIREFOX = "candidate:0 1 UDP 2122252543 192.168.1.2 49625 typ host"
SAFARI_MDNS = (
    "candidate:3497240150 1 udp 2113937151 4c1d6b0e-4a3c-4d55-9d3c-7e1f2a1b3c4d.local 52810 typ host "
    "generation 0 ufrag u5Zx network-cost 999"
)
TCP = "candidate:1 1 TCP 2105524479 192.168.1.2 9 typ host tcptype active"


def test_a_browsers_offer_passes() -> None:
    check_offer(browser_offer())
    check_offer(browser_offer().replace("\r\n", "\n"))  # bare newlines, as some clients send


@pytest.mark.parametrize(
    ("sdp", "says"),
    [
        ("", "must start with 'v=0'"),
        ("hello world", "must start with 'v=0'"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no audio, video or data section"),
        ("v=0\r\nnot a line\r\n", "not '<letter>=<value>'"),
        ("v=0\r\nm=telepathy 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n", "unusable media line"),
        ("v=0\r\nm=audio 99999 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n", "unusable media line"),
        ("v=0\r\nm=audio\r\n", "unusable media line"),
    ],
)
def test_what_is_not_an_offer_is_a_bad_offer(sdp: str, says: str) -> None:
    with pytest.raises(ProtocolError, match=says) as refused:
        check_offer(sdp)
    assert refused.value.code == "bad_offer"


def test_every_media_section_needs_its_own_mid() -> None:
    with pytest.raises(ProtocolError, match="a=mid") as refused:
        check_offer(without_line(browser_offer(), "a=mid:0"))
    assert refused.value.code == "bad_offer"
    with pytest.raises(ProtocolError, match="a=mid"):
        check_offer(browser_offer().replace("a=mid:1", "a=mid:0"))


@pytest.mark.parametrize("candidate", ["", CHROME, FIREFOX, SAFARI_MDNS, TCP, FIREFOX + " "])
def test_browsers_candidates_pass(candidate: str) -> None:
    check_candidate(candidate)


@pytest.mark.parametrize(
    "candidate",
    [
        "candidate:1 1 udp",  # aiortc: AssertionError
        "candidate:1 1 udp 1 192.0.2.1 5",
        "candidate:1 x udp 1 192.0.2.1 5 typ host",
        "candidate:1 1 udp 1 192.0.2.1 99999 typ host",
        "candidate:1 1 udp 1 192.0.2.1 5 typ host raddr 0.0.0.0 rport 70000",
        "candidate:1 1 udp 1 192.0.2.1 5 type host",
        "1 1 udp 1 192.0.2.1 5 typ host",
        "candidate:1 1 udp 1 192.0.2.1 5 typ host generation",
        "candidate:1\n1 udp 1 192.0.2.1 5 typ host",
    ],
)
def test_a_candidate_missing_a_field_is_a_bad_candidate(candidate: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        check_candidate(candidate)
    assert refused.value.code == "bad_candidate"
