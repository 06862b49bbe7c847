"""Linear-phase two-way crossover: the low band of one signal joined to the high band of another.

``out = lowpass(low) + (high - lowpass(high)) = high + lowpass(low - high)``, with one
Kaiser-windowed-sinc low-pass applied with zero phase (centred on each sample). The two
parts' responses are ``H(f)`` and ``1 - H(f)``: they sum to one at every frequency, so the
joint has no gap and no doubled band, only a crossfade between the two signals over the
transition band around the cut-off. Both signals must be sample-aligned.

:func:`crossover` joins whole signals; :class:`StreamCrossover` joins them block by block
(each output waits for ``taps // 2`` samples of look-ahead) and gives the same samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StreamCrossover", "crossover", "crossover_taps"]


def crossover_taps(
    cutoff_hz: float,
    sample_rate: int,
    *,
    transition_hz: float = 500.0,
    attenuation_db: float = 80.0,
) -> np.ndarray:
    """A linear-phase low-pass FIR: Kaiser-windowed sinc, odd length, unit DC gain.

    The response is 0.5 at ``cutoff_hz`` and within ``attenuation_db`` of 1 (pass) or 0
    (stop) outside ``cutoff_hz +- transition_hz / 2`` (Kaiser's design formulas).

    Returns:
        float64 taps ``[L]``, ``L`` odd, symmetric.
    """
    width = 2 * np.pi * transition_hz / sample_rate
    taps = int(np.ceil((attenuation_db - 7.95) / (2.285 * width))) + 1
    taps += 1 - taps % 2
    if attenuation_db > 50:
        beta = 0.1102 * (attenuation_db - 8.7)
    else:
        beta = 0.5842 * (attenuation_db - 21) ** 0.4 + 0.07886 * (attenuation_db - 21)
    n = np.arange(taps) - (taps - 1) / 2
    fc = cutoff_hz / sample_rate
    h = 2 * fc * np.sinc(2 * fc * n) * np.kaiser(taps, beta)
    return h / h.sum()


def _filter_valid(segment: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``[C, n + L - 1] -> [C, n]``: the taps' output at every fully covered position."""
    from scipy.signal import oaconvolve

    out = oaconvolve(segment, taps[None].astype(segment.dtype), mode="valid", axes=-1)
    return np.asarray(out, dtype=np.float32)


def crossover(low: np.ndarray, high: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Join whole signals: ``low [C, T]`` below the cut-off, ``high [C, T]`` above it.

    The signals are taken as zero outside ``[0, T)``; the output has ``T`` samples.
    """
    low = np.atleast_2d(np.asarray(low, np.float32))
    high = np.atleast_2d(np.asarray(high, np.float32))
    if low.shape != high.shape:
        raise ValueError(f"low and high shapes differ: {low.shape} vs {high.shape}")
    half = taps.shape[0] // 2
    diff = np.pad(low - high, ((0, 0), (half, half)))
    return high + _filter_valid(diff, taps)


class StreamCrossover:
    """:func:`crossover` of two aligned streams given in blocks of any sizes.

    Args:
        taps: the low-pass of :func:`crossover_taps`.
        channels: ``C``.

    Shape:
        ``push(low [C, n], high [C, m]) -> out [C, k]``; ``flush() -> out [C, k']``; the
        outputs, joined, equal :func:`crossover` of the joined inputs over their common length.
    """

    def __init__(self, taps: np.ndarray, channels: int) -> None:
        self._taps = taps
        self._half = taps.shape[0] // 2
        self._low = np.zeros((channels, 0), np.float32)
        self._high = np.zeros((channels, 0), np.float32)
        self._start = 0  # signal position of the buffers' first sample
        self._low_end = 0
        self._high_end = 0
        self._done = 0  # output samples given

    def push(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Add the next blocks of each signal; return the output samples now final."""
        self._low = np.concatenate([self._low, np.asarray(low, np.float32)], axis=1)
        self._high = np.concatenate([self._high, np.asarray(high, np.float32)], axis=1)
        self._low_end += low.shape[1]
        self._high_end += high.shape[1]
        return self._run(min(self._low_end, self._high_end) - self._half, final=False)

    def flush(self) -> np.ndarray:
        """The remaining output, up to the signals' common length (zeros past it)."""
        return self._run(min(self._low_end, self._high_end), final=True)

    def _get(self, buf: np.ndarray, lo: int, hi: int, end: int) -> np.ndarray:
        """Samples ``[lo, hi)`` of a buffered signal, zeros before 0 and past ``end``."""
        out = np.zeros((buf.shape[0], hi - lo), np.float32)
        a, b = max(lo, self._start), min(hi, end)
        if b > a:
            out[:, a - lo : b - lo] = buf[:, a - self._start : b - self._start]
        return out

    def _run(self, stop: int, *, final: bool) -> np.ndarray:
        if stop <= self._done:
            return np.zeros((self._low.shape[0], 0), np.float32)
        end = min(self._low_end, self._high_end)
        lo, hi = self._done - self._half, stop + self._half
        diff = self._get(self._low, lo, hi, end) - self._get(self._high, lo, hi, end)
        high = self._get(self._high, self._done, stop, end)
        out = high + _filter_valid(diff, self._taps)
        self._done = stop
        cut = max(stop - self._half - self._start, 0)
        if not final and cut:
            self._low, self._high = self._low[:, cut:], self._high[:, cut:]
            self._start += cut
        return out
