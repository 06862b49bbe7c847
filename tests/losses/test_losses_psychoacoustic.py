"""Priority-weighting and noise-modulation losses (paper ``001`` §6.1, HP §5)."""

from __future__ import annotations

import math

import pytest
import torch

from bandgen.losses.psychoacoustic import (
    PSYCHOACOUSTIC_LOSSES,
    NoiseModulationLoss,
    PriorityWeightingLoss,
)

SR = 48000


def _music_like(batch: int = 2, length: int = 4096, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    tones = sum(0.2 / k * torch.sin(2 * math.pi * 440.0 * k * t) for k in range(1, 6))
    return tones + 0.01 * torch.randn(batch, 1, length, generator=gen)


@pytest.mark.parametrize("name", sorted(PSYCHOACOUSTIC_LOSSES))
def test_zero_for_identical_positive_otherwise(name: str) -> None:
    loss_fn = PSYCHOACOUSTIC_LOSSES[name]()
    y = _music_like()
    assert loss_fn(y, y.clone()).item() == 0.0
    noise = 0.05 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    y_hat = (y + noise).requires_grad_()
    loss = loss_fn(y_hat, y)
    assert loss.item() > 0.0
    loss.backward()
    assert y_hat.grad is not None and torch.isfinite(y_hat.grad).all()
    assert y_hat.grad.abs().sum() > 0


def test_louder_error_costs_more() -> None:
    y = _music_like()
    noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
    for loss_fn in (PriorityWeightingLoss(), NoiseModulationLoss()):
        small, large = (loss_fn(y + a * noise, y).item() for a in (0.01, 0.1))
        assert 0.0 < small < large


def test_priority_weights_vanish_under_the_mask() -> None:
    loss_fn = PriorityWeightingLoss()
    masking = loss_fn.model(_music_like())
    weights = loss_fn.weights(masking)
    above = masking.psd_db - masking.threshold_db
    assert weights[above < -30].max() < 1e-3
    torch.testing.assert_close(weights[above > 30], 0.1 * above[above > 30], atol=1e-3, rtol=0)


def test_noise_far_below_the_mask_is_free() -> None:
    y = _music_like()
    tiny = 1e-6 * torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
    assert NoiseModulationLoss()(y + tiny, y).item() == 0.0


def test_reduction_none_is_per_item() -> None:
    y = _music_like(batch=3)
    y_hat = y + 0.05 * torch.randn(y.shape, generator=torch.Generator().manual_seed(4))
    per_item = NoiseModulationLoss(reduction="none")(y_hat, y)
    assert per_item.shape == (3,)
    assert per_item.mean().item() == pytest.approx(NoiseModulationLoss()(y_hat, y).item(), rel=1e-5)
