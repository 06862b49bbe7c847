"""Per-frame precursors of the 11 Basic MOVs (ITU-R BS.1387-1, section 4).

Every function takes per-frame patterns of one channel and returns per-frame values ``[F]``
(detection: per band, ``[F, 109]``, combined over channels by :func:`total_detection`);
:mod:`bandgen.metrics.peaq.averaging` turns them into the MOVs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bandgen.metrics.peaq.ear import (
    BANDS,
    FRAME_BLOCK,
    HOP_LENGTH,
    N_FFT,
    SAMPLE_RATE,
    Array,
    internal_noise,
)
from bandgen.metrics.peaq.patterns import AdaptedPatterns, Modulation

_INTERNAL_NOISE = internal_noise(BANDS.f_centre)


@dataclass(frozen=True)
class Bandwidth:
    """Per-frame bandwidths in DFT bins (4.4); ``-1`` where the frame has no defined bandwidth."""

    ref: Array
    test: Array


def bandwidth(ref_power: Array, test_power: Array) -> Bandwidth:
    """Bandwidth of reference and test from power spectra ``[F, 1025]`` (section 4.4).

    The threshold is the test's largest bin above 21.586 kHz; the reference bandwidth is the
    highest bin below it (down to 8.109 kHz) 10 dB over the threshold, the test bandwidth the
    highest bin below the reference bandwidth 5 dB over it. Values are bin index + 1.
    """
    k_top = round(21586 / SAMPLE_RATE * N_FFT)
    k_low = round(8109 / SAMPLE_RATE * N_FFT)
    floor = test_power[:, k_top : N_FFT // 2].max(axis=1, keepdims=True)
    # Reference: largest k in [k_low + 1, k_top - 1] with X_R[k] >= 10 floor.
    hits = ref_power[:, k_low + 1 : k_top] >= 10.0 * floor
    last = hits.shape[1] - 1 - np.argmax(hits[:, ::-1], axis=1)
    bw_ref = np.where(hits.any(axis=1), k_low + 1 + last + 1, -1).astype(np.float64)
    # Test: largest k in [0, bw_ref - 1] with X_T[k] >= 10^0.5 floor.
    k = np.arange(test_power.shape[1])[None, :]
    hits = (test_power >= 10.0**0.5 * floor) & (k < bw_ref[:, None])
    last = hits.shape[1] - 1 - np.argmax(hits[:, ::-1], axis=1)
    bw_test = np.where(hits.any(axis=1), last + 1, -1).astype(np.float64)
    return Bandwidth(bw_ref, bw_test)


def _mask_offset() -> Array:
    """Masking offset ``g_m = 10^(-m/10)``, ``m = 3 dB`` up to 12 Bark, else ``0.25 z`` (4.5)."""
    k = np.arange(BANDS.count)
    m_db = np.where(k <= 12.0 / BANDS.dz, 3.0, 0.25 * k * BANDS.dz)
    return np.asarray(10.0 ** (-m_db / 10.0), dtype=np.float64)


_MASK_OFFSET = _mask_offset()


@dataclass(frozen=True)
class NoiseToMask:
    """Per-frame noise-to-mask ratios (linear power ratios), each ``[F]`` (section 4.5)."""

    mean: Array
    max: Array


def noise_to_mask(noise: Array, ref_excitation: Array) -> NoiseToMask:
    """NMR of the noise pattern ``[F, 109]`` against the reference's mask (section 4.5)."""
    ratio = noise / (_MASK_OFFSET * ref_excitation)
    return NoiseToMask(ratio.mean(axis=1), ratio.max(axis=1))


@dataclass(frozen=True)
class ModulationDifference:
    """Per-frame modulation differences (section 4.2), each ``[F]``.

    Attributes:
        diff1: ``ModDiff1`` (offset 1, symmetric).
        diff2: ``ModDiff2`` (offset 0.01, decreases of modulation weighted 0.1).
        weight: temporal weight ``sum_k E_avg / (E_avg + 100 E_IN^0.3)``.
    """

    diff1: Array
    diff2: Array
    weight: Array


def modulation_difference(ref: Modulation, test: Modulation) -> ModulationDifference:
    """Modulation differences of test against reference (section 4.2)."""
    m_ref, m_test = ref.modulation, test.modulation
    diff = np.abs(m_test - m_ref)
    diff2 = np.where(m_ref > m_test, 0.1 * diff, diff)
    scale = 100.0 / BANDS.count
    internal = _INTERNAL_NOISE**0.3
    weight = (ref.average / (ref.average + 100.0 * internal)).sum(axis=1)
    return ModulationDifference(
        scale * (diff / (1.0 + m_ref)).sum(axis=1),
        scale * (diff2 / (0.01 + m_ref)).sum(axis=1),
        weight,
    )


def noise_loudness(ref: Modulation, test: Modulation, adapted: AdaptedPatterns) -> Array:
    """Partial loudness of the additive distortion per frame in sone, ``[F]`` (section 4.3).

    Uses the spectrally adapted patterns and the modulation patterns, with ``alpha = 1.5``,
    ``TF0 = 0.15``, ``S0 = 0.5`` and the internal noise as threshold; negative values are 0.
    """
    e_ref, e_test = adapted.ref, adapted.test
    s_ref = 0.15 * ref.modulation + 0.5
    s_test = 0.15 * test.modulation + 0.5
    beta = np.exp(-1.5 * (e_test - e_ref) / e_ref)
    excess = np.maximum(s_test * e_test - s_ref * e_ref, 0.0)
    masked = _INTERNAL_NOISE + s_ref * e_ref * beta
    loud = (_INTERNAL_NOISE / s_test) ** 0.23 * ((1.0 + excess / masked) ** 0.23 - 1.0)
    return np.asarray(np.maximum(24.0 / BANDS.count * loud.sum(axis=1), 0.0))


