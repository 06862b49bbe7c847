"""Overlapping windows with crossfades, for extension methods that see a whole window at once.

HP-codecX's transformer is non-causal over its input (every frame attends to every other):
its output at a frame depends on the whole window, and it was trained on excerpts of one
length. So it runs on fixed windows, the same ones whether a file is processed whole or
streamed, which makes streaming exactly equal to whole-signal processing:

- in frames of ``hop_in`` input samples (``hop_out`` output samples; 160 at 16 kHz and 480
  at 48 kHz for HP-codec's 100 frames/s), window ``k`` reads input frames
  ``[k H - c, k H + H + c)`` (``H = hop`` frames kept, ``c = context`` frames each side,
  zeros outside the signal) and gives output for the same frames;
- its output is weighted by a trapezoid: 1 over the kept frames ``[k H, k H + H)``, with
  raised-cosine ramps of ``fade`` frames centred on their two edges (``sin^2`` into ``cos^2``:
  adjacent windows' weights sum to one), flat at the signal's start (first window) and end
  (last window);
- the weighted windows are summed.

Seams that remain: each window is an independent prediction, so where two windows meet their
generated content may differ (different tokens); the crossfade of ``fade`` frames removes the
click but not a change of texture, and within ``context`` frames of its edge a window knows
less than in its middle. Every window sees ``context`` frames beyond what it keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bandgen.errors import ConfigError

__all__ = ["WindowGeometry", "WindowStream", "run_windows"]

WindowFn = Callable[[np.ndarray], np.ndarray]
"""``[C, (H + 2 c) hop_in]`` input samples -> ``[C, (H + 2 c) hop_out]`` output samples."""


@dataclass(frozen=True)
class WindowGeometry:
    """Sizes of the windows, in frames (module docstring)."""

    hop: int
    context: int
    fade: int
    hop_in: int
    hop_out: int

    def __post_init__(self) -> None:
        if self.hop < 1 or self.context < 0 or self.fade < 0:
            raise ConfigError(f"bad window sizes: {self}")
        if self.fade > 2 * self.context or self.fade > self.hop:
            raise ConfigError(
                f"the crossfade ({self.fade} frames) must fit in twice the context "
                f"({self.context}) and in the hop ({self.hop})"
            )

    @property
    def length(self) -> int:
        """Frames per window, ``H + 2 c``."""
        return self.hop + 2 * self.context

    def count(self, frames: int) -> int:
        """Windows that cover ``frames`` output frames (at least one)."""
        return max(1, -(-frames // self.hop))

    def weights(self, index: int, last: bool) -> np.ndarray:
        """Output weights ``[length * hop_out]`` of window ``index`` (module docstring)."""
        n = self.length * self.hop_out
        t = (np.arange(n) + 0.5) / self.hop_out - self.context  # frames from the kept start
        half = self.fade / 2
        w = np.ones(n)
        if self.fade:
            rise = np.clip((t + half) / self.fade, 0.0, 1.0)
            fall = np.clip((t - self.hop + half) / self.fade, 0.0, 1.0)
            if index > 0:
                w *= np.sin(0.5 * np.pi * rise) ** 2
            if not last:
                w *= np.cos(0.5 * np.pi * fall) ** 2
        else:
            if index > 0:
                w *= t >= 0
            if not last:
                w *= t < self.hop
        return w.astype(np.float32)


def _window_input(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """Samples ``[start, start + length)`` of ``x [C, T]``, zeros outside it."""
    out = np.zeros((x.shape[0], length), np.float32)
    a, b = max(start, 0), min(start + length, x.shape[1])
    if b > a:
        out[:, a - start : b - start] = x[:, a:b]
    return out


def run_windows(x: np.ndarray, geo: WindowGeometry, fn: WindowFn) -> np.ndarray:
    """Whole signal: ``x [C, T]`` -> ``[C, ceil(T / hop_in) hop_out]`` by windows."""
    stream = WindowStream(geo, fn, x.shape[0])
    return np.concatenate([stream.push(x), stream.flush()], axis=1)


class WindowStream:
    """:func:`run_windows` block by block: each window runs once its input has arrived.

    Shape:
        ``push(x [C, n]) -> [C, m]``, ``flush() -> [C, m']``; joined, the outputs equal
        :func:`run_windows` of the joined input.
    """

    def __init__(self, geo: WindowGeometry, fn: WindowFn, channels: int) -> None:
        self.geo, self.fn = geo, fn
        self._x = np.zeros((channels, 0), np.float32)
        self._x_at = 0  # input position of self._x[:, 0]
        self._received = 0
        self._out = np.zeros((channels, 0), np.float64)
        self._out_at = 0  # output position of self._out[:, 0]
        self._next = 0  # next window to run

    def push(self, x: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples now final."""
        self._x = np.concatenate([self._x, np.asarray(x, np.float32)], axis=1)
        self._received += x.shape[1]
        geo = self.geo
        # window k can run once its input is complete and it is surely not the last one
        while (self._next + 1) * geo.hop * geo.hop_in < self._received and (
            self._next * geo.hop + geo.hop + geo.context
        ) * geo.hop_in <= self._received:
            self._run(self._next, last=False)
        return self._take((self._next * geo.hop - geo.fade // 2 - 1) * geo.hop_out)

    def flush(self) -> np.ndarray:
        """The rest of the output, up to ``ceil(T / hop_in) hop_out`` samples."""
        geo = self.geo
        frames = -(-self._received // geo.hop_in)
        total = geo.count(frames)
        while self._next < total:
            self._run(self._next, last=self._next == total - 1)
        return self._take(frames * geo.hop_out)

    def _run(self, k: int, *, last: bool) -> None:
        geo = self.geo
        start = (k * geo.hop - geo.context) * geo.hop_in
        # zeros before the start and past the end, whole or streamed alike
        local = _window_input(self._x, start - self._x_at, geo.length * geo.hop_in)
        y = self.fn(local) * geo.weights(k, last)
        out_start = (k * geo.hop - geo.context) * geo.hop_out
        lo = max(out_start, self._out_at)
        end = out_start + y.shape[1]
        if end > self._out_at + self._out.shape[1]:
            grow = end - self._out_at - self._out.shape[1]
            self._out = np.pad(self._out, ((0, 0), (0, grow)))
        self._out[:, lo - self._out_at : end - self._out_at] += y[:, lo - out_start :]
        self._next = k + 1
        keep = max((self._next * geo.hop - geo.context) * geo.hop_in - self._x_at, 0)
        self._x, self._x_at = self._x[:, keep:], self._x_at + keep

    def _take(self, until: int) -> np.ndarray:
        """Output samples ``[out_at, until)`` (no later window reaches them)."""
        count = min(max(until - self._out_at, 0), self._out.shape[1])
        out = self._out[:, :count].astype(np.float32)
        self._out = self._out[:, count:]
        self._out_at += count
        return out
