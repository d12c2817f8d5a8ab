"""Recording by muxing received packets: timing, crash safety and recovery, without a network."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from server.cli.common import open_database
from server.clock import utcnow
from server.config import Settings
from server.recordings.eventlog import read_events
from server.recordings.files import recording_files
from server.recordings.recorder import MediaSample, Recorder, SourceClock, probe_duration_s, vp8_frame_size
from server.recordings.recovery import recover_unfinished_sessions
from server.records.models import Case, RepairSession
from tests.server.synthetic_packets import VIDEO_TB, opus_packets, record, vp8_packets


def sample(pts: int, arrival_ms: int, time_base: Fraction = VIDEO_TB) -> MediaSample:
    return MediaSample("video", b"", pts, time_base, False, arrival_ms)


def test_source_clock_follows_rtp_time_from_its_first_arrival() -> None:
    clock = SourceClock()
    assert clock.to_ms(sample(90_000, 500)) == 500
    assert clock.to_ms(sample(90_000 + 3000, 540)) == 533  # RTP time, not arrival jitter
    assert clock.to_ms(sample(90_000 + 9000, 600)) == 600


def test_source_clock_reanchors_when_the_source_restarts_and_never_goes_back() -> None:
    clock = SourceClock()
    clock.to_ms(sample(0, 0))
    clock.to_ms(sample(90_000 * 10, 10_000))
    # A reconnected phone starts a new RTP clock at 0: re-anchored on arrival time.
    assert clock.to_ms(sample(0, 12_000)) == 12_000
    # Same time twice: still strictly increasing for the muxer.
    assert clock.to_ms(sample(0, 12_000)) == 12_001


def test_vp8_frame_size_reads_keyframes_only() -> None:
    packets = vp8_packets(3, 320, 240)
    assert vp8_frame_size(bytes(packets[0])) == (320, 240)
    assert vp8_frame_size(bytes(packets[1])) is None
    assert vp8_frame_size(b"") is None


def test_a_recording_plays_with_all_its_tracks(tmp_path: Path) -> None:
    path = tmp_path / "recording.webm"
    recorder = record(path, vp8_packets(60), opus_packets(90), realtime=True)
    duration = recorder.close()
    assert 1.5 < duration < 2.5
    with av.open(str(path)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "audio", "video"]
        assert sum(1 for _ in container.decode(video=0)) == 60
    assert probe_duration_s(path) == pytest.approx(duration, abs=0.05)


def test_nothing_is_written_while_paused_and_video_resumes_at_a_keyframe(tmp_path: Path) -> None:
    """Consent withdrawn then given again: one file, a gap where nothing was written."""
    path = tmp_path / "recording.webm"
    video = vp8_packets(90)  # keyframes: the first only (libvpx's default here)
    assert [p.is_keyframe for p in video].count(True) == 1
    recorder = Recorder(path)
    written = []
    for index, packet in enumerate(video):
        if index == 30:
            recorder.pause()
        if index == 60:
            recorder.resume()
        if index == 70:
            packet.is_keyframe = True  # stands for the keyframe the phone sends when asked
        if recorder.write("video", packet):
            written.append(index)
        time.sleep(1 / 30)
    recorder.close()
    assert written == [*range(30), *range(70, 90)]
    with av.open(str(path)) as container:
        times = [float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None]
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    assert len(times) == 50 and 1.2 < gap < 1.6  # 40 frames at 30 fps were not written


def test_packets_before_the_first_keyframe_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "recording.webm"
    video = vp8_packets(10)
    recorder = record(path, video[1:], [])  # starts on a delta frame and has no keyframe
    recorder.close()
    assert not path.exists()


def test_a_cut_off_recording_still_plays_up_to_where_it_stops(tmp_path: Path) -> None:
    path = tmp_path / "recording.webm"
    recorder = record(path, vp8_packets(90), opus_packets(135), realtime=True)
    recorder.close()
    data = path.read_bytes()
    cut = tmp_path / "cut.webm"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # as a kill -9 might leave it
    duration = probe_duration_s(cut)
    assert duration is not None and 1.0 < duration < 3.0
    with av.open(str(cut)) as container:
        frames = 0
        try:
            for _ in container.decode(video=0):
                frames += 1
        except av.FFmpegError:
            pass
    assert frames > 30


def test_recovery_marks_sessions_a_crash_left_live_as_partial(tmp_path: Path) -> None:
    db = open_database(Settings(data_dir=tmp_path))
    recordings = tmp_path / "recordings"
    with db.session() as s:
        case = Case(title="c")
        s.add(case)
        s.flush()
        live = RepairSession(
            case_id=case.id, token_expires_at=utcnow(), state="live", recording_status="recording"
        )
        quiet = RepairSession(
            case_id=case.id, token_expires_at=utcnow(), state="live", recording_status="none"
        )
        done = RepairSession(
            case_id=case.id, token_expires_at=utcnow(), state="ended", recording_status="complete"
        )
        s.add_all([live, quiet, done])
    files = recording_files(recordings, live.id)
    record(files.media, vp8_packets(30), []).close()
    files.events.write_text('{"type":"join"}\n{"type":"cha')

    recovered = recover_unfinished_sessions(db, recordings)

    assert sorted(recovered) == sorted([live.id, quiet.id])
    with db.session() as s:
        row = s.get(RepairSession, live.id)
        assert row is not None and row.state == "ended" and row.recording_status == "partial"
        assert row.recording_duration_s is not None and row.recording_duration_s > 0
        quiet_row = s.get(RepairSession, quiet.id)
        assert quiet_row is not None and quiet_row.recording_status == "none"
        assert s.get(RepairSession, done.id).recording_status == "complete"  # type: ignore[union-attr]
    events, truncated = read_events(files.events)
    assert truncated is False  # recovery started a fresh line after the cut one
    assert events[-1]["recovered"] is True
    assert json.loads(files.events.read_text().splitlines()[0]) == {"type": "join"}
