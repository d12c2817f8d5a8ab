"""Both voices in what a trainer plays and downloads. The customer's browser has a 440 Hz microphone
and the expert's an 880 Hz one (two Chromium processes, each with its own fake microphone); after a
short session the downloaded WebM's default audio track carries both tones, and so does what the
player page plays (its audio, analysed by the page itself through Web Audio)."""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from tests.e2e.conftest import (
    CHROMIUM,
    EXPERT_PASSWORD,
    EXPERT_USER,
    Clip,
    RunningServer,
    chromium_args,
    customer_joins,
    end_session,
    open_console_for_new_case,
    wait_until,
)

CUSTOMER_HZ, EXPERT_HZ = 440, 880
PLAYER_SPECTRUM = """async () => {
  const video = document.querySelector('[data-testid="playback-video"]');
  video.muted = false;
  video.currentTime = 1.0;
  await video.play();
  const context = new AudioContext();
  const source = context.createMediaStreamSource(video.captureStream());
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  const sums = new Float32Array(analyser.frequencyBinCount);
  for (let i = 0; i < 20; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    const now = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(now);
    for (let k = 0; k < now.length; k += 1) sums[k] += Math.pow(10, now[k] / 10);
  }
  return { rate: context.sampleRate, size: analyser.fftSize, power: Array.from(sums) };
}"""


def tone_wav(path: Path, hz: float, seconds: float = 5.0, rate: int = 48_000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path.resolve()


def band_share(power: np.ndarray, freqs: np.ndarray, hz: float, width: float = 15.0) -> float:
    return float(power[(freqs > hz - width) & (freqs < hz + width)].sum() / power.sum())


def default_track_shares(path: Path) -> tuple[list[str], float, float]:
    with av.open(str(path)) as container:
        titles = [s.metadata.get("title", "") for s in container.streams.audio]
        chunks = [f.to_ndarray().mean(axis=0) for f in container.decode(container.streams.audio[0])]
    samples = np.concatenate(chunks)
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / 48_000)
    return titles, band_share(power, freqs, CUSTOMER_HZ), band_share(power, freqs, EXPERT_HZ)


@pytest.fixture
def two_browsers(board_clip: Clip, tmp_path: Path) -> Any:
    from playwright.sync_api import sync_playwright

    customer_tone = tone_wav(tmp_path / "customer.wav", CUSTOMER_HZ)
    expert_tone = tone_wav(tmp_path / "expert.wav", EXPERT_HZ)
    with sync_playwright() as playwright:
        launched = [
            playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*chromium_args(board_clip.y4m), f"--use-file-for-fake-audio-capture={tone}"],
            )
            for tone in (customer_tone, expert_tone)
        ]
        try:
            yield launched
        finally:
            for browser in launched:
                browser.close()


def test_the_trainer_hears_both_voices_in_the_download_and_the_player(
    server: RunningServer, two_browsers: Any, tmp_path: Path
) -> None:
    customer_browser, expert_browser = two_browsers
    expert = expert_browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    customer = customer_browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    session_id, customer_url = open_console_for_new_case(expert, server, "Two voices")
    customer_joins(customer, customer_url)
    wait_until(
        lambda: "hears you" in (expert.get_by_test_id("mic-status").text_content() or ""), 10, "the mic"
    )
    wait_until(lambda: expert.evaluate("() => window.repairsight.state.joined"), 10, "the console to join")
    time.sleep(6)  # both talk
    end_session(expert)
    wait_until(lambda: customer.get_by_test_id("session-ended").is_visible(), 15, "the end")

    # The download, as the case page links it.
    headers = {"Authorization": f"Bearer {server.api_token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as api:
        row = api.get(f"/api/sessions/{session_id}").json()
        media = api.get(row["recording"]["media_url"])
    assert media.status_code == 200
    download = tmp_path / "download.webm"
    download.write_bytes(media.content)
    titles, customer_share, expert_share = default_track_shares(download)
    print(f"default track {titles[0]!r}: 440 Hz share {customer_share:.2f}, 880 Hz share {expert_share:.2f}")
    assert titles == ["both voices", "customer audio", "expert audio"]
    assert customer_share > 0.05 and expert_share > 0.05, (customer_share, expert_share)

    # The player page plays the same: analysed as it plays.
    expert.goto(f"{server.base_url}/playback/{session_id}")
    if expert.get_by_test_id("login-username").count():
        expert.get_by_test_id("login-username").fill(EXPERT_USER)
        expert.get_by_test_id("login-password").fill(EXPERT_PASSWORD)
        expert.get_by_test_id("login-submit").click()
    wait_until(
        lambda: expert.evaluate(
            "() => document.querySelector('[data-testid=playback-video]').readyState >= 2"
        ),
        20,
        "the recording in the player",
    )
    heard = expert.evaluate(PLAYER_SPECTRUM)
    power = np.array(heard["power"])
    freqs = np.arange(len(power)) * heard["rate"] / heard["size"]
    played_customer, played_expert = (
        band_share(power, freqs, CUSTOMER_HZ),
        band_share(power, freqs, EXPERT_HZ),
    )
    print(f"player: 440 Hz share {played_customer:.2f}, 880 Hz share {played_expert:.2f}")
    assert played_customer > 0.05 and played_expert > 0.05, (played_customer, played_expert)
