"""Training recipes: YAML files mapped 1:1 onto frozen dataclasses, one format for every family.

A recipe names its model family in ``model.kind`` (:mod:`bandgen.families`; a recipe without
it is an n-SBG one, as every recipe from before the families) and maps its sections onto the
family's recipe dataclass (a :class:`BaseRecipe`) through :mod:`bandgen.config`, so an unknown
key anywhere is a :class:`~bandgen.errors.ConfigError` naming it::

    base: nsbg_12k.yaml          # optional: a recipe this one overlays (path relative to this file)
    model: {kind: nsbg, preset: cpu_12k, channels: 16}   # the family's config: preset + fields
    data: {...}                  # DataConfig (every family)
    schedule: {...}              # ScheduleConfig (every family)
    optim: {...}                 # the family's sections: n-SBG's in
    loss: {...}                  #   :mod:`bandgen.train.nsbg_recipe`, MP3 restoration's in
    discriminator: {...}         #   :mod:`bandgen.train.restore_recipe`

Overlays merge mappings key by key (DAC style), so ``nsbg_12k_cpu.yaml`` only states what
differs from ``nsbg_12k.yaml``; a section is laid over the recipe class's default for it.
Relative data paths are relative to the working directory. :func:`load_recipe` reads any
family's recipe; ``SomeRecipe.load(path)`` reads one family's and refuses the others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from bandgen import families
from bandgen.config import Config, from_dict, to_dict
from bandgen.errors import ConfigError

__all__ = [
    "BaseRecipe",
    "DataConfig",
    "ScheduleConfig",
    "load_recipe",
    "recipe_kind",
]

R = TypeVar("R", bound="BaseRecipe")


@dataclass(frozen=True)
class DataConfig(Config):
    """Where the data is and how segments are drawn (HP §1.5: batch 16, 45056 samples).

    Attributes:
        corpus_dir: training corpus folder (``make_train_corpus.py`` output or any audio folder).
        cache_root: core-coded cache folder (``scripts/build_cache.py``); made on first use.
        core: core codec name.
        core_kbps: core payload target per channel (n-SBG: see
            :data:`~bandgen.train.nsbg_recipe.CORE_KBPS`).
        core_rate: force the core's sampling rate, Hz (``None``: the rate's mode table); the
            ``bandlimit`` core of blind extension takes its band from it (16000: up to 8 kHz).
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
    core_rate: int | None = None
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
class ScheduleConfig(Config):
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
        init_only: with ``init_from``, copy only the tensors whose name (``<module>/<key>``,
            e.g. ``model/low.``) starts with one of these; the others keep their fresh
            initialisation (``None``: all). HP-codec's phase 2 takes the trained 16 kHz branch
            from phase 1 and starts its 48 kHz branch afresh.
        max_minutes: stop (with a checkpoint) after this much wall time in one ``fit`` call
            (``None``: no limit); equal-time A/B runs and session-bound CPU training use it.
        precision: ``fp32``, or ``bf16``: forward passes and losses under bfloat16 autocast
            (weights, gradients and optimiser state stay float32; for GPUs, see
            :mod:`bandgen.train.steps`).
    """

    steps: int = 1_000_000
    log_every: int = 100
    val_every: int = 5_000
    ckpt_every: int = 1_000
    seed: int = 0
    init_from: str | None = None
    init_only: tuple[str, ...] | None = None
    max_minutes: float | None = None
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.init_only is not None and self.init_from is None:
            raise ConfigError("schedule.init_only needs schedule.init_from")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"schedule.precision must be fp32 or bf16, got {self.precision!r}")


class BaseRecipe(Config):
    """Mixin of every family's recipe dataclass (a frozen dataclass whose ``model`` field is
    the family's config and whose other fields are sections).

    ``model`` may hold ``kind`` (must be :attr:`kind`) and ``preset`` (one of the family's
    presets, :attr:`bandgen.families.Family.presets`), whose config the other ``model`` keys
    override. :meth:`to_dict` writes ``kind`` so that a saved recipe names its family.
    """

    kind: ClassVar[str]
    """The family (:attr:`bandgen.families.Family.name`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict that :meth:`from_dict` maps back to an equal recipe."""
        values = to_dict(self)
        values["model"] = {"kind": self.kind, **values["model"]}
        return values

    @classmethod
    def from_dict(cls: type[R], values: Mapping[str, Any], *, where: str = "recipe") -> R:
        """Build from a (merged) recipe mapping; unknown keys, another family's ``kind`` or an
        unknown preset are a :class:`ConfigError`."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {values!r}")
        model = values.get("model") or {}
        if not isinstance(model, Mapping):
            raise ConfigError(f"{where}.model must be a mapping, got {model!r}")
        model = dict(model)
        kind = model.pop("kind", cls.kind)
        if kind != cls.kind:
            raise ConfigError(
                f"{where}.model.kind is {kind!r}, not {cls.kind!r}; load it with load_recipe"
            )
        preset = model.pop("preset", None)
        if preset is not None:
            try:
                model = {**to_dict(families.get(cls.kind).preset(preset)), **model}
            except ConfigError as exc:
                raise ConfigError(f"{where}.model.preset: {exc}") from None
        return from_dict(cls, {**values, "model": model}, where=where)

    @classmethod
    def load(cls: type[R], path: str | os.PathLike[str]) -> R:
        """Read a YAML recipe of this family (following ``base`` overlays).

        Raises:
            ConfigError: missing file, another family's recipe, unknown key, bad value.
        """
        return cls.from_dict(_load_yaml(Path(path).resolve()))


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


def _kind(values: Mapping[str, Any]) -> str:
    model = values.get("model")
    kind = model.get("kind", families.DEFAULT_KIND) if isinstance(model, Mapping) else None
    return str(kind or families.DEFAULT_KIND)


def recipe_kind(path: str | os.PathLike[str]) -> str:
    """``model.kind`` of a YAML recipe after its ``base`` overlays (``"nsbg"`` if absent)."""
    return _kind(_load_yaml(Path(path).resolve()))


def load_recipe(path: str | os.PathLike[str]) -> BaseRecipe:
    """Read a YAML recipe of any family (following ``base`` overlays): the family's recipe
    dataclass, picked by ``model.kind`` through :mod:`bandgen.families`.

    Raises:
        ConfigError: missing file, unknown kind, unknown key, bad value.
    """
    values = _load_yaml(Path(path).resolve())
    recipe: BaseRecipe = families.get(_kind(values)).recipe_class().from_dict(values)
    return recipe
