"""Training recipes: YAML files mapped 1:1 onto frozen dataclasses.

A recipe has six sections, each a frozen dataclass; an unknown key anywhere is a
:class:`~bandgen.errors.ConfigError` naming it::

    base: nsbg_12k.yaml          # optional: a recipe this one overlays (path relative to this file)
    model: {preset: cpu_12k, channels: 16}   # NSBGConfig preset + field overrides
    data: {...}                  # DataConfig
    optim: {...}                 # OptimConfig      (HP §1.5: Adam 1e-4, (0.5, 0.9), 0.999996)
    loss: {mel: 15, fm: 6, ...}  # bandgen.losses.LossWeights
    schedule: {...}              # ScheduleConfig
    discriminator: {...}         # DiscriminatorConfig

Overlays merge mappings key by key (DAC style), so ``nsbg_12k_cpu.yaml`` only states what
differs from ``nsbg_12k.yaml``. Relative data paths are relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bandgen.errors import ConfigError
from bandgen.losses import LossWeights
from bandgen.models.config import NSBGConfig

__all__ = [
    "CORE_KBPS",
    "DataConfig",
    "DiscriminatorConfig",
    "OptimConfig",
    "Recipe",
    "ScheduleConfig",
    "load_recipe",
]

# Core payload per mode: the total less n-SBG side info (11 or 13 RVQ stages) and the
# container framing of an 8 kHz AAC core (0.81 kbps), i.e. what Codec.create gives the core.
# The paper's cores were 9.4 and 13.0 kbps (HYPERPARAMETERS.md §1.6).
CORE_KBPS: dict[str, float] = {"12k": 8.6, "16k": 12.1}
"""AAC-LC core payload per mode, kbit/s (n-SBG paper table, HP §1.6)."""

_PRESETS = (
    "paper_12k",
    "paper_16k",
    "cpu_12k",
    "cpu_16k",
    "cpu_patch_12k",
    "cpu_patch_16k",
    "cpu_patch_24k",
    "debug",
)


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how segments are drawn (HP §1.5: batch 16, 45056 samples).

    Attributes:
        corpus_dir: training corpus folder (``make_train_corpus.py`` output or any audio folder).
        cache_root: core-coded cache folder (``scripts/build_cache.py``); made on first use.
        core: core codec name.
        core_kbps: core payload target per channel (see :data:`CORE_KBPS`).
        segment_length: samples per training segment (a multiple of the model's ``n_fft``).
        batch_size: segments per step (per process under DDP).
        num_workers: DataLoader workers.
        split_seed: seed of the file-level train/valid split.
        valid_fraction: share of corpus files held out as ``valid``.
        max_hours: use at most this much of the corpus (``None``: all).
        gain_db: random gain range in dB.
        silence_db: segments quieter than this RMS (dBFS) are redrawn.
        balance_categories: draw speech, music and sound equally often (see
            :class:`~bandgen.data.dataset.SegmentDataset`).
        dev_dir: folder of evaluation clips for validation (``None``: the ``valid`` split).
        dev_max_clips: validate on at most this many clips.
        dev_seconds: and at most this many seconds of each (``None``: whole clips).
    """

    corpus_dir: str = "../corpus/train48k"
    cache_root: str = "../corpus/cache"
    core: str = "aac"
    core_kbps: float = 8.6
    segment_length: int = 45_056
    batch_size: int = 16
    num_workers: int = 2
    split_seed: int = 0
    valid_fraction: float = 0.02
    max_hours: float | None = None
    gain_db: tuple[float, float] = (-10.0, 0.0)
    silence_db: float = -60.0
    balance_categories: bool = False
    dev_dir: str | None = "../shared/data/dev"
    dev_max_clips: int = 24
    dev_seconds: float | None = None


@dataclass(frozen=True)
class OptimConfig:
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


