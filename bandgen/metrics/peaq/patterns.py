"""PEAQ pattern processing for the FFT ear model (ITU-R BS.1387-1, section 3).

Level and pattern adaptation (3.1), modulation patterns (3.2) and loudness (3.3), all on
per-frame band patterns of shape ``[F, 109]``. Recursions run over frames with zero initial
state, as in Kabal's PQevalAudio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bandgen.metrics.peaq.ear import (
    BANDS,
    FRAME_RATE,
    Array,
    hearing_threshold,
    smooth,
    time_constants,
)

_ADAPT = time_constants(0.050, 0.008)
_MODULATION = time_constants(0.050, 0.008)
# Bands averaged for the pattern correction factors: 3 below to 4 above (FFT model, 3.1.2).
_ADAPT_BELOW, _ADAPT_ABOVE = 3, 4


def _band_average_matrix() -> Array:
    """Averaging matrix ``[109, 109]`` over bands ``k - 3 .. k + 4`` clipped to the range."""
    n = BANDS.count
    i = np.arange(n)
    lo = np.maximum(i - _ADAPT_BELOW, 0)
    hi = np.minimum(i + _ADAPT_ABOVE, n - 1)
    mask = (i[None, :] >= lo[:, None]) & (i[None, :] <= hi[:, None])
    return np.asarray(mask / mask.sum(axis=1, keepdims=True), dtype=np.float64)


_BAND_AVERAGE = _band_average_matrix()


@dataclass(frozen=True)
class AdaptedPatterns:
    """Spectrally adapted patterns ``E_P`` of reference and test, each ``[F, 109]`` (3.1)."""

    ref: Array
    test: Array


def adapt(ref_excitation: Array, test_excitation: Array) -> AdaptedPatterns:
    """Level and pattern adaptation (section 3.1) of excitation patterns ``[F, 109]``.

    The level correction scales the louder signal down by ``C_L = (sum sqrt(P_T P_R) /
    sum P_T)^2`` of the time-smoothed patterns ``P``; the pattern correction then matches the
    spectral envelopes band by band with factors averaged over neighbouring bands and smoothed
    in time.
    """
    a = _ADAPT
    p_ref = smooth(ref_excitation, a)
    p_test = smooth(test_excitation, a)
    num = np.sqrt(p_test * p_ref).sum(axis=1)
    den = p_test.sum(axis=1)
    level = np.where(den > 0, (num / np.where(den > 0, den, 1.0)) ** 2, 1.0)[:, None]
    louder_ref = level > 1.0
    el_ref = np.where(louder_ref, ref_excitation / level, ref_excitation)
    el_test = np.where(louder_ref, test_excitation, test_excitation * level)
    # R = sum a^i E_T E_R / sum a^i E_R^2; the larger signal is scaled down by it.
    r_num = smooth(el_test * el_ref, a, input_gain=1.0)
    r_den = smooth(el_ref * el_ref, a, input_gain=1.0)
    test_larger = r_num >= r_den
    safe_num = np.where(r_num > 0, r_num, 1.0)
    safe_den = np.where(r_den > 0, r_den, 1.0)
    corr_ref = np.where(test_larger, 1.0, r_num / safe_den)
    corr_test = np.where(test_larger, r_den / safe_num, 1.0)
    pc_ref = smooth(corr_ref @ _BAND_AVERAGE.T, a)
    pc_test = smooth(corr_test @ _BAND_AVERAGE.T, a)
    return AdaptedPatterns(el_ref * pc_ref, el_test * pc_test)


@dataclass(frozen=True)
class Modulation:
    """Modulation pattern of one signal (section 3.2).

    Attributes:
        modulation: ``M = E_der / (1 + E_avg / 0.3)``, ``[F, 109]``.
        average: the smoothed loudness ``E_avg`` (``E_s^0.3`` low-passed), ``[F, 109]``.
    """

    modulation: Array
    average: Array


def modulation(unsmeared: Array) -> Modulation:
    """Modulation pattern from unsmeared excitation ``E_s [F, 109]`` (section 3.2)."""
    a = _MODULATION
    loud = unsmeared**0.3
    previous = np.vstack([np.zeros((1, loud.shape[1])), loud[:-1]])
    derivative = smooth(np.abs(loud - previous) * FRAME_RATE, a)
    average = smooth(loud, a)
    return Modulation(derivative / (1.0 + average / 0.3), average)


_THRESHOLD = hearing_threshold(BANDS.f_centre)
_EXCITATION_INDEX = 10.0 ** (
    0.1
    * (
        -2.0
        - 2.05 * np.arctan(BANDS.f_centre / 4000.0)
        - 0.75 * np.arctan((BANDS.f_centre / 1600.0) ** 2)
    )
)
_LOUDNESS_CONST = 1.07664  # Basic version (section 3.3)


def total_loudness(excitation: Array) -> Array:
    """Total loudness in sone per frame, ``[F]``, from excitation patterns ``[F, 109]`` (3.3).

    ``N = (24/109) sum_k max(0, c (E_t / (s 1e4))^0.23 ((1 - s + s E / E_t)^0.23 - 1))``.
    """
    s = _EXCITATION_INDEX
    e_t = _THRESHOLD
    scale = _LOUDNESS_CONST * (e_t / (s * 1e4)) ** 0.23
    specific = scale * ((1.0 - s + s * excitation / e_t) ** 0.23 - 1.0)
    return np.asarray(24.0 / BANDS.count * np.maximum(specific, 0.0).sum(axis=1))
