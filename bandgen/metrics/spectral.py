"""Numpy STFT magnitudes and Slaney mel filterbanks for the metrics (no torch needed).

The conventions follow :func:`torch.stft` with ``center=True`` and ``pad_mode="reflect"`` and a
periodic Hann window, and :func:`librosa.filters.mel` with ``htk=False, norm="slaney"``, so the
numbers match DAC's mel loss and the usual LSD code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

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


def _hz_to_mel(freq: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    f_sp = 200.0 / 3
    logstep = np.log(6.4) / 27.0
    freq = np.asarray(freq, dtype=np.float64)
    mels = freq / f_sp
    high = freq >= 1000.0
    mels[high] = 15.0 + np.log(freq[high] / 1000.0) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    logstep = np.log(6.4) / 27.0
    mels = np.asarray(mels, dtype=np.float64)
    freq = mels * f_sp
    high = mels >= 15.0
    freq[high] = 1000.0 * np.exp(logstep * (mels[high] - 15.0))
    return freq


@lru_cache(maxsize=32)
def mel_filterbank(
    *, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular Slaney-normalised mel filterbank (as librosa ``htk=False, norm="slaney"``).

    Returns:
        float64 ``[n_mels, n_fft // 2 + 1]`` (read-only, cached).
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_freqs = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2)
    )
    fdiff = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    weights.flags.writeable = False
    return weights
