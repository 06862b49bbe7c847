"""Numpy STFT magnitudes for the metrics (no torch needed), and the shared mel filterbank.

The conventions follow :func:`torch.stft` with ``center=True`` and ``pad_mode="reflect"`` and a
periodic Hann window; :func:`mel_filterbank` is :func:`bandgen.dsp.mel.mel_filterbank` (as
:func:`librosa.filters.mel` with ``htk=False, norm="slaney"``), the one DAC's mel loss in
:mod:`bandgen.losses.mel` uses, so the numbers match it and the usual LSD code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from bandgen.dsp.mel import mel_filterbank
from bandgen.errors import ConfigError

__all__ = ["hann_window", "mel_filterbank", "stft_magnitude"]


@lru_cache(maxsize=32)
def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` zero-padded on both sides to ``n_fft``.

    Returns:
        float64 ``[n_fft]`` (read-only, cached).
    """
    if win_length > n_fft:
        raise ConfigError(f"window length {win_length} exceeds n_fft {n_fft}")
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    padded = np.zeros(n_fft)
    padded[left : left + win_length] = window
    padded.flags.writeable = False
    return padded


def stft_magnitude(
    wav: np.ndarray, *, n_fft: int, hop_length: int, win_length: int | None = None
) -> np.ndarray:
    """Magnitude STFT, centred frames with reflect padding, periodic Hann window.

    Args:
        wav: float ``[C, T]``.
        n_fft: FFT size; ``F = n_fft // 2 + 1`` bins at ``k * sample_rate / n_fft`` Hz.
        hop_length: hop in samples.
        win_length: Hann length, ``<= n_fft`` (default ``n_fft``).

    Returns:
        float64 ``mag [C, F, N]`` with ``N = 1 + T // hop_length``.
    """
    window = hann_window(win_length or n_fft, n_fft)
    pad = n_fft // 2
    if wav.shape[-1] > pad:
        padded = np.pad(wav, ((0, 0), (pad, pad)), mode="reflect")
    else:  # too short to reflect
        padded = np.pad(wav, ((0, 0), (pad, pad)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop_length]
    spec = np.fft.rfft(frames * window, axis=-1)  # [C, N, F]
    return np.abs(spec).transpose(0, 2, 1)