@dataclass(frozen=True)
class ScheduleConfig:
    """How long and how often.

    Attributes:
        steps: total training steps (one G step + one D step each).
        log_every: scalar logging interval, steps.
        val_every: validation (and audio/spectrogram logging, best-model export) interval.
        ckpt_every: resume-checkpoint interval (also written at the end).
        seed: seed of initialisation, data draws and quantiser dropout.
        init_from: warm start of a new run (ignored on ``--resume``): a resume checkpoint of
            another run, whose generator and discriminator tensors initialise this run's where
            names match (a tensor whose shape differs is copied in its overlapping part, e.g.
            one more generated band or RVQ stage); optimiser state and step start afresh.
            Relative to the working directory, like every path of a recipe.
        max_minutes: stop (with a checkpoint) after this much wall time in one ``fit`` call
            (``None``: no limit); equal-time A/B runs and session-bound CPU training use it.
    """

    steps: int = 1_000_000
    log_every: int = 100
    val_every: int = 5_000
    ckpt_every: int = 1_000
    seed: int = 0
    init_from: str | None = None
    max_minutes: float | None = None


@dataclass(frozen=True)
class DiscriminatorConfig:
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
class Recipe:
    """A whole training recipe."""

    model: NSBGConfig = field(default_factory=NSBGConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict that :meth:`from_dict` maps back to an equal recipe."""
        return {
            "model": self.model.to_dict(),
            **{
                name: _plain(dataclasses.asdict(getattr(self, name)))
                for name in ("data", "optim", "loss", "schedule", "discriminator")
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Recipe:
        """Build from a (merged) recipe mapping; unknown keys are a :class:`ConfigError`."""
        _check_keys("recipe", values, {f.name for f in dataclasses.fields(cls)})
        model = dict(values.get("model") or {})
        preset = model.pop("preset", None)
        if preset is not None and preset not in _PRESETS:
            raise ConfigError(f"model.preset {preset!r} is not one of {', '.join(_PRESETS)}")
        base = getattr(NSBGConfig, preset)() if preset else NSBGConfig()
        try:
            model_cfg = NSBGConfig.from_dict({**base.to_dict(), **model})
        except ConfigError as exc:
            raise ConfigError(f"recipe section 'model': {exc}") from None
        recipe = cls(
            model=model_cfg,
            data=_section(DataConfig, "data", values),
            optim=_section(OptimConfig, "optim", values),
            loss=_section(LossWeights, "loss", values),
            schedule=_section(ScheduleConfig, "schedule", values),
            discriminator=_section(DiscriminatorConfig, "discriminator", values),
        )
        if recipe.data.segment_length % recipe.model.n_fft:
            raise ConfigError(
                f"data.segment_length={recipe.data.segment_length} must be a multiple of "
                f"model.n_fft={recipe.model.n_fft}"
            )
        return recipe


_T = TypeVar("_T")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_keys(where: str, values: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in {where}; allowed: {', '.join(sorted(allowed))}"
        )


def _to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    return value


def _section(cls: type[_T], name: str, values: Mapping[str, Any]) -> _T:
    section = values.get(name) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"recipe section {name!r} must be a mapping, got {section!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _check_keys(f"recipe section {name!r}", section, set(fields))
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in section.items():
        value = _to_tuples(value)
        hint = hints.get(key)
        if (hint is float and isinstance(value, int)) or (
            _is_optional_float(hint) and isinstance(value, int)
        ):
            value = float(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"recipe section {name!r}: {exc}") from None


def _is_optional_float(hint: Any) -> bool:
    args = typing.get_args(hint)
    return isinstance(hint, types.UnionType) and float in args


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    import yaml

    if path in seen:
        raise ConfigError(f"recipe {path} includes itself through 'base'")
    if not path.is_file():
        raise ConfigError(f"recipe not found: {path}")
    with open(path, encoding="utf-8") as f:
        values = yaml.safe_load(f) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"recipe {path} must be a YAML mapping")
    base = values.pop("base", None)
    if base is None:
        return values
    return _merge(_load_yaml((path.parent / str(base)).resolve(), (*seen, path)), values)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a YAML recipe (following ``base`` overlays) into a :class:`Recipe`.

    Raises:
        ConfigError: missing file, unknown key, bad value.
    """
    recipe = Recipe.from_dict(_load_yaml(Path(path).resolve()))
    _check_lr(recipe.optim.lr)
    return recipe


def _check_lr(lr: float) -> None:
    if not math.isfinite(lr) or lr <= 0:
        raise ConfigError(f"optim.lr must be positive, got {lr}")
