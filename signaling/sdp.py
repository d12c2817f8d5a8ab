"""What a page's SDP offer and trickled ICE candidates must look like before the media stack sees them.

aiortc parses both, but what it does with a broken one is not an error a client can read: an
offer of ``""`` or ``"hello world"`` is answered with an empty answer, an offer whose media
section lost its ``a=mid`` raises ``AttributeError`` in ``createAnswer``, and a short candidate
(``candidate:1 1 udp``) fails an ``assert``. These checks follow the grammars aiortc relies on
(SDP, RFC 8866 section 9; JSEP's ``a=mid`` on every media section, RFC 8829 section 5.2.1; the
candidate attribute, RFC 8839 section 5.1) and raise a :class:`ProtocolError` (``bad_offer``,
``bad_candidate``) that says what is wrong. They are cheap, and no substitute for the media
layer catching what gets past them.
"""

from __future__ import annotations

import re

from .messages import ProtocolError

MEDIA_KINDS = ("audio", "video", "application")
# <media> <port>[/<number of ports>] <proto> <fmt> ...
_MEDIA_LINE = re.compile(r"m=([a-z]+) (\d{1,5})(?:/\d{1,5})? (\S+)(?: \S+)+")
_LINE = re.compile(r"[a-z]=.*")
# foundation component transport priority address port "typ" type [name value]...
_CANDIDATE = re.compile(
    r"candidate:([A-Za-z0-9+/]{1,32}) (\d{1,3}) ([A-Za-z][A-Za-z0-9-]*) (\d{1,10}) (\S{1,255}) (\d{1,5})"
    r" typ ([A-Za-z0-9-]{1,16})((?: \S+ \S+)*) ?"
)
_RELATED_PORT = re.compile(r" rport (\S+)")


def check_offer(sdp: str) -> None:
    """Raise ``bad_offer`` unless ``sdp`` is an SDP offer with at least one audio, video or data
    section, each with its ``a=mid``."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise ProtocolError("bad_offer", "the offer is not SDP: it must start with 'v=0'")
    bad = next((line for line in lines if not _LINE.fullmatch(line)), None)
    if bad is not None:
        raise ProtocolError("bad_offer", f"the offer has a line that is not '<letter>=<value>': {bad[:40]!r}")
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            media = _MEDIA_LINE.fullmatch(line)
            if media is None or media.group(1) not in MEDIA_KINDS or int(media.group(2)) > 65535:
                raise ProtocolError("bad_offer", f"the offer has an unusable media line: {line[:60]!r}")
            sections.append([])
        elif sections:
            sections[-1].append(line)
    if not sections:
        raise ProtocolError("bad_offer", "the offer has no audio, video or data section")
    mids = [next((line[6:] for line in section if line.startswith("a=mid:")), "") for section in sections]
    if "" in mids or len(set(mids)) != len(mids):
        raise ProtocolError("bad_offer", "every media section of the offer needs its own 'a=mid' (JSEP)")


def check_candidate(candidate: str) -> None:
    """Raise ``bad_candidate`` unless ``candidate`` is empty (the end of candidates) or a candidate
    attribute with every field of RFC 8839 section 5.1 in its place."""
    if not candidate:
        return
    found = _CANDIDATE.fullmatch(candidate)
    if found is None:
        raise ProtocolError(
            "bad_candidate",
            "the ICE candidate is not 'candidate:<foundation> <component> <transport> <priority> "
            f"<address> <port> typ <type> ...': {candidate[:60]!r}",
        )
    ports = [found.group(6), *(port for port in _RELATED_PORT.findall(found.group(8)))]
    if not all(port.isdigit() and int(port) <= 65535 for port in ports):
        raise ProtocolError("bad_candidate", f"the ICE candidate has a port over 65535: {candidate[:60]!r}")
