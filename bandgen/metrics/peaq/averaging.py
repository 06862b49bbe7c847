"""Temporal averaging of the Basic MOVs (ITU-R BS.1387-1, section 5.2) and data boundaries.

Frames are counted as in Kabal's PQevalAudio: the MOVs are averaged over the frames between
the data boundaries of the reference (5.2.4.4); the modulation and noise-loudness averages are
delayed by 0.5 s (5.2.4.1), and the noise loudness additionally until 50 ms after both signals
are audible (5.2.4.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bandgen.metrics.peaq.ear import FRAME_RATE, HOP_LENGTH, N_FFT, Array

_BOUNDARY_WINDOW = 5
_BOUNDARY_THRESHOLD = 200.0  # sum of |x| over 5 samples, 16-bit units
AVERAGING_DELAY = math.ceil(0.5 * FRAME_RATE)  # 24 frames
LOUDNESS_DELAY = math.ceil(0.050 * FRAME_RATE)  # 3 frames
_LOUDNESS_THRESHOLD = 0.1  # sone


@dataclass(frozen=True)
class FrameRange:
    """Frames whose MOV precursors are averaged: ``first .. last`` inclusive (global indices)."""

    first: int
    last: int

    @property
    def count(self) -> int:
        """Number of frames in the range (0 if empty)."""
        return max(self.last - self.first + 1, 0)


def data_boundary(ref: Array, n_frames: int) -> FrameRange:
    """Frames holding the reference's data, from ``ref [C, T]`` in 16-bit units (5.2.4.4).

    The data start (end) is the first (last) 5-sample window whose absolute sum exceeds 200,
    over all channels; a frame counts if it starts at or after the start frame and its second
    half ends at or before the data end. A reference without such a window uses every frame.
    """
    kernel = np.ones(_BOUNDARY_WINDOW)
    sums = np.stack([np.convolve(np.abs(ch), kernel, mode="valid") for ch in ref])
    active = np.flatnonzero((sums > _BOUNDARY_THRESHOLD).any(axis=0))
    if active.size == 0:
        return FrameRange(0, n_frames - 1)
    start, end = int(active[0]), int(active[-1]) + _BOUNDARY_WINDOW - 1
    first = start // HOP_LENGTH
    last = min(n_frames - 1, (end + 1 - N_FFT // 2) // HOP_LENGTH)
    return FrameRange(first, last)


def bandwidth_average(bw_ref: Array, bw_test: Array) -> tuple[float, float]:
    """BandwidthRef_B, BandwidthTest_B: means over frames with a defined bandwidth (5.2.4.2)."""
    valid = bw_ref >= 0
    if not valid.any():
        return 0.0, 0.0
    return float(bw_ref[valid].mean()), float(bw_test[valid].mean())


def nmr_average(nmr_mean: Array, nmr_max: Array) -> tuple[float, float]:
    """Total NMR_B in dB and RelDistFrames_B (fraction of frames with NMR_max > 1.5 dB)."""
    if nmr_mean.size == 0:
        return 0.0, 0.0
    total = 10.0 * math.log10(float(nmr_mean.mean()))
    return total, float(np.mean(nmr_max > 10.0**0.15))


def windowed_average(values: Array, length: int = 4) -> float:
    """WinModDiff1_B: sliding-window average over ``length`` frames (100 ms), ``[F] -> float``.

    ``sqrt(mean_n ((1/L) sum_{i<L} sqrt(x[n-i]))^4)`` (section 5.2.2).
    """
    if values.size < length:
        return 0.0
    roots = np.convolve(np.sqrt(values), np.ones(length) / length, mode="valid")
    return float(np.sqrt(np.mean(roots**4)))


def weighted_average(values: Array, weights: Array) -> float:
    """Weighted linear average ``sum w x / sum w`` (AvgModDiff1_B, AvgModDiff2_B; 5.2.1)."""
    total = float(weights.sum())
    return float((weights * values).sum() / total) if total > 0 else 0.0


def rms_average(values: Array) -> float:
    """Root-mean-square average (RmsNoiseLoud_B; 5.2.3)."""
    return float(np.sqrt(np.mean(values**2))) if values.size else 0.0


def loudness_onset(ref_loudness: Array, test_loudness: Array) -> int:
    """First frame where both signals exceed 0.1 sone in some channel, ``[C, F] -> int``.

    Returns ``F`` if that never happens (5.2.4.3).
    """
    audible = (ref_loudness > _LOUDNESS_THRESHOLD) & (test_loudness > _LOUDNESS_THRESHOLD)
    onsets = [int(np.argmax(ch)) if ch.any() else ch.size for ch in audible]
    return min(onsets)


def detection_average(probability: Array, steps: Array) -> tuple[float, float]:
    """ADB_B and MFPD_B from per-frame detection probability and steps (section 5.2.4.1).

    MFPD is the maximum of the probability smoothed with ``c0 = 0.9``; ADB is
    ``log10`` of the mean step count over frames with probability above 0.5 (0 if none,
    -0.5 if their total is 0).
    """
    smoothed = 0.0
    peak = 0.0
    for p in probability:
        smoothed = 0.9 * smoothed + 0.1 * float(p)
        peak = max(peak, smoothed)
    detected = probability > 0.5
    n_detected = int(detected.sum())
    if n_detected == 0:
        adb = 0.0
    else:
        total = float(steps[detected].sum())
        adb = math.log10(total / n_detected) if total > 0 else -0.5
    return adb, peak


def positive_average(values: Array) -> float:
    """Mean over the frames where ``values >= 0`` (EHS_B before its factor 1000)."""
    valid = values >= 0
    return float(values[valid].mean()) if valid.any() else 0.0
