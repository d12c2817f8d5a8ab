"""Mixing a recording's voices into one track: each voice placed at its own timestamps, summed.

A recording keeps the customer's and the expert's voices as two Opus tracks, as they arrived. Anything
made for people to listen to (the WebM's default track, MP4 exports) mixes them, with silence
where nobody spoke. Only the window not yet handed out is kept, whatever the session's length.
"""

from __future__ import annotations

import numpy as np

AUDIO_RATE = 48_000
# Audio is mixed this far behind the demuxer's position: the two voices' packets are interleaved
# by arrival, so a packet can come up to a cluster (about 1 s) after a later one of the other track.
MIX_LAG_MS = 1500


class AudioMix:
    """Sums audio tracks placed at absolute sample positions; hands back finished stretches in order.

    Only the not-yet-finished window is kept (about ``MIX_LAG_MS``), whatever the session's length.
    """

    def __init__(self, channels: int = 2) -> None:
        self.channels = channels
        self.flushed = 0  # samples handed out so far
        self.written_end = 0  # one past the last sample any track wrote
        self._buffer = np.zeros((channels, 0), np.float32)

    def add(self, start_sample: int, samples: np.ndarray) -> None:
        """Mix ``samples`` (channels x n, float) in at ``start_sample``; what falls before the part
        already handed out is dropped (a packet too late to mix)."""
        skip = self.flushed - start_sample
        if skip > 0:
            samples = samples[:, skip:]
            start_sample = self.flushed
        if samples.shape[1] == 0:
            return
        offset = start_sample - self.flushed
        end = offset + samples.shape[1]
        if end > self._buffer.shape[1]:
            grown = np.zeros((self.channels, max(end, 2 * self._buffer.shape[1])), np.float32)
            grown[:, : self._buffer.shape[1]] = self._buffer
            self._buffer = grown
        self._buffer[:, offset:end] += samples
        self.written_end = max(self.written_end, start_sample + samples.shape[1])

    def take(self, upto_sample: int, multiple: int) -> np.ndarray:
        """The mixed samples from the last hand-out up to ``upto_sample``, rounded down to a multiple of
        ``multiple`` (silence where nothing was written), clipped to [-1, 1]."""
        count = (upto_sample - self.flushed) // multiple * multiple
        if count <= 0:
            return np.zeros((self.channels, 0), np.float32)
        out = np.zeros((self.channels, count), np.float32)
        have = min(count, self._buffer.shape[1])
        out[:, :have] = self._buffer[:, :have]
        self._buffer = self._buffer[:, have:].copy()
        self.flushed += count
        return np.clip(out, -1.0, 1.0)
