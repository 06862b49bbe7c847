"""Weighted overlap-add: streaming equals whole-signal, and STFT.inverse is built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.dsp.ola import StreamingOverlapAdd, normalize, overlap_add, window_envelope
from bandgen.dsp.stft import STFT


def _whole(frames: torch.Tensor, window: torch.Tensor, hop: int) -> torch.Tensor:
    """Weighted overlap-add of all ``frames [C, n_fft, N]`` at once: ``[C, total]``."""
    total = frames.shape[-2] + hop * (frames.shape[-1] - 1)
    summed = overlap_add(frames * window[:, None], hop_length=hop, total=total)
    return normalize(summed, window_envelope(window, num_frames=frames.shape[-1], hop_length=hop))


@pytest.mark.parametrize(("n_fft", "hop"), [(64, 16), (496, 248), (256, 100)])
@pytest.mark.parametrize("seed", [0, 1])
def test_streaming_equals_whole(n_fft: int, hop: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    frames = torch.from_numpy(rng.standard_normal((2, n_fft, 40)))
    whole = _whole(frames, window, hop)
    ola = StreamingOverlapAdd(window, hop_length=hop, channels=2, dtype=torch.float64)
    parts, done = [], 0
    while done < frames.shape[-1]:
        count = int(rng.integers(1, 7))
        ola.add(frames[..., done : done + count], done)
        done = min(done + count, frames.shape[-1])
        final = (
            done * hop if done < frames.shape[-1] else whole.shape[-1]
        )  # later frames start here
        parts.append(ola.read(ola.position, final - ola.position))
        ola.discard(final)
    streamed = torch.cat(parts, dim=-1)
    assert streamed.shape == whole.shape and ola.position == whole.shape[-1]
    torch.testing.assert_close(streamed, whole, rtol=1e-12, atol=1e-12)


def test_samples_without_window_energy_are_zero() -> None:
    window = torch.hann_window(64, periodic=True, dtype=torch.float64)  # window[0] == 0
    frames = torch.ones(1, 64, 3, dtype=torch.float64)
    out = _whole(frames, window, 16)
    assert out[0, 0] == 0 and torch.isfinite(out).all()


def test_stft_inverse_is_the_same_overlap_add() -> None:
    stft = STFT(n_fft=128, hop_length=32, center=False)
    wav = torch.randn(3, 1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spec = stft(wav)
    frames = torch.fft.irfft(spec, n=128, dim=-2)
    expected = _whole(frames, stft.window, 32)
    assert torch.equal(stft.inverse(spec, expected.shape[-1]), expected)
