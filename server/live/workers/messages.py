"""What the main process and a media worker process say to each other, pickled over one pipe.

Main -> worker: a session's encoded video frames, what its vision should do (procedure options, the
current step), burn-in on or off, snapshot requests. Worker -> main: vision results, burned-in
encoded frames, snapshots, "I need a keyframe", and faults. Only plain values and numpy arrays cross
(encoded frames are about 50 times smaller than decoded ones, so they cross instead of pictures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vision.annotations import Annotation
from vision.pipeline import ARState, PipelineOptions
from vision.steps import StepRule

# --- main -> worker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSession:
    session_id: str


@dataclass(frozen=True)
class VisionPace:
    """How many frames a second vision locates the device on, and of those how many a second it
    looks for hands on (a touch step's); None: every frame (docs/vision.md has the measurement)."""

    fps: float | None = None
    hands_fps: float | None = None


@dataclass(frozen=True)
class SetVision:
    """Run vision with these options from the next frame on (None: no vision, only decoding)."""

    session_id: str
    options: PipelineOptions | None
    pace: VisionPace = VisionPace()


@dataclass(frozen=True)
class SetStep:
    """What to project and check from the next frame on; results name the ``generation`` they used."""

    session_id: str
    generation: int
    annotations: tuple[Annotation, ...]
    rule: StepRule | None


@dataclass(frozen=True)
class EncodedFrame:
    """One received video frame as the phone encoded it (``rtp_timestamp`` on its ``clock_rate``)."""

    session_id: str
    codec: str
    data: bytes
    rtp_timestamp: int
    clock_rate: int
    keyframe: bool


@dataclass(frozen=True)
class SetBurnIn:
    session_id: str
    enabled: bool


@dataclass(frozen=True)
class BurnInKeyframe:
    """The expert's decoder needs a keyframe of the burned-in stream."""

    session_id: str


@dataclass(frozen=True)
class TakeSnapshot:
    """The newest frame as JPEG, clean and with the overlay as the expert saw it (``pinned``: the marks
    pinned to the screen, in fractions of the frame, as ``SessionAnnotation`` JSON)."""

    session_id: str
    request_id: int
    pinned: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CloseSession:
    session_id: str


ToWorker = (
    OpenSession
    | SetVision
    | SetStep
    | EncodedFrame
    | SetBurnIn
    | BurnInKeyframe
    | TakeSnapshot
    | CloseSession
)


# --- worker -> main --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisionDone:
    """Vision's result on one frame, computed for step ``generation``."""

    session_id: str
    generation: int
    state: ARState
    rtp_timestamp: int


@dataclass(frozen=True)
class BurnedFrame:
    """One frame of the expert's burned-in video, VP8-encoded, on the phone's RTP clock."""

    session_id: str
    data: bytes
    rtp_timestamp: int
    keyframe: bool


@dataclass(frozen=True)
class SnapshotDone:
    session_id: str
    request_id: int
    clean_jpeg: bytes | None
    marked_jpeg: bytes | None
    state: ARState | None
    error: str | None = None


@dataclass(frozen=True)
class KeyframeNeeded:
    """The worker's decoder lost its place (a damaged frame): ask the phone for a keyframe."""

    session_id: str


@dataclass(frozen=True)
class SessionFault:
    """The session's vision failed in Python (the worker goes on); ``message`` says why."""

    session_id: str
    message: str


FromWorker = VisionDone | BurnedFrame | SnapshotDone | KeyframeNeeded | SessionFault
