"""HPSS by median filtering: masks sum to one, components sum to the input, tones go to the
harmonic part and clicks to the percussive part, batched == one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.dsp.hpss import hpss, hpss_masks, median_filter


def _tones_and_clicks(seconds: float = 2.0, rate: int = 48_000) -> tuple[torch.Tensor, ...]:
    t = torch.arange(int(seconds * rate)) / rate
    tones = 0.3 * torch.sin(2 * np.pi * 440 * t) + 0.2 * torch.sin(2 * np.pi * 1320 * t)
    clicks = torch.zeros_like(t)
    clicks[:: rate // 4] = 1.0  # four clicks a second
    return tones, clicks


def test_median_filter_matches_numpy() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 40)
    out = median_filter(x, 5, dim=-1)
    padded = np.pad(x.numpy(), ((0, 0), (2, 2)), mode="reflect")
    expected = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5, axis=-1), -1)
    assert np.allclose(out.numpy(), expected)
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 4, dim=-1)


def test_masks_sum_to_one() -> None:
    torch.manual_seed(0)
    mag = torch.rand(2, 129, 50) ** 3
    mag[0, :, 10] = 0  # silent frame: masks still sum to one
    masks = hpss_masks(mag, kernel=7, margin=2.0)
    total = masks.harmonic + masks.percussive + masks.residual
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)
    assert masks.residual.min() >= 0
    plain = hpss_masks(mag, kernel=7, margin=1.0)
    assert torch.count_nonzero(plain.residual) == 0


def test_tones_are_harmonic_clicks_percussive() -> None:
    tones, clicks = _tones_and_clicks()
    out = hpss(tones + clicks)
    total = out.harmonic + out.percussive + out.residual
    assert torch.allclose(total, tones + clicks, atol=1e-4)

    def share(part: torch.Tensor, reference: torch.Tensor) -> float:
        """Energy of ``part`` correlated with ``reference``, as a fraction of the reference."""
        return float((part * reference).sum() / reference.pow(2).sum())

    assert share(out.harmonic, tones) > 0.9
    assert share(out.percussive, clicks) > 0.6
    assert share(out.percussive, tones) < 0.05
    assert share(out.harmonic, clicks) < 0.1


def test_batched_equals_one_by_one() -> None:
    tones, clicks = _tones_and_clicks(seconds=0.5)
    batch = torch.stack([torch.stack([tones, clicks]), torch.stack([clicks, tones + clicks])])
    out = hpss(batch, kernel=17)
    assert out.harmonic.shape == batch.shape
    single = hpss(batch[1, 1], kernel=17)
    assert torch.allclose(out.percussive[1, 1], single.percussive, atol=1e-6)
