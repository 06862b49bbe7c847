"""Signal-level metrics: LSD, SI-SDR, SNR, multi-scale mel distance, multi-resolution STFT distance.

All functions take ``(reference, test, sample_rate)`` with numpy arrays or torch tensors, mono
``[T]`` or multichannel ``[C, T]``; they compute per channel and return the mean over channels
as a Python float. They share these keyword options (see :func:`~bandgen.metrics.signals.prepare_pair`):

- ``test_sample_rate``: the test's rate if known; a mismatch is a :class:`ConfigError`.
- ``lowpass_hz``: low-pass the *reference* to the coded bandwidth first (zero-phase brick wall),
  as the n-SBG paper's evaluation does (paper ``000`` §4).
- ``align``: check by cross-correlation that the lag between the signals is 0, and raise
  otherwise (never shifts silently).

Lengths, channel counts and rates must match exactly; nothing is trimmed or resampled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bandgen.dsp.mel import mel_centres_hz
from bandgen.errors import ConfigError
from bandgen.metrics.signals import prepare_pair
from bandgen.metrics.spectral import mel_filterbank, stft_magnitude

__all__ = [
    "LSD_EPS",
    "LSD_HOP",
    "LSD_N_FFT",
    "MEL_SCALES",
    "MRSTFT_RESOLUTIONS",
    "lsd",
    "mel_distance",
    "mrstft_distance",
    "si_sdr",
    "snr",
]

LSD_N_FFT = 2048
"""LSD STFT size (periodic Hann window of the same length, centred frames, reflect padding)."""
LSD_HOP = 512
"""LSD STFT hop in samples."""
LSD_EPS = 1e-8
"""Added to the power spectra before ``log10`` in :func:`lsd`."""

MEL_SCALES: tuple[tuple[int, int], ...] = (
    (32, 5),
    (64, 10),
    (128, 20),
    (256, 40),
    (512, 80),
    (1024, 160),
    (2048, 320),
)
"""``(n_fft = window length, n_mels)`` of the 7 DAC mel scales (``HYPERPARAMETERS.md`` §1.5);
hop = n_fft / 4."""
MEL_CLAMP = 1e-5
"""Floor of the mel magnitudes before ``log10`` (DAC)."""

MRSTFT_RESOLUTIONS: tuple[tuple[int, int, int], ...] = (
    (1024, 120, 600),
    (2048, 240, 1200),
    (512, 50, 240),
)
"""``(n_fft, hop_length, win_length)`` of the multi-resolution STFT distance (Parallel WaveGAN,
Yamamoto et al. 2020)."""
MRSTFT_CLAMP = 1e-7
"""Floor of the magnitudes before the natural log in :func:`mrstft_distance`."""


def lsd(
    reference: Any,
    test: Any,
    sample_rate: int,
    *,
    min_hz: float | None = None,
    max_hz: float | None = None,
    **pair_options: Any,
) -> float:
    """Log-spectral distance, optionally over a frequency range only.

    Definition: ``P = |STFT(x)|^2`` with n_fft 2048, hop 512, periodic Hann window of 2048,
    centred frames (reflect padding), no normalisation. For each frame ``n``::

        LSD_n = sqrt( mean_k ( log10(P_ref[k, n] + 1e-8) - log10(P_test[k, n] + 1e-8) )^2 )

    over the bins ``k`` with ``min_hz <= k * sample_rate / 2048 < max_hz`` (all bins by
    default; DC and Nyquist included). The result is the mean of ``LSD_n`` over frames, then
    over channels. Units: decades of power (multiply by 10 for dB); 0 for identical signals.

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz.
        min_hz: lowest frequency included (e.g. 4000 for "LSD above 4 kHz").
        max_hz: first frequency excluded (e.g. 4000 for "LSD below 4 kHz").
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align`` (module docstring).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    freqs = np.arange(LSD_N_FFT // 2 + 1) * sample_rate / LSD_N_FFT
    keep = np.ones_like(freqs, dtype=bool)
    if min_hz is not None:
        keep &= freqs >= min_hz
    if max_hz is not None:
        keep &= freqs < max_hz
    if not keep.any():
        raise ConfigError(
            f"no STFT bin lies in [{min_hz}, {max_hz}) Hz at {sample_rate} Hz; check the band"
        )
    log_ref = np.log10(
        stft_magnitude(ref, n_fft=LSD_N_FFT, hop_length=LSD_HOP)[:, keep] ** 2 + LSD_EPS
    )
    log_tst = np.log10(
        stft_magnitude(tst, n_fft=LSD_N_FFT, hop_length=LSD_HOP)[:, keep] ** 2 + LSD_EPS
    )
    per_frame = np.sqrt(np.mean((log_ref - log_tst) ** 2, axis=1))  # [C, N]
    return float(per_frame.mean())


def _ratio_db(signal_energy: float, noise_energy: float, max_db: float) -> float:
    if noise_energy <= 0.0:
        return max_db
    if signal_energy <= 0.0:
        return -max_db
    return min(10.0 * math.log10(signal_energy / noise_energy), max_db)


def snr(
    reference: Any, test: Any, sample_rate: int, *, max_db: float = 100.0, **pair_options: Any
) -> float:
    """Signal-to-noise ratio ``10 log10(sum ref^2 / sum (ref - test)^2)`` in dB, mean over channels.

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz (checked, and used by ``lowpass_hz`` / ``align``).
        max_db: ceiling of the result; identical signals give exactly ``max_db`` (pass
            ``math.inf`` to get ``inf``), so averages over a test set stay finite.
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align`` (module docstring).

    Raises:
        ConfigError: a reference channel is all zeros (SNR undefined).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    values = []
    for r, t in zip(ref, tst, strict=True):
        energy = float(np.dot(r, r))
        if energy == 0.0:
            raise ConfigError("a reference channel is silent (all zeros); SNR is undefined")
        noise = r - t
        values.append(_ratio_db(energy, float(np.dot(noise, noise)), max_db))
    return float(np.mean(values))


def si_sdr(
    reference: Any, test: Any, sample_rate: int, *, max_db: float = 100.0, **pair_options: Any
) -> float:
    """Scale-invariant SDR in dB (Le Roux et al., ICASSP 2019), mean over channels.

    Both signals are made zero-mean; ``target = (<t, r> / <r, r>) r``, ``noise = t - target``,
    ``SI-SDR = 10 log10(|target|^2 / |noise|^2)``.

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz (checked, and used by ``lowpass_hz`` / ``align``).
        max_db: ceiling (and negated floor) of the result; identical signals give exactly
            ``max_db`` (pass ``math.inf`` for ``inf``).
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align`` (module docstring).

    Raises:
        ConfigError: a reference channel is constant (SI-SDR undefined).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    values = []
    for r, t in zip(ref, tst, strict=True):
        r = r - r.mean()
        t = t - t.mean()
        energy = float(np.dot(r, r))
        if energy == 0.0:
            raise ConfigError("a reference channel is constant (silent); SI-SDR is undefined")
        target = (float(np.dot(t, r)) / energy) * r
        noise = t - target
        values.append(_ratio_db(float(np.dot(target, target)), float(np.dot(noise, noise)), max_db))
    return float(np.mean(values))


def mel_distance(
    reference: Any,
    test: Any,
    sample_rate: int,
    *,
    min_hz: float | None = None,
    max_hz: float | None = None,
    **pair_options: Any,
) -> float:
    """Multi-scale mel distance, the DAC / n-SBG mel loss used as a metric (HP §1.5).

    For each of the 7 scales in :data:`MEL_SCALES` (window = n_fft, hop = n_fft / 4, periodic
    Hann, centred frames with reflect padding, magnitude STFT, Slaney mel filterbank from 0 Hz
    to ``sample_rate / 2``): the mean absolute difference of ``log10(max(mel, 1e-5))``. The 7
    means are **summed**; the result is averaged over channels. 0 for identical signals.

    With ``min_hz`` / ``max_hz`` it is the *share* of that distance owed to the mel bands whose
    peak (:func:`~bandgen.dsp.mel.mel_centres_hz`) lies in ``[min_hz, max_hz)``: per scale the
    band-wise mean absolute differences of those bands are summed and divided by the scale's
    ``n_mels`` (the full-band mean's denominator), so the shares of ranges that tile
    ``[0, sample_rate / 2]`` add up to the full-band distance, and a range counts in proportion
    to the mel bands it spans (a coarse scale whose bands all peak elsewhere adds nothing).

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz (the filterbanks' top is its Nyquist, 24 kHz at 48 kHz).
        min_hz: lowest band peak included (``None``: 0).
        max_hz: first band peak excluded (``None``: above Nyquist, every band).
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align`` (module docstring).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    total = 0.0
    for n_fft, n_mels in MEL_SCALES:
        centres = mel_centres_hz(sample_rate=sample_rate, n_mels=n_mels)
        keep = (centres >= (min_hz or 0.0)) & (centres < (math.inf if max_hz is None else max_hz))
        if not keep.any():
            continue
        fb = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels)[keep]
        hop = n_fft // 4
        mel_ref = np.einsum("mf,cfn->cmn", fb, stft_magnitude(ref, n_fft=n_fft, hop_length=hop))
        mel_tst = np.einsum("mf,cfn->cmn", fb, stft_magnitude(tst, n_fft=n_fft, hop_length=hop))
        diff = np.log10(np.maximum(mel_ref, MEL_CLAMP)) - np.log10(np.maximum(mel_tst, MEL_CLAMP))
        total += float(np.abs(diff).mean(axis=(0, 2)).sum() / n_mels)
    return total


def mrstft_distance(reference: Any, test: Any, sample_rate: int, **pair_options: Any) -> float:
    """Multi-resolution STFT distance (Yamamoto et al., Parallel WaveGAN, ICASSP 2020).

    For each ``(n_fft, hop, win)`` in :data:`MRSTFT_RESOLUTIONS` (periodic Hann of ``win``
    centred in ``n_fft``, centred frames, reflect padding), with magnitudes ``S``:
    spectral convergence ``||S_ref - S_test||_F / ||S_ref||_F`` plus log-magnitude distance
    ``mean |ln max(S_ref, 1e-7) - ln max(S_test, 1e-7)|``. The result is the mean over the
    resolutions of (SC + log-magnitude), averaged over channels. 0 for identical signals.

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz (checked, and used by ``lowpass_hz`` / ``align``).
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align`` (module docstring).
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    per_channel = np.zeros(ref.shape[0])
    for n_fft, hop, win in MRSTFT_RESOLUTIONS:
        mag_ref = stft_magnitude(ref, n_fft=n_fft, hop_length=hop, win_length=win)
        mag_tst = stft_magnitude(tst, n_fft=n_fft, hop_length=hop, win_length=win)
        ref_norm = np.sqrt(np.sum(mag_ref**2, axis=(1, 2)))
        diff_norm = np.sqrt(np.sum((mag_ref - mag_tst) ** 2, axis=(1, 2)))
        # a silent reference channel counts as fully wrong (1) unless the test is silent too
        sc = np.where(ref_norm > 0, diff_norm / np.maximum(ref_norm, 1e-30), diff_norm > 0)
        log_diff = np.log(np.maximum(mag_ref, MRSTFT_CLAMP)) - np.log(
            np.maximum(mag_tst, MRSTFT_CLAMP)
        )
        per_channel += sc + np.abs(log_diff).mean(axis=(1, 2))
    return float(per_channel.mean() / len(MRSTFT_RESOLUTIONS))
