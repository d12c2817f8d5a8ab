"""A browser in words, from its user agent: what the expert reads about the customer's phone."""

from __future__ import annotations

import re

# Checked in order: several browsers name others in their user agent (Edge says Chrome and Safari).
_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)(?:\.\d+)*.*Safari/"),
)
_SYSTEMS = (
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux"),
)


# The user agent of the server's own demo customer (``server/live/demo/``), and how it is shown.
DEMO_USER_AGENT = "RepairSight-Demo-Customer"
DEMO_BROWSER = "the server's sample clip (a demo customer)"


def describe_browser(user_agent: str | None) -> str:
    """``Chrome 156 on Android``, ``Safari 17 on iPhone``; ``an unknown browser`` when it says nothing
    we know."""
    agent = user_agent or ""
    if agent == DEMO_USER_AGENT:
        return DEMO_BROWSER
    name = next(
        (f"{label} {match.group(1)}" for label, pattern in _BROWSERS if (match := re.search(pattern, agent))),
        None,
    )
    system = next((label for label, pattern in _SYSTEMS if re.search(pattern, agent)), None)
    if name is None:
        return f"an unknown browser on {system}" if system else "an unknown browser"
    return f"{name} on {system}" if system else name
