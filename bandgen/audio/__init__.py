"""Audio input and output, resampling and input checks, and the rate bandgen works at.

Import the submodules directly (``from bandgen.audio.io import read_audio``); only the constant
below lives here, so importing the package loads nothing.
"""

from __future__ import annotations

__all__ = ["WORK_RATE"]

WORK_RATE = 48_000
"""The working sample rate in Hz: every input is resampled to it, the high-band coders, models,
losses and metrics run at it, and ``.bgn`` streams decode to it."""
