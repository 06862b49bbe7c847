"""The overlapping windows of window-wide extension methods: weights that sum to one, and
streaming equal to whole-signal processing, with a stand-in for the model."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.errors import ConfigError
from bandgen.extend_windows import WindowGeometry, WindowStream, run_windows

GEO = WindowGeometry(hop=6, context=3, fade=4, hop_in=4, hop_out=12)


def _upsample(x: np.ndarray) -> np.ndarray:
    """A local stand-in: each input sample repeated 3 times (hop_out / hop_in)."""
    return np.repeat(x, 3, axis=1)


def _global(x: np.ndarray) -> np.ndarray:
    """A stand-in that sees the whole window, as a non-causal transformer: adds its mean."""
    return np.repeat(x + x.mean(axis=1, keepdims=True), 3, axis=1)


@pytest.mark.parametrize("length", [1, 23, 24, 25, 96, 250])
def test_weights_sum_to_one(length: int) -> None:
    """With a local model, the windowed output is the model's output: no gap, no double."""
    x = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    out = run_windows(x, GEO, _upsample)
    frames = -(-length // 4)
    assert out.shape == (2, frames * 12)
    expected = np.pad(_upsample(x), ((0, 0), (0, frames * 12 - 3 * length)))
    assert np.abs(out - expected).max() < 1e-5


@pytest.mark.parametrize("block", [1, 7, 24, 1000])
def test_streaming_equals_whole(block: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, 301)).astype(np.float32)
    whole = run_windows(x, GEO, _global)
    stream = WindowStream(GEO, _global, 2)
    parts = [stream.push(x[:, i : i + block]) for i in range(0, x.shape[1], block)]
    out = np.concatenate([*parts, stream.flush()], axis=1)
    assert out.shape == whole.shape and np.array_equal(out, whole)
    # output comes out as the stream goes, not all at the end
    assert block > 300 or sum(p.shape[1] for p in parts) > whole.shape[1] // 2


def test_windows_see_their_context_and_zeros_outside_the_signal() -> None:
    seen: list[np.ndarray] = []

    def spy(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return _upsample(x)

    x = np.arange(1, 41, dtype=np.float32)[None]  # 10 frames of 4 samples
    run_windows(x, GEO, spy)
    assert len(seen) == 2 and all(s.shape == (1, 48) for s in seen)
    assert np.all(seen[0][0, :12] == 0) and seen[0][0, 12] == 1  # 3 frames of zeros first
    assert seen[1][0, 0] == 13 and np.all(seen[1][0, 40:] == 0)  # frame 3 on; zeros past 40


def test_bad_geometry() -> None:
    with pytest.raises(ConfigError, match="crossfade"):
        WindowGeometry(hop=6, context=1, fade=4, hop_in=4, hop_out=12)
