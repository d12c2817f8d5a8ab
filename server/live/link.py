"""The customer's link as its page reports it, passed on to the expert (docs/customer-page.md, "Weak links").

The page reads its own sender's statistics and steps its video down on a weak link
(``client_web/js/link-adapt.js``); its ``link_quality`` figures are the expert's "weak connection"
sign. The page sends at most one a second (every second only while the link is weak). The server
checks them (the message's model), lets a page send two a second after a burst of five (a script
cannot flood the expert's socket through it), and keeps the last one for an expert who joins later.
"""

from __future__ import annotations

from signaling import LinkQuality, LinkReport, ProtocolError
from signaling.rate import TokenBucket

# The page reads its link once a second and sends at most one report each time: every second while
# the link is weak, on a change, else every 5 s (link-adapt.js, REPORT_EVERY_S). Twice that rate and
# a burst leave room for ticks that bunch up and for reports held up by a slow socket.
LINK_REPORT_BURST = 5
LINK_REPORTS_PER_S = 2.0
# A report older than this says nothing about the link now (the page stopped, or dropped).
LINK_REPORT_FRESH_S = 5.0


class CustomerLink:
    """The customer page's last ``link_quality`` report, and its allowance."""

    def __init__(self) -> None:
        self._allowance = TokenBucket(LINK_REPORT_BURST, LINK_REPORTS_PER_S)
        self._last: tuple[float, LinkQuality] | None = None

    def accept(self, report: LinkReport, now_s: float) -> LinkQuality:
        """The message for the expert (the customer's page sent ``report``; ``signaling.state`` refuses
        it from anyone else); :class:`ProtocolError` past the allowance."""
        wait_s = self._allowance.take(now_s)
        if wait_s > 0:
            raise ProtocolError(
                "link_quality_rate_limited",
                f"link_quality: at most {LINK_REPORTS_PER_S:.0f} reports a second; "
                f"send the next in {wait_s:.1f} s",
            )
        quality = LinkQuality(role="customer", **report.model_dump(exclude={"type"}))
        self._last = (now_s, quality)
        return quality

    def recent(self, now_s: float) -> LinkQuality | None:
        """The last report, if it still says something about the link now."""
        if self._last is None or now_s - self._last[0] > LINK_REPORT_FRESH_S:
            return None
        return self._last[1]
