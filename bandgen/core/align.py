"""Delay estimation between two signals by FFT cross-correlation."""

from __future__ import annotations

import numpy as np


def find_lag(reference: np.ndarray, test: np.ndarray, max_lag: int) -> int:
    """The delay of ``test`` relative to ``reference``, in samples.

    Maximises the cross-correlation ``sum_n reference[n] * test[n + lag]`` over
    ``-max_lag <= lag <= max_lag``, computed with one real FFT.  A positive lag
    means ``test`` lags behind (``test[n + lag] ~ reference[n]``); a codec that
    is sample-aligned gives 0.

    Args:
        reference: the original signal ``[T]``.
        test: the signal to align ``[T']`` (e.g. the decoded one), same sample rate.
        max_lag: largest absolute lag searched, samples (``>= 0``).

    Returns:
        The lag in samples.
    """
    if max_lag < 0:
        raise ValueError(f"max_lag must be >= 0, got {max_lag}")
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    tst = np.asarray(test, dtype=np.float64).reshape(-1)
    if ref.size == 0 or tst.size == 0:
        raise ValueError("find_lag needs two non-empty signals")
    n_fft = 1 << int(np.ceil(np.log2(ref.size + tst.size)))
    spectrum = np.conj(np.fft.rfft(ref, n_fft)) * np.fft.rfft(tst, n_fft)
    xcorr = np.fft.irfft(spectrum, n_fft)
    # xcorr[k] holds lag k for k >= 0 and lag k - n_fft for the upper half.
    max_pos = min(max_lag, tst.size - 1)
    max_neg = min(max_lag, ref.size - 1)
    lags = np.concatenate([np.arange(-max_neg, 0), np.arange(0, max_pos + 1)])
    values = xcorr[lags % n_fft]
    return int(lags[int(np.argmax(values))])
