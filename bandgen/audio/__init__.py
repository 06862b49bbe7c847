"""Audio input and output, resampling and input checks, and the rate bandgen works at.

Import the submodules directly (``from bandgen.audio.io import read_audio``); only the constants
below live here, so importing the package loads nothing (not even numpy).
"""

from __future__ import annotations

__all__ = ["MAX_CHANNELS", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "WORK_RATE"]

WORK_RATE = 48_000
"""The working sample rate in Hz: every input is resampled to it, the high-band coders, models,
losses and metrics run at it, and ``.bgn`` streams decode to it."""

MAX_CHANNELS = 255
"""Most channels a ``.bgn`` stream holds."""

MIN_SAMPLE_RATE = 1_000
"""Lowest input sampling rate accepted, in Hz."""
MAX_SAMPLE_RATE = 768_000
"""Highest input sampling rate accepted, in Hz."""
