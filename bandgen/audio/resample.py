"""Sample-rate conversion with soxr (whole signals and streams).

soxr's streaming resampler compensates its own filter delay, so a stream fed in
blocks gives exactly the samples of the whole-signal call; both are aligned to
the input (no lag), which the core-codec alignment relies on.
"""

from __future__ import annotations

import numpy as np

QUALITY = "VHQ"
"""soxr quality preset used everywhere (very high quality, linear phase)."""


def resample(wav: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Resample a whole signal.

    Args:
        wav: float32 ``[C, T]`` or ``[T]`` at ``in_rate`` Hz.
        in_rate: input sampling rate in Hz.
        out_rate: output sampling rate in Hz.

    Returns:
        float32 of the same rank, ``round(T * out_rate / in_rate)`` samples long.
    """
    if in_rate == out_rate:
        return np.asarray(wav, dtype=np.float32)
    import soxr  # lazily: training on a packed cache runs without it

    data = np.asarray(wav, dtype=np.float32)
    out = soxr.resample(data.T, in_rate, out_rate, quality=QUALITY)
    return np.ascontiguousarray(out.T, dtype=np.float32)


class StreamResampler:
    """Block-wise resampler for ``[C, n]`` blocks; output equals :func:`resample` of the whole."""

    def __init__(self, in_rate: int, out_rate: int, channels: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        import soxr

        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=QUALITY)
        )

    def push(self, wav: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Resample the next block ``[C, n]``; ``last=True`` flushes the filter tail."""
        block = np.asarray(wav, dtype=np.float32)
        if self._stream is None:
            return block
        out = self._stream.resample_chunk(np.ascontiguousarray(block.T), last=last)
        return np.ascontiguousarray(out.T, dtype=np.float32)

    def flush(self) -> np.ndarray:
        """Return the last samples at end of stream."""
        return self.push(np.zeros((self.channels, 0), np.float32), last=True)
