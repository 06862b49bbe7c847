"""The Slaney mel scale and its triangular filterbank, shared by the mel loss and the metrics.

One filterbank for :class:`bandgen.losses.mel.MultiScaleMelLoss` (DAC's multi-scale mel loss,
n-SBG paper ``000`` §3.3) and :func:`bandgen.metrics.basic.mel_distance`, built in numpy (no
torch needed) as ``librosa.filters.mel(htk=False, norm="slaney")`` and cached per parameter set.

The scale is Slaney's auditory toolbox: linear below 1 kHz (200/3 Hz per mel, so 1 kHz is
exactly 15 mel), logarithmic above (27 mel per factor 6.4). librosa computes the break as
``1000 / (200 / 3)``, one ulp below 15; the weights differ from it by at most ~2e-15, which
float32 (the loss's dtype) does not see.
"""

from __future__ import annotations

import functools

import numpy as np

from bandgen.errors import ConfigError

__all__ = ["hz_to_mel", "mel_centres_hz", "mel_filterbank", "mel_to_hz"]

_F_SP = 200.0 / 3.0
"""Hz per mel below the break."""
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = 15.0
"""Mel of :data:`_MIN_LOG_HZ`."""
_LOG_STEP = float(np.log(6.4) / 27.0)


def hz_to_mel(freq_hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel of ``freq_hz`` (any shape, float64): linear below 1 kHz, log-spaced above."""
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    linear = freq_hz / _F_SP
    safe = np.maximum(freq_hz, _MIN_LOG_HZ)
    log = _MIN_LOG_MEL + np.log(safe / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(freq_hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel` (any shape, float64)."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


@functools.lru_cache(maxsize=64)
def mel_filterbank(
    *, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney-normalised triangular mel filterbank ``[shape=(n_mels, 1 + n_fft // 2)]``.

    Triangles have corners at ``n_mels + 2`` points equally spaced on the Slaney mel scale between
    ``fmin`` and ``fmax`` (default Nyquist), and each is scaled by ``2 / (f_hi - f_lo)`` so that
    every filter has the same area in Hz (librosa's ``norm="slaney"``).

    Returns:
        float64 ``[n_mels, n_fft // 2 + 1]``, cached and read-only.

    Raises:
        ConfigError: ``fmin``/``fmax`` outside ``[0, sample_rate / 2]`` or out of order,
            ``n_mels < 1`` or ``n_fft < 2``.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0 or n_mels < 1 or n_fft < 2:
        raise ConfigError(
            f"mel filterbank needs 0 <= fmin < fmax <= sample_rate/2, n_mels >= 1, n_fft >= 2; "
            f"got fmin={fmin}, fmax={fmax}, sample_rate={sample_rate}, n_mels={n_mels}, "
            f"n_fft={n_fft}"
        )
    fft_hz = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    corners_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(corners_hz)
    ramps = corners_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (corners_hz[2:] - corners_hz[:-2]))[:, None]
    weights.setflags(write=False)
    return weights


def mel_centres_hz(
    *, sample_rate: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Peak frequency of each filter of :func:`mel_filterbank` ``[shape=(n_mels,)]``, Hz.

    The triangles' middle corners: ``n_mels`` points equally spaced on the Slaney mel scale
    strictly between ``fmin`` and ``fmax`` (default Nyquist).
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    corners = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    return np.asarray(mel_to_hz(corners[1:-1]))
