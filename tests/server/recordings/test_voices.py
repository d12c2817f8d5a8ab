"""Both voices in a recording's default audio track: the customer's 440 Hz and the expert's 660 Hz
tones must both be in the first audio track, which browsers play; the separate tracks stay."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from server.recordings.voices import MIXED_TITLE, add_both_voices, audio_titles, has_both_voices
from tests.server.made_recordings import board_camera, write_recording

CUSTOMER_HZ, EXPERT_HZ = 440, 660


def default_audio(path: Path) -> tuple[np.ndarray, dict[str, int]]:
    """The first audio track (the one players play) as mono samples, and its dispositions."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        flags = {s.metadata.get("title", ""): int(s.disposition) for s in container.streams.audio}
        samples = [frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)]
    return np.concatenate(samples), flags


def share_at(samples: np.ndarray, hz: float, rate: int = 48_000) -> float:
    """The share of the track's energy within 10 Hz of ``hz`` (a voice's tone that is there holds a
    large share; one that is not, next to none)."""
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(power[(freqs > hz - 10) & (freqs < hz + 10)].sum() / power.sum())


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("voices") / "recording.webm"
    write_recording(path, board_camera(90))
    return path


def test_the_recorder_keeps_the_voices_apart_and_browsers_would_hear_only_the_customer(
    recording: Path,
) -> None:
    assert audio_titles(recording) == ["customer audio", "expert audio"]
    samples, _ = default_audio(recording)
    assert share_at(samples, CUSTOMER_HZ) > 0.9 and share_at(samples, EXPERT_HZ) < 0.001


def test_both_voices_are_mixed_into_the_default_track_and_the_rest_is_kept(
    recording: Path, tmp_path: Path
) -> None:
    path = tmp_path / "recording.webm"
    path.write_bytes(recording.read_bytes())
    with av.open(str(recording)) as before:
        video_before = [bytes(p) for p in before.demux(video=0) if p.dts is not None]
        duration_before = before.duration
    report = add_both_voices(path)
    assert report.mixed and has_both_voices(path)
    assert audio_titles(path) == [MIXED_TITLE, "customer audio", "expert audio"]
    samples, flags = default_audio(path)
    assert flags[MIXED_TITLE] & int(av.stream.Disposition.default)
    assert not flags["customer audio"] & int(av.stream.Disposition.default)
    assert share_at(samples, CUSTOMER_HZ) > 0.3 and share_at(samples, EXPERT_HZ) > 0.3
    with av.open(str(path)) as after:
        assert [bytes(p) for p in after.demux(video=0) if p.dts is not None] == video_before  # copied
        assert abs(after.duration - duration_before) < 100_000  # within 0.1 s
    assert not add_both_voices(path).mixed  # once is enough
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording.webm"]  # no leftovers


def test_a_recording_that_cannot_be_read_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "recording.webm"
    path.write_bytes(b"not a webm")
    assert not add_both_voices(path).mixed
    assert path.read_bytes() == b"not a webm"
