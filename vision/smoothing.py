"""Jitter removal for the device outline without visible lag: the One Euro filter.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy Input
in Interactive Systems", CHI 2012 (https://gery.casiez.net/1euro/). A low-pass filter whose
cut-off rises with speed: when the phone is still, sub-pixel jitter is averaged away; when it
moves, the cut-off opens and the outline follows with little lag. It works on the four corners
in frame pixels (eight numbers), with the real frame timestamps, so dropped frames are handled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vision.types import FloatArray


@dataclass(frozen=True)
class SmoothingOptions:
    """``min_cutoff_hz``: smoothing when still (lower = smoother); ``beta``: how fast it opens with speed."""

    min_cutoff_hz: float = 1.5
    beta: float = 0.5
    derivative_cutoff_hz: float = 1.0


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Filters an array of values (here 4 x 2 corners) over time. Reset it when the device is lost."""

    def __init__(self, options: SmoothingOptions | None = None) -> None:
        self.options = options or SmoothingOptions()
        self._value: FloatArray | None = None
        self._speed: FloatArray | None = None
        self._timestamp_ms = 0

    def reset(self) -> None:
        self._value = None
        self._speed = None

    def __call__(self, value: FloatArray, timestamp_ms: int) -> FloatArray:
        value = np.asarray(value, dtype=np.float64)
        if self._value is None or self._speed is None or timestamp_ms <= self._timestamp_ms:
            self._value = value.copy()
            self._speed = np.zeros_like(value)
            self._timestamp_ms = timestamp_ms
            return value.copy()
        dt_s = (timestamp_ms - self._timestamp_ms) / 1000.0
        opts = self.options
        speed = (value - self._value) / dt_s
        a_d = _alpha(opts.derivative_cutoff_hz, dt_s)
        self._speed = a_d * speed + (1 - a_d) * self._speed
        # One cut-off for all corners (from the fastest one), so the outline keeps its shape.
        cutoff = opts.min_cutoff_hz + opts.beta * float(np.abs(self._speed).max())
        a = _alpha(cutoff, dt_s)
        self._value = a * value + (1 - a) * self._value
        self._timestamp_ms = timestamp_ms
        return self._value.copy()
