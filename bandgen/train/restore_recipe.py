"""Recipes of the MP3 restoration model (paper ``002``), the YAML dialect of :mod:`.recipe`.

A restoration recipe is told apart from an n-SBG one by ``model.kind: mp3restore``;
``bandgen train`` dispatches on it through :mod:`bandgen.families`. Sections::

    base: mp3restore_n1.yaml                 # optional overlay, as n-SBG recipes
    model: {kind: mp3restore, preset: cpu, num_blocks: 1}   # MP3RestoreConfig preset + fields
    data: {...}                              # DataConfig (core mp3 at 32 kbps)
    optim: {lr: 1.0e-3, ...}                 # RestoreOptimConfig (paper §3.3: Adam 1e-3)
    loss: {pixel: 1.0, ssim: 0.5}            # RestoreLossWeights (paper eq. 3)
    schedule: {...}                          # RestoreScheduleConfig

Unknown keys are a :class:`~bandgen.errors.ConfigError`, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from bandgen.config import Config, check_lr
from bandgen.models.mp3restore import MP3RestoreConfig
from bandgen.train.recipe import BaseRecipe, DataConfig, ScheduleConfig

__all__ = [
    "KIND",
    "RestoreLossWeights",
    "RestoreOptimConfig",
    "RestoreRecipe",
    "RestoreScheduleConfig",
]

KIND = "mp3restore"
"""``model.kind`` of a restoration recipe."""

_DATA_DEFAULTS: dict[str, Any] = {"core": "mp3", "core_kbps": 32.0, "segment_length": 47_616}
"""Where a restoration recipe's ``data`` defaults differ from n-SBG's :class:`DataConfig`."""


@dataclass(frozen=True)
class RestoreOptimConfig(Config):
    """Adam (paper ``002`` §3.3: learning rate 1e-3, no schedule).

    Attributes:
        lr: learning rate.
        betas: Adam betas (Keras defaults, as the reference).
        lr_gamma: ExponentialLR factor per step (1: constant, as the paper).
        grad_clip: max gradient norm (``None``: no clipping, as the paper).
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    lr_gamma: float = 1.0
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        check_lr(self.lr)


@dataclass(frozen=True)
class RestoreLossWeights(Config):
    """Weights of ``pixel * PixelLoss + ssim * SSIMLoss`` (paper ``002`` eq. 3: 1 and 0.5)."""

    pixel: float = 1.0
    ssim: float = 0.5


@dataclass(frozen=True)
class RestoreScheduleConfig(ScheduleConfig):
    """:class:`~bandgen.train.recipe.ScheduleConfig` plus a wall-clock checkpoint interval.

    Attributes:
        ckpt_minutes: also write the resume checkpoint when this many minutes have passed
            since the last one (``None``: by ``ckpt_every`` steps only).
    """

    ckpt_minutes: float | None = None


@dataclass(frozen=True)
class RestoreRecipe(BaseRecipe):
    """A whole restoration recipe (see the module docstring)."""

    kind: ClassVar[str] = KIND

    model: MP3RestoreConfig = field(default_factory=MP3RestoreConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(**_DATA_DEFAULTS))
    optim: RestoreOptimConfig = field(default_factory=RestoreOptimConfig)
    loss: RestoreLossWeights = field(default_factory=RestoreLossWeights)
    schedule: RestoreScheduleConfig = field(default_factory=RestoreScheduleConfig)
