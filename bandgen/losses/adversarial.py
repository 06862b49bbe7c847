"""Hinge adversarial losses and relative feature matching (n-SBG paper ``000`` §3.3; HP §1.5);
DAC's least-squares losses (HP §6, HP-codec).

n-SBG trains its generator against 8 sub-discriminators (5 MPD periods + 3 MB-STFT scales) with
the hinge loss of Lim & Ye (paper ref. [30]) and an EnCodec-style *relative* feature-matching
loss, each averaged over the sub-discriminators, so its scale does not depend on how many there
are; the least-squares losses are summed over them, as DAC does. The inputs are the ``logits`` /
``fmaps`` lists of :class:`bandgen.discriminators.base.DiscriminatorOutput`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "feature_matching_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
]


def _check_nonempty(name: str, items: Sequence[object]) -> None:
    if len(items) == 0:
        raise ValueError(f"{name} is empty: a multi-discriminator gave no sub-discriminator output")


def _check_pairs(real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor]) -> None:
    _check_nonempty("real_logits", real_logits)
    if len(real_logits) != len(fake_logits):
        raise ValueError(
            f"{len(real_logits)} real but {len(fake_logits)} fake sub-discriminator outputs"
        )


def hinge_discriminator_loss(
    real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor]
) -> Tensor:
    """Hinge loss of the discriminators (HP §1.5).

    ``mean(relu(1 - D(y))) + mean(relu(1 + D(y_hat)))`` per sub-discriminator, averaged over the
    sub-discriminators. Pass ``fake_logits`` computed on a detached ``y_hat``.

    Shape:
        - real_logits, fake_logits: one tensor of any shape per sub-discriminator.
        - output: scalar.
    """
    _check_pairs(real_logits, fake_logits)
    terms = [
        F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
        for real, fake in zip(real_logits, fake_logits, strict=True)
    ]
    return torch.stack(terms).mean()


def hinge_generator_loss(fake_logits: Sequence[Tensor]) -> Tensor:
    """Hinge loss of the generator: ``-mean(D(y_hat))`` averaged over sub-discriminators (HP §1.5).

    Shape:
        - fake_logits: one tensor of any shape per sub-discriminator.
        - output: scalar.
    """
    _check_nonempty("fake_logits", fake_logits)
    return torch.stack([-fake.mean() for fake in fake_logits]).mean()


def feature_matching_loss(
    real_fmaps: Sequence[Sequence[Tensor]],
    fake_fmaps: Sequence[Sequence[Tensor]],
    *,
    eps: float = 1e-8,
) -> Tensor:
    """Relative feature-matching loss (EnCodec style; HP §1.5).

    For every layer ``l`` of sub-discriminator ``d``:
    ``mean|f(y) - f(y_hat)| / mean|f(y)|``; averaged over the layers of ``d``, then over the
    sub-discriminators. The real feature maps are detached (the loss trains the generator only);
    ``eps`` keeps an all-zero real map finite.

    Shape:
        - real_fmaps, fake_fmaps: per sub-discriminator, a list of feature maps of any shape
          (real and fake maps of a layer have equal shapes).
        - output: scalar; exactly 0 when ``y_hat == y``.
    """
    _check_nonempty("real_fmaps", real_fmaps)
    if len(real_fmaps) != len(fake_fmaps):
        raise ValueError(f"{len(real_fmaps)} real but {len(fake_fmaps)} fake fmap lists")
    per_disc = []
    for real_layers, fake_layers in zip(real_fmaps, fake_fmaps, strict=True):
        _check_nonempty("a sub-discriminator's fmaps", real_layers)
        if len(real_layers) != len(fake_layers):
            raise ValueError(f"{len(real_layers)} real but {len(fake_layers)} fake layers")
        per_layer = []
        for real, fake in zip(real_layers, fake_layers, strict=True):
            real = real.detach()
            per_layer.append((real - fake).abs().mean() / (real.abs().mean() + eps))
        per_disc.append(torch.stack(per_layer).mean())
    return torch.stack(per_disc).mean()


def lsgan_discriminator_loss(
    real_logits: Sequence[Tensor], fake_logits: Sequence[Tensor]
) -> Tensor:
    """Least-squares loss of the discriminators (DAC, HP §6): ``mean((1 - D(y))^2) +
    mean(D(y_hat)^2)`` per sub-discriminator, summed over them as DAC does. Pass
    ``fake_logits`` computed on a detached ``y_hat``.

    Shape:
        - real_logits, fake_logits: one tensor of any shape per sub-discriminator.
        - output: scalar.
    """
    _check_pairs(real_logits, fake_logits)
    terms = [
        (1.0 - real).pow(2).mean() + fake.pow(2).mean()
        for real, fake in zip(real_logits, fake_logits, strict=True)
    ]
    return torch.stack(terms).sum()


def lsgan_generator_loss(fake_logits: Sequence[Tensor]) -> Tensor:
    """Least-squares loss of the generator: ``mean((1 - D(y_hat))^2)`` summed over the
    sub-discriminators (DAC, HP §6).

    Shape:
        - fake_logits: one tensor of any shape per sub-discriminator.
        - output: scalar.
    """
    _check_nonempty("fake_logits", fake_logits)
    return torch.stack([(1.0 - fake).pow(2).mean() for fake in fake_logits]).sum()
