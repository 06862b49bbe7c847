"""SoundStream's spectral reconstruction loss: zero for equal signals, larger for worse ones."""

from __future__ import annotations

import pytest
import torch

from bandgen.losses.spectral_energy import SpectralEnergyDistance


def test_zero_for_equal_and_ordered() -> None:
    torch.manual_seed(0)
    loss = SpectralEnergyDistance()
    clean = torch.randn(2, 2, 9_600) * 0.1
    assert float(loss(clean, clean)) == pytest.approx(0.0, abs=1e-4)
    slight = clean + 0.01 * torch.randn_like(clean)
    heavy = clean + 0.1 * torch.randn_like(clean)
    assert 0 < float(loss(slight, clean)) < float(loss(heavy, clean))


def test_shapes_must_match() -> None:
    loss = SpectralEnergyDistance()
    with pytest.raises(ValueError, match="shapes differ"):
        loss(torch.zeros(1, 4096), torch.zeros(1, 4097))
