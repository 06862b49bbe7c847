"""Stereo image errors: inter-channel level difference and coherence, reference vs test.

A stereo codec can score well per channel and still move or collapse the image (a mid/side
coder that starves the side channel narrows it; a high band generated per channel may
decorrelate it). These two numbers show it, band by band and block by block:

- ILD error: ``|ILD_ref - ILD_test|`` in dB, ``ILD = 10 log10(P_L / P_R)`` (each held within
  +-:data:`ILD_LIMIT_DB`, so a channel that is silent in one signal counts as a large error,
  not an infinite one);
- ICC error: ``|ICC_ref - ICC_test|``, ``ICC = |sum L R*| / sqrt(P_L P_R)`` (0 for
  independent channels, 1 for channels that differ by a gain only),

from the complex STFT (2048-point periodic Hann, hop 1024 at 48 kHz) summed over the bins of
each of :data:`BAND_EDGES_HZ` and over blocks of :data:`BLOCK_FRAMES` frames (about 0.17 s),
averaged over the band-blocks whose reference power is within :data:`FLOOR_DB` of the
loudest one (silence is not judged). Parametric-stereo coders measure the same quantities
(ICLD and ICC, ISO/IEC 14496-3 PS) to code them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bandgen.metrics.signals import prepare_pair

__all__ = ["BAND_EDGES_HZ", "StereoImageError", "stereo_image_error"]

BAND_EDGES_HZ = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0, 8000.0, 12000.0, 16000.0, 24000.0)
"""Band edges of the measure, Hz (octaves up to 4 kHz, then the codec's crossover regions)."""
BLOCK_FRAMES = 8
"""STFT frames per block."""
FLOOR_DB = 50.0
"""Band-blocks more than this far below the loudest one (reference, both channels) are skipped."""
ILD_LIMIT_DB = 30.0
"""Level differences are held within +-this before comparing."""
_N_FFT, _HOP = 2048, 1024


@dataclass(frozen=True)
class StereoImageError:
    """Mean stereo image errors of a test signal against its reference.

    Attributes:
        ild_db: mean absolute inter-channel level difference error, dB.
        icc: mean absolute inter-channel coherence error (0..1).
    """

    ild_db: float
    icc: float


def _band_stats(wav: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Powers ``P_L, P_R`` and cross-spectrum magnitude ``|C|``, each ``[bands, blocks]``."""
    from scipy.signal import stft

    window = np.hanning(_N_FFT + 1)[:-1]
    freqs, _, spec = stft(
        wav, fs=sample_rate, window=window, nperseg=_N_FFT, noverlap=_N_FFT - _HOP, boundary=None
    )
    frames = spec.shape[-1] // BLOCK_FRAMES * BLOCK_FRAMES
    if frames == 0:
        frames = spec.shape[-1]
    spec = spec[..., :frames]
    left, right = spec[0], spec[1]
    band = np.digitize(freqs, BAND_EDGES_HZ[1:-1])
    block = np.arange(frames) // BLOCK_FRAMES

    def pool(x: np.ndarray) -> np.ndarray:
        out = np.zeros((len(BAND_EDGES_HZ) - 1, int(block[-1]) + 1), dtype=x.dtype)
        np.add.at(out, (band[:, None], block[None, :]), x)
        return out

    return (
        pool(np.abs(left) ** 2),
        pool(np.abs(right) ** 2),
        np.abs(pool(left * np.conj(right))),
    )


def stereo_image_error(
    reference: Any, test: Any, sample_rate: int, **pair_options: Any
) -> StereoImageError:
    """ILD and ICC errors of ``test`` against ``reference``, both ``[2, T]``.

    NaN for signals that are not two-channel (nothing to judge), or silent.

    Args:
        reference, test: ``[2, T]`` (or any other layout, giving NaN).
        sample_rate: Hz.
        **pair_options: as the other metrics (:func:`~bandgen.metrics.signals.prepare_pair`).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    if ref.ndim != 2 or ref.shape[0] != 2:
        return StereoImageError(math.nan, math.nan)
    ref_l, ref_r, ref_c = _band_stats(np.asarray(ref, np.float64), sample_rate)
    tst_l, tst_r, tst_c = _band_stats(np.asarray(tst, np.float64), sample_rate)
    power = ref_l + ref_r
    if not power.max() > 0:
        return StereoImageError(math.nan, math.nan)
    judged = power >= power.max() * 10.0 ** (-FLOOR_DB / 10.0)
    tiny = power.max() * 1e-12

    def ild(p_l: np.ndarray, p_r: np.ndarray) -> np.ndarray:
        db = 10.0 * np.log10((p_l + tiny) / (p_r + tiny))
        return np.clip(db, -ILD_LIMIT_DB, ILD_LIMIT_DB)

    def icc(p_l: np.ndarray, p_r: np.ndarray, cross: np.ndarray) -> np.ndarray:
        return cross / np.sqrt((p_l + tiny) * (p_r + tiny))

    ild_err = np.abs(ild(ref_l, ref_r) - ild(tst_l, tst_r))[judged]
    icc_err = np.abs(icc(ref_l, ref_r, ref_c) - icc(tst_l, tst_r, tst_c))[judged]
    return StereoImageError(float(ild_err.mean()), float(icc_err.mean()))
