"""Recipes of HP-codec (paper ``004``), the YAML dialect of :mod:`.recipe`.

An HP-codec recipe has ``model.kind: hpcodec`` and names its cascade phase (HP §4)::

    base: hpcodec_p1.yaml
    phase: 2                                 # 1: low branch; 2: high branch (low frozen); 3: joint
    model: {kind: hpcodec, preset: paper}    # HPCodecConfig preset + fields
    data: {core: bandlimit, core_rate: 16000, ...}   # DataConfig: the band-limit cache
    optim: {lr: 1.0e-4, ...}                 # HPCodecOptim (AdamW, ExponentialLR, clipping)
    loss: {mel: 15, feature: 2, adversarial: 1, commitment: 0.25, codebook: 1}
    discriminator: {scale: 1.0}              # MPD + multi-band STFT per branch
    schedule: {init_from: out/hpcodec_p1/resume.safetensors, ...}

Phases 2 and 3 start from the previous phase's resume checkpoint through
``schedule.init_from``. Phase 3's halved weights and lower learning rate are written in its
recipe (``hpcodec_p3.yaml``), not applied by the trainer. Unknown keys are a
:class:`~bandgen.errors.ConfigError`, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from bandgen.config import Config, check_lr
from bandgen.errors import ConfigError
from bandgen.models.hpcodec import HPCodecConfig
from bandgen.train.recipe import BaseRecipe, DataConfig
from bandgen.train.restore_recipe import RestoreScheduleConfig

__all__ = ["KIND", "HPCodecDiscriminator", "HPCodecLoss", "HPCodecOptim", "HPCodecRecipe"]

KIND = "hpcodec"
"""``model.kind`` of an HP-codec recipe."""

_DATA_DEFAULTS: dict[str, Any] = {
    "core": "bandlimit",
    "core_rate": 16_000,
    "segment_length": 18_240,  # 0.38 s (HP §4), 38 tokens
    "batch_size": 32,
}
"""Where an HP-codec recipe's ``data`` defaults differ from n-SBG's :class:`DataConfig`."""


@dataclass(frozen=True)
class HPCodecOptim(Config):
    """AdamW with an exponential decay (HP §4: lr 1e-4, betas 0.8/0.99, gamma 0.999996;
    gradient clipping 1e3 for the codec, 10 for the discriminators)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.8, 0.99)
    lr_gamma: float = 0.999996
    grad_clip: float | None = 1e3
    grad_clip_d: float | None = 10.0

    def __post_init__(self) -> None:
        check_lr(self.lr)


@dataclass(frozen=True)
class HPCodecLoss(Config):
    """Loss weights (DAC, HP §4 and §6; phase 3 halves mel, feature and adversarial).

    Attributes:
        mel: multi-scale mel loss of each trained branch (15).
        feature: feature matching (2; EnCodec's relative L1 of :mod:`bandgen.losses.adversarial`).
        adversarial: least-squares GAN loss of the codec (1). With ``feature`` and
            ``adversarial`` both 0 no discriminator is built (the CPU recipes).
        commitment: DAC commitment loss, summed over codebooks and branches (0.25).
        codebook: DAC codebook loss, likewise (1).
        waveform: L1 distance of each trained branch's waveform to its target (0: DAC and the
            paper have none). Not in the paper: without a discriminator nothing else sees the
            waveform's DC. It did not cure the first CPU run's failure (its 48 kHz branch's
            codes collapsed to one entry per codebook and its output sat at a DC of -1, with
            and without it over 250 steps; see the issue-15 note).
    """

    mel: float = 15.0
    feature: float = 2.0
    adversarial: float = 1.0
    commitment: float = 0.25
    codebook: float = 1.0
    waveform: float = 0.0

    @property
    def gan(self) -> bool:
        """Whether the recipe trains against discriminators."""
        return self.feature > 0 or self.adversarial > 0


@dataclass(frozen=True)
class HPCodecDiscriminator(Config):
    """One DAC discriminator set per branch: MPD (periods 2-11) + multi-band STFT (2048, 1024,
    512; DAC's five bands). ``scale`` multiplies their channels (1: MPD 24, STFT 32)."""

    scale: float = 1.0


@dataclass(frozen=True)
class HPCodecRecipe(BaseRecipe):
    """A whole HP-codec recipe (module docstring)."""

    kind: ClassVar[str] = KIND

    phase: int = 1
    model: HPCodecConfig = field(default_factory=HPCodecConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(**_DATA_DEFAULTS))
    optim: HPCodecOptim = field(default_factory=HPCodecOptim)
    loss: HPCodecLoss = field(default_factory=HPCodecLoss)
    discriminator: HPCodecDiscriminator = field(default_factory=HPCodecDiscriminator)
    schedule: RestoreScheduleConfig = field(default_factory=RestoreScheduleConfig)

    def __post_init__(self) -> None:
        if self.phase not in (1, 2, 3):
            raise ConfigError(f"phase must be 1, 2 or 3 (HP §4 cascade), got {self.phase!r}")
        if self.data.core != "bandlimit" or self.data.core_rate != 16_000:
            raise ConfigError(
                "HP-codec trains on the 16 kHz band-limit cache: set data.core: bandlimit and "
                "data.core_rate: 16000"
            )
        if self.data.segment_length % self.model.hop_high:
            raise ConfigError(
                f"data.segment_length must be a multiple of {self.model.hop_high} (one token)"
            )
