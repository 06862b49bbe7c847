"""Hinge and least-squares adversarial losses, relative feature matching (HP §1.5, §6)."""

from __future__ import annotations

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.losses import LossWeights, build_losses
from bandgen.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)


def test_hinge_discriminator_known_values() -> None:
    real = [torch.tensor([2.0, 0.5]), torch.tensor([[-1.0]])]
    fake = [torch.tensor([-2.0, 0.0]), torch.tensor([[1.0]])]
    # disc 1: relu(1-[2, .5]) = [0, .5] -> .25; relu(1+[-2, 0]) = [0, 1] -> .5; sum .75
    # disc 2: relu(1-(-1)) = 2; relu(1+1) = 2; sum 4.  mean = 2.375
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(2.375)
    perfect = hinge_discriminator_loss([torch.full((4,), 3.0)], [torch.full((4,), -3.0)])
    assert perfect.item() == 0.0


def test_hinge_generator_known_values() -> None:
    fake = [torch.tensor([1.0, 3.0]), torch.tensor([-4.0])]
    assert hinge_generator_loss(fake).item() == pytest.approx((-2.0 + 4.0) / 2)


def test_feature_matching_zero_and_known_value() -> None:
    gen = torch.Generator().manual_seed(0)
    real = [[torch.randn(2, 4, 8, generator=gen) for _ in range(3)] for _ in range(2)]
    assert feature_matching_loss(real, [[f.clone() for f in d] for d in real]).item() == 0.0
    real1 = [[torch.tensor([1.0, -1.0]), torch.tensor([2.0, 2.0])]]
    fake1 = [[torch.tensor([0.0, -1.0]), torch.tensor([2.0, 4.0])]]
    # layer 1: mean|diff| .5 / mean|real| 1 = .5; layer 2: 1 / 2 = .5 -> .5
    assert feature_matching_loss(real1, fake1).item() == pytest.approx(0.5)


def test_feature_matching_detaches_real() -> None:
    real = torch.ones(3, requires_grad=True)
    fake = torch.zeros(3, requires_grad=True)
    feature_matching_loss([[real]], [[fake]]).backward()
    assert real.grad is None and fake.grad is not None


def test_mismatched_lists_raise() -> None:
    with pytest.raises(ValueError):
        hinge_discriminator_loss([torch.zeros(1)], [])
    with pytest.raises(ValueError):
        hinge_generator_loss([])


def test_loss_weights_and_builder() -> None:
    weights = LossWeights()
    assert (weights.mel, weights.fm, weights.adv, weights.commit, weights.codebook) == (
        15.0,
        6.0,
        3.0,
        0.5,
        1.0,
    )
    assert weights.psy_priority == 0.0 and weights.psy_noise_mod == 0.0
    assert LossWeights.from_dict(weights.to_dict()) == weights
    with pytest.raises(ConfigError):
        LossWeights.from_dict({"mel/loss": 1.0})
    with pytest.raises(ConfigError):
        LossWeights(mel=-1.0)
    assert set(build_losses(weights)) == {"mel"}
    both = build_losses(LossWeights(psy_priority=1.0, psy_noise_mod=0.1))
    assert set(both) == {"mel", "psy_priority", "psy_noise_mod"}


def test_lsgan_losses_are_dacs_least_squares() -> None:
    ones, zeros = [torch.ones(2, 3), torch.ones(4)], [torch.zeros(2, 3), torch.zeros(4)]
    assert float(lsgan_discriminator_loss(ones, zeros)) == 0.0  # perfect discriminators
    assert float(lsgan_generator_loss(ones)) == 0.0  # fakes taken for real
    # summed over sub-discriminators: (1 - 0)^2 + 1^2 per sub-discriminator
    assert float(lsgan_discriminator_loss(zeros, ones)) == 4.0
    assert float(lsgan_generator_loss([torch.full((3,), 3.0)])) == 4.0
    with pytest.raises(ValueError):
        lsgan_discriminator_loss(ones, zeros[:1])
