"""The n-SBG recipe (paper ``000``; HP §1.5): the sections of the GAN training.

Sections, in the recipe format of :mod:`bandgen.train.recipe`::

    model: {kind: nsbg, preset: cpu_12k, channels: 16}   # NSBGConfig preset + field overrides
    data: {...}                  # DataConfig
    optim: {...}                 # OptimConfig      (HP §1.5: Adam 1e-4, (0.5, 0.9), 0.999996)
    loss: {mel: 15, fm: 6, ...}  # bandgen.losses.LossWeights
    schedule: {...}              # ScheduleConfig
    discriminator: {...}         # DiscriminatorConfig
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bandgen.config import Config, check_lr
from bandgen.errors import ConfigError
from bandgen.losses import LossWeights
from bandgen.models.config import NSBGConfig
from bandgen.train.recipe import BaseRecipe, DataConfig, ScheduleConfig

__all__ = [
    "CORE_KBPS",
    "DiscriminatorConfig",
    "NSBGRecipe",
    "OptimConfig",
    "Recipe",
]

# Core payload per mode: the total less n-SBG side info (11 or 13 RVQ stages) and the
# container framing of an 8 kHz AAC core (0.81 kbps), i.e. what Codec.create gives the core.
# The paper's cores were 9.4 and 13.0 kbps (HYPERPARAMETERS.md §1.6).
CORE_KBPS: dict[str, float] = {"12k": 8.6, "16k": 12.1}
"""AAC-LC core payload per mode, kbit/s (n-SBG paper table, HP §1.6)."""


@dataclass(frozen=True)
class OptimConfig(Config):
    """Adam + per-step exponential decay for G and D (HP §1.5).

    Attributes:
        lr: learning rate of both optimisers.
        betas: Adam betas.
        lr_gamma: ExponentialLR factor per training step.
        grad_clip_g: max grad norm of the generator (``None``: no clipping).
        grad_clip_d: max grad norm of the discriminator (``None``: no clipping).
    """

    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    lr_gamma: float = 0.999996
    grad_clip_g: float | None = 3.0
    grad_clip_d: float | None = None

    def __post_init__(self) -> None:
        check_lr(self.lr)


@dataclass(frozen=True)
class DiscriminatorConfig(Config):
    """Which discriminator ensemble (HP §1.5: MPD + multi-band STFT).

    Attributes:
        kind: name for :func:`bandgen.discriminators.build_discriminator`.
        scale: channel-width multiplier (1.0 = paper size).
        bands: MB-STFT bands as fractions of the bins; ``None``: 0.06-wide bands from 0.15 up
            to the model's top generated band (5 bands at 12 kbps, 6 at 16 kbps; HP §1.5).
    """

    kind: str = "mpd+mbstft"
    scale: float = 1.0
    bands: tuple[tuple[float, float], ...] | None = None

    def resolved_bands(self, model: NSBGConfig) -> tuple[tuple[float, float], ...]:
        """The bands to use for ``model``."""
        if self.bands is not None:
            return self.bands
        top = (model.k_h + 1) / model.num_bands
        count = max(1, round((top - 0.15) / 0.06))
        return tuple((round(0.15 + 0.06 * i, 4), round(0.21 + 0.06 * i, 4)) for i in range(count))


@dataclass(frozen=True)
class NSBGRecipe(BaseRecipe):
    """A whole n-SBG training recipe (module docstring)."""

    kind: ClassVar[str] = "nsbg"

    model: NSBGConfig = field(default_factory=NSBGConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        if self.data.segment_length % self.model.n_fft:
            raise ConfigError(
                f"data.segment_length={self.data.segment_length} must be a multiple of "
                f"model.n_fft={self.model.n_fft}"
            )


Recipe = NSBGRecipe
"""The n-SBG recipe's old name."""
