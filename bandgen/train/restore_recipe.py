"""Recipes of the MP3 restoration model (paper ``002``), the YAML dialect of :mod:`.recipe`.

A restoration recipe is told apart from an n-SBG one by ``model.kind: mp3restore``
(:func:`recipe_kind`); ``bandgen train`` dispatches on it. Sections::

    base: mp3restore_n1.yaml                 # optional overlay, as n-SBG recipes
    model: {kind: mp3restore, preset: cpu, num_blocks: 1}   # MP3RestoreConfig preset + fields
    data: {...}                              # DataConfig (core mp3 at 32 kbps)
    optim: {lr: 1.0e-3, ...}                 # RestoreOptimConfig (paper §3.3: Adam 1e-3)
    loss: {pixel: 1.0, ssim: 0.5}            # RestoreLossWeights (paper eq. 3)
    schedule: {...}                          # RestoreScheduleConfig

Unknown keys are a :class:`~bandgen.errors.ConfigError`, as everywhere.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bandgen.errors import ConfigError
from bandgen.models.mp3restore import PRESETS, MP3RestoreConfig
from bandgen.train.recipe import (
    DataConfig,
    ScheduleConfig,
    _check_keys,
    _check_lr,
    _load_yaml,
    _plain,
    _section,
)

__all__ = [
    "KIND",
    "RestoreLossWeights",
    "RestoreOptimConfig",
    "RestoreRecipe",
    "RestoreScheduleConfig",
    "load_restore_recipe",
    "recipe_kind",
]

KIND = "mp3restore"
"""``model.kind`` of a restoration recipe."""

_DATA_DEFAULTS: dict[str, Any] = {"core": "mp3", "core_kbps": 32.0, "segment_length": 47_616}
"""Where a restoration recipe's ``data`` defaults differ from n-SBG's :class:`DataConfig`."""


@dataclass(frozen=True)
class RestoreOptimConfig:
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


@dataclass(frozen=True)
class RestoreLossWeights:
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
class RestoreRecipe:
    """A whole restoration recipe (see the module docstring)."""

    model: MP3RestoreConfig = field(default_factory=MP3RestoreConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(**_DATA_DEFAULTS))
    optim: RestoreOptimConfig = field(default_factory=RestoreOptimConfig)
    loss: RestoreLossWeights = field(default_factory=RestoreLossWeights)
    schedule: RestoreScheduleConfig = field(default_factory=RestoreScheduleConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict that :meth:`from_dict` maps back to an equal recipe."""
        return {
            "model": {"kind": KIND, **self.model.to_dict()},
            **{
                name: _plain(dataclasses.asdict(getattr(self, name)))
                for name in ("data", "optim", "loss", "schedule")
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RestoreRecipe:
        """Build from a (merged) recipe mapping; unknown keys are a :class:`ConfigError`."""
        _check_keys("recipe", values, {f.name for f in dataclasses.fields(cls)})
        model = dict(values.get("model") or {})
        kind = model.pop("kind", KIND)
        if kind != KIND:
            raise ConfigError(f"model.kind {kind!r} is not {KIND!r}")
        preset = model.pop("preset", None)
        if preset is not None and preset not in PRESETS:
            raise ConfigError(f"model.preset {preset!r} is not one of {', '.join(PRESETS)}")
        try:
            base = getattr(MP3RestoreConfig, preset)() if preset else MP3RestoreConfig()
            model_cfg = MP3RestoreConfig.from_dict({**base.to_dict(), **model})
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"recipe section 'model': {exc}") from None
        data = values.get("data") or {}
        if isinstance(data, Mapping):
            data = {**_DATA_DEFAULTS, **data}
        return cls(
            model=model_cfg,
            data=_section(DataConfig, "data", {"data": data}),
            optim=_section(RestoreOptimConfig, "optim", values),
            loss=_section(RestoreLossWeights, "loss", values),
            schedule=_section(RestoreScheduleConfig, "schedule", values),
        )


def recipe_kind(path: str | os.PathLike[str]) -> str:
    """``model.kind`` of a YAML recipe after its ``base`` overlays (``"nsbg"`` if absent)."""
    model = _load_yaml(Path(path).resolve()).get("model") or {}
    return str(model.get("kind", "nsbg")) if isinstance(model, Mapping) else "nsbg"


def load_restore_recipe(path: str | os.PathLike[str]) -> RestoreRecipe:
    """Read a YAML restoration recipe (following ``base`` overlays).

    Raises:
        ConfigError: missing file, unknown key, bad value.
    """
    recipe = RestoreRecipe.from_dict(_load_yaml(Path(path).resolve()))
    _check_lr(recipe.optim.lr)
    return recipe