@dataclass(frozen=True)
class Detection:
    """Probability of detection ``p`` and steps above threshold ``q`` per band, ``[F, 109]`` (4.7)."""

    probability: Array
    steps: Array


_PD_POLY = (-0.198719, 0.0550197, -0.00102438, 5.05622e-6, 9.01033e-11)


def detection_probability(ref_excitation: Array, test_excitation: Array) -> Detection:
    """Per-band detection probability of the difference of excitation patterns ``[F, 109]``.

    Section 4.7.1: the detection step size ``s(L)`` depends on an asymmetric mix ``L`` of the two
    levels in dB; ``p = 1 - 0.5^((e / s)^b)`` with slope ``b`` 4 (reference louder) or 6, and
    ``q = |int(e)| / s`` for the level difference ``e`` in dB.
    """
    ref_db = 10.0 * np.log10(ref_excitation)
    test_db = 10.0 * np.log10(test_excitation)
    diff_db = ref_db - test_db
    louder_ref = diff_db > 0
    level = np.where(louder_ref, 0.3 * ref_db + 0.7 * test_db, test_db)
    slope = np.where(louder_ref, 4.0, 6.0)
    c0, c1, c2, c3, c4 = _PD_POLY
    lv = np.where(level > 0, level, 1.0)
    step = 5.95072 * (6.39468 / lv) ** 1.71332 + c0 + lv * (c1 + lv * (c2 + lv * (c3 + lv * c4)))
    step = np.where(level > 0, step, 1e30)
    detect = 1.0 - 0.5 ** ((diff_db / step) ** slope)
    return Detection(detect, np.abs(np.trunc(diff_db)) / step)


def total_detection(channels: list[Detection]) -> tuple[Array, Array]:
    """Per-frame total probability ``P [F]`` and steps ``Q [F]`` over bands and channels.

    Several channels take the per-band maximum first (binaural values, section 4.7.2); then
    ``P = 1 - prod_k (1 - p[k])`` and ``Q = sum_k q[k]``.
    """
    p = np.max([c.probability for c in channels], axis=0)
    q = np.max([c.steps for c in channels], axis=0)
    return 1.0 - np.prod(1.0 - p, axis=1), q.sum(axis=1)


_EHS_LAGS = 256  # 2^floor(log2(2048 * 9 kHz / 48 kHz)); the correlation spans bins 0..510
_EHS_WINDOW = (
    np.sqrt(8.0 / 3.0)
    / _EHS_LAGS
    * (0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(_EHS_LAGS) / (_EHS_LAGS - 1))))
)
_EHS_ENERGY_THRESHOLD = 8000.0  # in squared 16-bit units, over the newest 1024 samples


def error_harmonic_structure(
    ref_frames: Array, test_frames: Array, ref_power: Array, test_power: Array
) -> Array:
    """Error harmonic structure per frame, ``[F]``; ``-1`` for frames too quiet to count (4.6).

    The log ratio of the test and reference spectra over bins 0..510 is autocorrelated (256
    lags, normalised), windowed and transformed; the value is the largest power of that
    spectrum after its first valley.
    """
    n_frames = ref_frames.shape[0]
    n = _EHS_LAGS
    loud = (np.sum(ref_frames[:, HOP_LENGTH:] ** 2, axis=1) >= _EHS_ENERGY_THRESHOLD) | (
        np.sum(test_frames[:, HOP_LENGTH:] ** 2, axis=1) >= _EHS_ENERGY_THRESHOLD
    )
    tiny = np.finfo(np.float64).tiny
    # a difference of logs: the ratio itself overflows where the reference is digital silence
    log_ratio = np.log(np.maximum(test_power[:, : 2 * n - 1], tiny)) - np.log(
        np.maximum(ref_power[:, : 2 * n - 1], tiny)
    )
    lagged = np.lib.stride_tricks.sliding_window_view(log_ratio, n, axis=1)  # [F, n, n] view
    corr = np.empty((n_frames, n))
    for start in range(0, n_frames, FRAME_BLOCK):
        block = slice(start, start + FRAME_BLOCK)
        corr[block] = np.einsum("fij,fj->fi", lagged[block], log_ratio[block, :n])
    energy = np.cumsum(log_ratio**2, axis=1)
    energy = np.concatenate([np.zeros((n_frames, 1)), energy], axis=1)
    lag_energy = energy[:, n : 2 * n] - energy[:, :n]  # sum_{j=i}^{i+n-1} D[j]^2, [F, n]
    denom = lag_energy[:, :1] * lag_energy
    norm = np.where(denom > 0, corr / np.sqrt(np.where(denom > 0, denom, 1.0)), 1.0)
    norm[:, 0] = 1.0
    windowed = _EHS_WINDOW * (norm - norm.mean(axis=1, keepdims=True))
    spec = np.fft.rfft(windowed, axis=1)
    power = spec.real**2 + spec.imag**2  # [F, n/2 + 1]
    # Largest value after the first valley: from the first bin that rises above its predecessor.
    rising = power[:, 1:] > power[:, :-1]
    first = np.where(rising.any(axis=1), np.argmax(rising, axis=1) + 1, power.shape[1])
    after = np.arange(power.shape[1])[None, :] >= first[:, None]
    peak = np.max(np.where(after, power, 0.0), axis=1, initial=0.0)
    return np.where(loud, peak, -1.0)
