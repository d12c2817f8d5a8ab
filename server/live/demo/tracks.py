"""The demo customer's camera and microphone as aiortc tracks: the rendered clip at 30 fps (aiortc's
own sender encodes it to VP8, as it would any camera), and silence."""

from __future__ import annotations

from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import VideoFrame

from ...blocking import run_blocking
from .clip import DemoClip


class DemoCameraTrack(VideoStreamTrack):
    """Plays :class:`DemoClip` frame after frame, paced at 30 fps by aiortc's ``next_timestamp``.

    Each frame is rendered off the event loop (a few ms of warping): RTP, data channels and every
    other session share the loop."""

    def __init__(self, clip: DemoClip) -> None:
        super().__init__()
        self.clip = clip
        self.frames_sent = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts, time_base = await self.next_timestamp()
        index = self.frames_sent
        self.frames_sent += 1
        image = await run_blocking(self.clip.frame, index)
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame
