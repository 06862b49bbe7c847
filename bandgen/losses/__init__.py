"""Training losses (n-SBG paper ``000`` §3.3, eq. 1; psychoacoustic losses of paper ``001`` §6.1).

The generator objective of n-SBG is
``15 L_mel + 6 L_fm + 3 L_adv + 0.5 L_commit + 1 L_codebook`` (HP §1.5); the psychoacoustic
losses of HP §5 can be added with non-zero weights. :class:`LossWeights` holds the weights keyed
by the names a recipe uses, and :func:`build_losses` builds the waveform-comparison losses
(``forward(y_hat, y) -> scalar``) that have a non-zero weight. The adversarial and
feature-matching losses (:mod:`bandgen.losses.adversarial`) take discriminator outputs, and the
RVQ losses come with the model's output, so neither is built here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from bandgen.audio import WORK_RATE
from bandgen.config import Config
from bandgen.errors import ConfigError
from bandgen.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from bandgen.losses.mel import MultiScaleMelLoss
from bandgen.losses.psychoacoustic import (
    PSYCHOACOUSTIC_LOSSES,
    NoiseModulationLoss,
    PriorityWeightingLoss,
)
from bandgen.losses.subband import SubbandSpectralLoss

__all__ = [
    "LossWeights",
    "MultiScaleMelLoss",
    "NoiseModulationLoss",
    "PriorityWeightingLoss",
    "SubbandSpectralLoss",
    "build_losses",
    "feature_matching_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
]


@dataclass(frozen=True)
class LossWeights(Config):
    """Weights of the generator loss terms (n-SBG eq. 1; values from HP §1.5 [C]).

    Attributes:
        mel: multi-scale mel loss ``λ_mel`` (15).
        fm: relative feature matching ``λ_fm`` (6).
        adv: hinge generator loss ``λ_adv`` (3).
        commit: RVQ commitment loss ``λ_commit`` (0.5).
        codebook: RVQ codebook loss ``λ_cb`` (1).
        psy_priority: priority-weighting loss (paper ``001`` eq. 22; off by default).
        psy_noise_mod: noise-modulation loss (paper ``001`` eq. 24; off by default).
        subband: sub-band spectral loss on the generated bands
            (:class:`~bandgen.losses.subband.SubbandSpectralLoss`; off by default). When it is
            the only waveform loss (``mel = 0``, no psychoacoustic or adversarial terms), the
            trainer skips the PQMF synthesis of the training outputs.
        subband_energy: short-time sub-band energy loss
            (:class:`~bandgen.losses.subband.SubbandEnergyLoss`; off by default).
    """

    mel: float = 15.0
    fm: float = 6.0
    adv: float = 3.0
    commit: float = 0.5
    codebook: float = 1.0
    psy_priority: float = 0.0
    psy_noise_mod: float = 0.0
    subband: float = 0.0
    subband_energy: float = 0.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"loss weight {field.name} must be a number >= 0, got {value!r}")


def build_losses(weights: LossWeights, *, sample_rate: int = WORK_RATE) -> nn.ModuleDict:
    """The waveform losses ``forward(y_hat [B, 1, T], y [B, 1, T]) -> scalar`` with weight > 0.

    Keys are the :class:`LossWeights` names: ``"mel"`` (:class:`MultiScaleMelLoss`, paper
    settings), ``"psy_priority"`` and ``"psy_noise_mod"`` (:data:`PSYCHOACOUSTIC_LOSSES`).
    Multiply each by ``getattr(weights, key)``.
    """
    losses = nn.ModuleDict()
    if weights.mel > 0:
        losses["mel"] = MultiScaleMelLoss(sample_rate=sample_rate)
    for name, loss_cls in PSYCHOACOUSTIC_LOSSES.items():
        if getattr(weights, name) > 0:
            losses[name] = loss_cls(sample_rate=sample_rate)
    return losses
