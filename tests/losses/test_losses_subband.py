"""Sub-band multi-resolution spectral loss."""

from __future__ import annotations

import pytest
import torch

from bandgen.losses.subband import SubbandSpectralLoss


def test_zero_on_equal_inputs_and_grows_with_level_error() -> None:
    loss = SubbandSpectralLoss()
    bands = torch.randn(2, 3, 512, generator=torch.Generator().manual_seed(0))
    assert float(loss(bands, bands)) == 0.0
    small, large = float(loss(0.9 * bands, bands)), float(loss(0.3 * bands, bands))
    assert 0 < small < large
    # a 10 dB level error costs 1 decade of power at every bin and resolution
    assert float(loss(bands * 10**0.5, bands)) == pytest.approx(4.0, rel=1e-4)


def test_sees_a_misplaced_onset() -> None:
    loss = SubbandSpectralLoss()
    onset = torch.zeros(1, 1, 512)
    onset[..., 300:] = torch.randn(212, generator=torch.Generator().manual_seed(1))
    late = torch.roll(onset, 40, dims=-1)
    assert float(loss(late, onset)) > 1.0


def test_gradient_and_shape_check() -> None:
    loss = SubbandSpectralLoss(n_ffts=(16, 32))
    x = torch.randn(1, 2, 256, requires_grad=True)
    loss(x, torch.randn(1, 2, 256)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="shapes differ"):
        loss(torch.zeros(1, 2, 256), torch.zeros(1, 3, 256))


def test_energy_loss_measures_level_not_fine_structure() -> None:
    from bandgen.losses.subband import SubbandEnergyLoss

    loss = SubbandEnergyLoss()
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(1, 2, 4096, generator=gen), torch.randn(1, 2, 4096, generator=gen)
    assert float(loss(a, a)) == 0.0
    # two independent noises of equal level: small; the same noise 10 dB down: 1 decade
    assert float(loss(a, b)) < 0.3
    assert float(loss(a * 10**-0.5, a)) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(ValueError, match="shapes differ"):
        loss(a, b[:, :1])
