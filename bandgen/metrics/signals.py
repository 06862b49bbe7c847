"""Input handling shared by the metrics: array conversion, shape checks, reference low-pass, alignment.

Every metric compares a *reference* with a *test* signal. Both may be numpy arrays or torch
tensors, mono ``[T]`` or multichannel ``[C, T]``; they must have the same sample rate, length
and channel count (nothing is resampled, trimmed or padded silently). Metrics are computed per
channel and averaged over channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bandgen.errors import ConfigError

__all__ = ["MAX_LAG_S", "as_channels", "check_aligned", "lowpass", "prepare_pair"]

MAX_LAG_S = 0.1
"""Largest offset, in seconds, that the alignment check (:func:`check_aligned`) searches."""


def as_channels(wav: Any, name: str = "signal") -> np.ndarray:
    """Convert a numpy array or torch tensor ``[T]`` / ``[C, T]`` to float64 ``[C, T]``."""
    if hasattr(wav, "detach"):  # a torch tensor; checked without importing torch
        wav = wav.detach().cpu().numpy()
    arr = np.asarray(wav)
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"{name} must hold real samples, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ConfigError(f"{name} must be [T] or [C, T], got shape {tuple(arr.shape)}")
    if arr.shape[1] == 0:
        raise ConfigError(f"{name} is empty (0 samples)")
    return arr.astype(np.float64, copy=False)


def lowpass(wav: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase brick-wall low-pass of a whole signal.

    The signal's real FFT (whole length, one transform per channel) has every bin at or above
    ``cutoff_hz`` set to zero. Used to band-limit the reference to the coded bandwidth, as the
    n-SBG paper's evaluation does (paper ``000`` §4).

    Args:
        wav: float ``[C, T]``.
        sample_rate: Hz.
        cutoff_hz: first removed frequency in Hz, ``0 < cutoff_hz``; at or above Nyquist the
            signal is returned unchanged.

    Returns:
        float64 ``[C, T]``.
    """
    if not cutoff_hz > 0:
        raise ConfigError(f"low-pass cutoff must be positive, got {cutoff_hz} Hz")
    if cutoff_hz >= sample_rate / 2:
        return np.asarray(wav, dtype=np.float64)
    n = wav.shape[-1]
    spec = np.fft.rfft(wav, axis=-1)
    freqs = np.fft.rfftfreq(n, d=1.0 / sample_rate)
    spec[..., freqs >= cutoff_hz] = 0.0
    return np.fft.irfft(spec, n=n, axis=-1)


def check_aligned(
    reference: np.ndarray, test: np.ndarray, sample_rate: int, *, max_lag_s: float = MAX_LAG_S
) -> None:
    """Raise :class:`ConfigError` unless the cross-correlation lag of the two signals is 0.

    Uses :func:`bandgen.core.align.find_lag` on the channel means, searching
    ``±max_lag_s`` seconds. Never shifts anything: a misaligned pair is an error to fix upstream.
    """
    from bandgen.core.align import find_lag

    max_lag = max(1, round(max_lag_s * sample_rate))
    lag = int(find_lag(reference.mean(axis=0), test.mean(axis=0), max_lag))
    if lag != 0:
        where = "behind" if lag > 0 else "ahead of"
        raise ConfigError(
            f"test signal is offset {abs(lag)} samples ({1000 * abs(lag) / sample_rate:.2f} ms) "
            f"{where} the reference (cross-correlation); remove the delay before measuring "
            "(metrics never shift signals)"
        )


def prepare_pair(
    reference: Any,
    test: Any,
    sample_rate: int,
    *,
    test_sample_rate: int | None = None,
    lowpass_hz: float | None = None,
    align: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert a (reference, test) pair for a metric.

    Args:
        reference: ``[T]`` or ``[C, T]``, numpy or torch.
        test: same shape as ``reference``.
        sample_rate: sample rate of ``reference`` in Hz.
        test_sample_rate: sample rate of ``test`` if known; must equal ``sample_rate``.
        lowpass_hz: if given, low-pass the *reference* at this frequency (:func:`lowpass`).
        align: check by cross-correlation that the pair is aligned (:func:`check_aligned`).

    Returns:
        ``(reference, test)`` as float64 ``[C, T]``.

    Raises:
        ConfigError: rates, lengths or channel counts differ, or the pair is misaligned.
    """
    if not sample_rate > 0:
        raise ConfigError(f"sample rate must be positive, got {sample_rate}")
    if test_sample_rate is not None and test_sample_rate != sample_rate:
        raise ConfigError(
            f"sample rates differ: reference {sample_rate} Hz, test {test_sample_rate} Hz; "
            "resample one of them first"
        )
    ref = as_channels(reference, "reference")
    tst = as_channels(test, "test")
    if ref.shape[0] != tst.shape[0]:
        raise ConfigError(
            f"channel counts differ: reference has {ref.shape[0]}, test has {tst.shape[0]}"
        )
    if ref.shape[1] != tst.shape[1]:
        raise ConfigError(
            f"lengths differ: reference has {ref.shape[1]} samples, test has {tst.shape[1]} "
            "samples; trim or pad them to the same length (and check their alignment)"
        )
    if lowpass_hz is not None:
        ref = lowpass(ref, sample_rate, lowpass_hz)
    if align:
        check_aligned(ref, tst, sample_rate)
    return ref, tst
