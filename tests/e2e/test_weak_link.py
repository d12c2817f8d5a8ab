"""The customer's link held to 150 kbit/s: the voices keep going both ways, the video steps down and
back up, and the expert is told.

The customer's Chromium runs in a network namespace of its own (``tests/e2e/netns.py``) whose link
is limited with the kernel's token bucket filter (``tc ... tbf``) both ways for :data:`LIMIT_S`, then
freed. What a person would notice is measured from both pages' WebRTC statistics: the audio packets
each side receives per second and the share of its audio the browser had to conceal, the frames per
second and the size of the video the expert receives, the customer page's video sender's parameters,
the expert's "weak connection" sign, and the AR state found on the smaller video. The figures are
printed for the issue's closing note.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from tests.e2e import test_reconnect
from tests.e2e.conftest import Clip, wait_until
from tests.e2e.test_ar_session import AR_LAST
from tests.e2e.test_reconnect import Call, ar_found_after, customer_starts, wait_live_video

# The session with the customer's Chromium in its own namespace (a fixture of test_reconnect.py).
call = test_reconnect.call

LIMIT_KBIT = 150
LIMIT_S = 25.0
# The target: the video steps back up within this long once the limit is lifted. A performance
# target, so it is measured and printed (met or not), not a pass/fail limit; the test fails when
# the video has not come back up at all within RECOVERY_S.
STEP_UP_S = 10.0
RECOVERY_S = 30.0
# Audio under the limit, each way: Opus sends 50 packets a second. The floors are far below what was
# measured (docs/customer-page.md) and far above what a stalled voice gives (0 packets, all concealed).
MIN_AUDIO_PACKETS_PER_S = 35.0
MAX_AUDIO_CONCEALED = 0.25
# The video the expert sees under the limit: moving, if slowly.
MIN_VIDEO_FPS = 1.0
# The seconds after the limit starts before the page is expected to have reacted.
SETTLE_S = 8.0

INBOUND_JS = """async () => {
  const pc = window.repairsight && window.repairsight.pc;
  if (!pc || pc.connectionState !== 'connected') return null;
  const out = {};
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') out[s.kind] = {
      packets: s.packetsReceived || 0, concealed: s.concealedSamples || 0,
      samples: s.totalSamplesReceived || 0,
      frames: s.framesDecoded || 0, width: s.frameWidth || 0, height: s.frameHeight || 0,
    };
  });
  out.t = performance.now() / 1000;
  return out;
}"""
SENDER_JS = """() => {
  const pc = window.repairsight.pc;
  const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'video');
  const audio = pc && pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
  if (!sender) return null;
  return { video: sender.getParameters().encodings[0],
           degradation: sender.getParameters().degradationPreference || null,
           audio: audio ? audio.getParameters().encodings[0] : null,
           link: { level: window.repairsight.link.level, weak: window.repairsight.link.weak } };
}"""


@dataclass(frozen=True)
class Audio:
    packets_per_s: float
    concealed: float  # the share of the samples played that the browser made up


@dataclass(frozen=True)
class Stretch:
    """What both pages received between two readings."""

    seconds: float
    expert_hears: Audio
    customer_hears: Audio
    video_fps: float
    video_size: tuple[int, int]


def inbound(page: Any) -> dict[str, Any]:
    return wait_until(lambda: page.evaluate(INBOUND_JS), 5, "the page's statistics")  # type: ignore[no-any-return]


def audio_between(first: dict[str, Any], last: dict[str, Any]) -> Audio:
    a, b = first["audio"], last["audio"]
    seconds = last["t"] - first["t"]
    samples = b["samples"] - a["samples"]
    concealed = (b["concealed"] - a["concealed"]) / samples if samples > 0 else 1.0
    return Audio((b["packets"] - a["packets"]) / seconds, concealed)


def stretch(
    expert: tuple[dict[str, Any], dict[str, Any]], customer: tuple[dict[str, Any], dict[str, Any]]
) -> Stretch:
    first, last = expert
    seconds = last["t"] - first["t"]
    fps = (last["video"]["frames"] - first["video"]["frames"]) / seconds
    return Stretch(
        seconds,
        audio_between(*expert),
        audio_between(*customer),
        fps,
        (last["video"]["width"], last["video"]["height"]),
    )


def describe(what: str, s: Stretch) -> str:
    return (
        f"{what} ({s.seconds:.0f} s): the expert hears {s.expert_hears.packets_per_s:.1f} audio packets/s "
        f"({100 * s.expert_hears.concealed:.1f} % concealed), the customer hears "
        f"{s.customer_hears.packets_per_s:.1f} packets/s "
        f"({100 * s.customer_hears.concealed:.1f} % concealed); "
        f"the expert's video {s.video_fps:.1f} fps at {s.video_size[0]}x{s.video_size[1]}"
    )


def sign(expert: Any) -> str | None:
    node = expert.get_by_test_id("link-status")
    return (node.text_content() or "") if node.is_visible() else None


def test_a_150_kbit_link_keeps_the_voices_and_steps_the_video_down_and_back_up(
    call: Call, board_clip: Clip
) -> None:
    customer, expert = call.customer, call.expert
    customer_starts(customer, call.customer_url)
    wait_live_video(expert, board_clip, 30, "the customer's video at the expert")
    wait_until(lambda: ar_found_after(customer, 0), 30, "AR on the customer's page")
    time.sleep(3.0)
    before = customer.evaluate(SENDER_JS)
    assert before["link"] == {"level": 0, "weak": False}, before
    good = (inbound(expert), inbound(customer))
    time.sleep(4.0)
    full = stretch((good[0], inbound(expert)), (good[1], inbound(customer)))
    print(describe("before the limit", full))
    assert sign(expert) is None, "a weak connection sign on a good link"

    call.network.limit(LIMIT_KBIT)
    limited_at = time.monotonic()
    down = wait_until(
        lambda: (
            (customer.evaluate(SENDER_JS) or {}).get("link", {}).get("level", 0) > 0
            and customer.evaluate(SENDER_JS)
        ),
        SETTLE_S,
        "the customer's video stepping down",
    )
    stepped_down_s = time.monotonic() - limited_at
    shown = wait_until(lambda: sign(expert), 5, "the expert's weak connection sign")
    time.sleep(max(0.0, SETTLE_S - (time.monotonic() - limited_at)))
    under = (inbound(expert), inbound(customer))
    ar_before_ms = (customer.evaluate(AR_LAST) or {}).get("timestamp_ms") or 0
    ar_seen: list[dict[str, Any]] = []  # the expert's AR state, twice a second, until the limit ends
    while time.monotonic() - limited_at < LIMIT_S:
        ar_seen.append(expert.evaluate(AR_LAST) or {})
        time.sleep(0.5)
    limited = stretch((under[0], inbound(expert)), (under[1], inbound(customer)))
    lowest = customer.evaluate(SENDER_JS)
    shown_last = sign(expert)
    ar_found_small = [a for a in ar_seen if a.get("found") and a["frame_size"][0] < full.video_size[0]]
    customer_ar_found = ar_found_after(customer, ar_before_ms)

    call.network.unlimit()
    lifted_at = time.monotonic()
    levels = [lowest["link"]["level"]]

    def level_now() -> int:
        level = int(customer.evaluate(SENDER_JS)["link"]["level"])
        levels.append(level)
        return level

    first_up_s = None
    cleared_s = None
    full_s = None
    full_size_s = None
    while time.monotonic() - lifted_at < RECOVERY_S and None in (full_s, cleared_s, full_size_s):
        level = level_now()
        elapsed = time.monotonic() - lifted_at
        if first_up_s is None and level < lowest["link"]["level"]:
            first_up_s = elapsed
        if full_s is None and level == 0:
            full_s = elapsed
        if cleared_s is None and sign(expert) is None:
            cleared_s = elapsed
        received = inbound(expert)["video"]
        if full_size_s is None and (received["width"], received["height"]) == full.video_size:
            full_size_s = elapsed
        time.sleep(0.2)
    time.sleep(3.0)
    after = (inbound(expert), inbound(customer))
    time.sleep(4.0)
    recovered = stretch((after[0], inbound(expert)), (after[1], inbound(customer)))
    back = customer.evaluate(SENDER_JS)

    print(
        f"limit {LIMIT_KBIT} kbit/s for {LIMIT_S:.0f} s: the customer's video stepped down after "
        f"{stepped_down_s:.1f} s to {down['video']}; "
        f"lowest {lowest['video']} (level {lowest['link']['level']}); "
        f"audio sender {lowest['audio']}; degradation preference {lowest['degradation']}"
    )
    print(f"the expert's sign: first {shown!r}, last {shown_last!r}")
    print(describe("under the limit", limited))
    print(
        f"AR under the limit: {len(ar_found_small)} of {len(ar_seen)} samples of the expert's state found "
        f"the device on a smaller frame ({sorted({tuple(a['frame_size']) for a in ar_found_small})}); "
        f"the customer's page found the device again: {customer_ar_found}"
    )
    steps = [v for i, v in enumerate(levels) if i == 0 or v != levels[i - 1]]
    print(
        f"after the limit: first step up {first_up_s} s, level 0 {full_s} s, sign gone {cleared_s} s, "
        f"the expert's video at {full.video_size[0]}x{full.video_size[1]} again {full_size_s} s "
        f"(levels {' -> '.join(map(str, steps))})"
    )
    print(describe("after the limit", recovered))
    met = full_s is not None and cleared_s is not None and max(full_s, cleared_s) <= STEP_UP_S
    print(f"target: back up within {STEP_UP_S:.0f} s of the limit's end: {'met' if met else 'NOT met'}")

    for who, audio in (("expert", limited.expert_hears), ("customer", limited.customer_hears)):
        assert audio.packets_per_s >= MIN_AUDIO_PACKETS_PER_S, f"the {who}'s audio under the limit: {audio}"
        assert audio.concealed <= MAX_AUDIO_CONCEALED, f"the {who}'s audio under the limit: {audio}"
    assert down["video"]["scaleResolutionDownBy"] > 1 or down["video"].get("maxBitrate"), down
    assert lowest["video"]["scaleResolutionDownBy"] > 1 and lowest["video"]["maxBitrate"] > 0, lowest
    assert lowest["video"]["maxFramerate"] < 30, lowest
    assert lowest["audio"]["priority"] == "high", lowest
    assert re.search(r"Weak connection: \d+ kbit/s, \d+ fps", shown), shown
    assert shown_last is not None, "the sign went while the link was still limited"
    assert limited.video_fps >= MIN_VIDEO_FPS, limited
    assert limited.video_size[0] * limited.video_size[1] < full.video_size[0] * full.video_size[1], (
        limited,
        full,
    )
    assert ar_found_small, f"no AR state found the device on the smaller video: {ar_seen[-3:]}"
    assert customer_ar_found, "the customer's page had no AR state on the smaller video"
    assert first_up_s is not None, f"the video did not step up within {RECOVERY_S:.0f} s of the limit's end"
    assert full_s is not None, f"the video was not back to full within {RECOVERY_S:.0f} s of the limit's end"
    assert cleared_s is not None, f"the sign stayed {RECOVERY_S:.0f} s after the limit's end"
    assert back["video"]["scaleResolutionDownBy"] == 1 and "maxBitrate" not in back["video"], back
    assert recovered.video_fps >= MIN_VIDEO_FPS, recovered
    assert call.errors == []
