"""The registry of model families: one entry per family names everything bandgen needs of it.

A *model family* (n-SBG with its blind variant, MP3 restoration, ...) is a config dataclass, a
model module, size presets, a recipe and a training task (trainer), and what
:func:`bandgen.load` makes of a shipped model. Every other part of bandgen reaches a family
through its :class:`Family` entry here:

- ``bandgen train RECIPE`` reads the recipe's ``model.kind`` and builds ``family.recipe`` and
  ``family.task`` (:func:`bandgen.train.recipe.load_recipe`, :mod:`bandgen.train.run`);
- the weight loader reads the weights JSON's ``model`` and builds ``family.model`` from
  ``family.config`` (:func:`bandgen.pretrained.registry.load_weights`);
- :func:`bandgen.load` hands a shipped model's name to ``family.loader``;
- ``bandgen models`` lists the shipped models with ``family.mode`` and their dev numbers.

Adding a family costs one :class:`Family` entry in :data:`FAMILIES`, a model module (config
dataclass + ``nn.Module`` built as ``Model(config)``) and a task module (recipe dataclass +
trainer). Entries name their parts by import string (``"module:attribute"``), resolved on first
use, so importing this module imports neither torch nor PyAV.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bandgen.errors import ConfigError

__all__ = [
    "DEFAULT_KIND",
    "FAMILIES",
    "Family",
    "get",
    "is_extension_model",
    "names",
    "register",
    "resolve",
]

DEFAULT_KIND = "nsbg"
"""Family of a recipe without ``model.kind`` and of weights whose JSON has no ``model`` (every
recipe and checkpoint from before families had names was an n-SBG one)."""


def resolve(target: str) -> Any:
    """The object an import string ``"package.module:attribute"`` names (imports the module)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _class(target: str) -> type[Any]:
    cls = resolve(target)
    if not isinstance(cls, type):
        raise TypeError(f"{target} is not a class")
    return cls


def _kbps(info: Mapping[str, Any]) -> str:
    kbps = info.get("bitrate_kbps")
    return f"{float(kbps):g} kbps" if isinstance(kbps, (int, float)) else "?"


def _default_mode(info: Mapping[str, Any]) -> str:
    return _kbps(info)


def _default_card_row(info: Mapping[str, Any]) -> str:
    return str(info.get("name", ""))


@dataclass(frozen=True)
class Family:
    """One model family (module docstring).

    Attributes:
        name: the family's ``kind``: ``model.kind`` of its recipes, ``model`` of its weights JSON.
        title: human name (``"n-SBG / Blind SBG"``).
        config: import string of the frozen config dataclass (a :class:`bandgen.config.Config`).
        model: import string of the ``nn.Module`` class, built as ``Model(config)``.
        presets: size presets: names of classmethods of the config class taking no argument
            (``model.preset`` of a recipe).
        recipe: import string of the recipe dataclass (a
            :class:`bandgen.train.recipe.BaseRecipe`).
        task: import string of the trainer class, built as ``task(recipe, out_dir, resume=,
            progress=, resume_half=, resume_omit=)`` and run by ``fit()``; the families fed by
            the core-coded cache share :class:`bandgen.train.base.BaseTrainer`.
        loader: import string of ``f(name, **options)``: what :func:`bandgen.load` returns for a
            shipped model of this family (a codec, a restorer, ...).
        mode: ``f(info) -> str``: the use of a shipped model in a few words, from its JSON
            description (``bandgen models``).
        card_row: ``f(info) -> str``: the codec column of the model's own row in the "all"
            dev table of its model card.
    """

    name: str
    title: str
    config: str
    model: str
    presets: tuple[str, ...]
    recipe: str
    task: str
    loader: str
    mode: Callable[[Mapping[str, Any]], str] = _default_mode
    card_row: Callable[[Mapping[str, Any]], str] = _default_card_row

    def config_class(self) -> type[Any]:
        """The config dataclass."""
        return _class(self.config)

    def model_class(self) -> type[Any]:
        """The model class (imports torch)."""
        return _class(self.model)

    def recipe_class(self) -> type[Any]:
        """The recipe dataclass."""
        return _class(self.recipe)

    def task_class(self) -> type[Any]:
        """The trainer class (imports torch and the training stack)."""
        return _class(self.task)

    def preset(self, name: str) -> Any:
        """The config of size preset ``name``.

        Raises:
            ConfigError: ``name`` is not one of :attr:`presets`.
        """
        if name not in self.presets:
            raise ConfigError(
                f"{self.name} has no preset {name!r}; presets: {', '.join(self.presets)}"
            )
        return getattr(self.config_class(), name)()

    def load(self, name: str, **options: Any) -> Any:
        """What :func:`bandgen.load` returns for the shipped model ``name`` (see :attr:`loader`)."""
        return resolve(self.loader)(name, **options)


def _nsbg_method(info: Mapping[str, Any]) -> str:
    config = info.get("config") or {}
    return "blind" if config.get("blind") else "nsbg"


def is_extension_model(info: Mapping[str, Any]) -> bool:
    """Whether a model serves ``bandgen extend``: HP-codecX, or an n-SBG (blind) model
    trained on the band-limit core. HP-codec is trained on that core's pairs too, but is a
    codec (``--core hpcodec``)."""
    kind = info.get("model", "nsbg")
    if kind == "hpcodecx":
        return True
    return kind == "nsbg" and (info.get("core") or {}).get("name") == "bandlimit"


def _nsbg_mode(info: Mapping[str, Any]) -> str:
    if is_extension_model(info):
        rate = (info.get("core") or {}).get("sample_rate", 16000)
        return f"extend --method {_nsbg_method(info)}, {rate / 2000:g} kHz input band"
    return f"--hf {_nsbg_method(info)}, {_kbps(info)}"


def _nsbg_row(info: Mapping[str, Any]) -> str:
    if is_extension_model(info):
        return _nsbg_method(info)
    kbps = info.get("bitrate_kbps")
    return f"{_nsbg_method(info)}:{float(kbps):g}" if isinstance(kbps, (int, float)) else ""


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="nsbg",
            title="n-SBG / Blind SBG (paper 000)",
            config="bandgen.models.config:NSBGConfig",
            model="bandgen.models.nsbg:NSBG",
            presets=(
                "paper_12k",
                "paper_16k",
                "cpu_12k",
                "cpu_16k",
                "cpu_patch_12k",
                "cpu_patch_16k",
                "cpu_patch_24k",
                "debug",
            ),
            recipe="bandgen.train.nsbg_recipe:NSBGRecipe",
            task="bandgen.train.trainer:NSBGTrainer",
            loader="bandgen.api:load_codec_model",
            mode=_nsbg_mode,
            card_row=_nsbg_row,
        ),
        Family(
            name="mp3restore",
            title="MP3 restoration (paper 002)",
            config="bandgen.models.mp3restore:MP3RestoreConfig",
            model="bandgen.models.mp3restore:MP3Restore",
            presets=("paper", "cpu", "debug"),
            recipe="bandgen.train.restore_recipe:RestoreRecipe",
            task="bandgen.train.restore_trainer:RestoreTrainer",
            loader="bandgen.api:load_restorer",
            mode=lambda info: f"restore, mp3 at {_kbps(info)}",
            card_row=lambda info: "restore",
        ),
        Family(
            name="spectrostream",
            title="SpectroStream (paper 003)",
            config="bandgen.models.spectrostream:SpectroStreamConfig",
            model="bandgen.models.spectrostream:SpectroStream",
            presets=("paper", "cpu", "debug"),
            recipe="bandgen.train.spectro_trainer:SpectroRecipe",
            task="bandgen.train.spectro_trainer:SpectroTrainer",
            loader="bandgen.spectro_codec:load_spectro_codec",
            mode=lambda info: "--core spectrostream, full band, 0.25-16 kbps per channel pair",
            card_row=lambda info: "spectrostream",
        ),
        Family(
            name="hpcodec",
            title="HP-codec (paper 004)",
            config="bandgen.models.hpcodec:HPCodecConfig",
            model="bandgen.models.hpcodec:HPCodec",
            presets=("paper", "cpu", "debug"),
            recipe="bandgen.train.hpcodec_recipe:HPCodecRecipe",
            task="bandgen.train.hpcodec_trainer:HPCodecTrainer",
            loader="bandgen.hp_codec:load_hp_codec",
            mode=lambda info: "--core hpcodec, full band, 6 or 12 kbps per channel",
            card_row=lambda info: "hpcodec12",
        ),
        Family(
            name="hpcodecx",
            title="HP-codecX (paper 004)",
            config="bandgen.models.hpcodecx:HPCodecXConfig",
            model="bandgen.models.hpcodecx:HPCodecX",
            presets=("paper", "cpu", "debug"),
            recipe="bandgen.train.hpcodecx_trainer:HPCodecXRecipe",
            task="bandgen.train.hpcodecx_trainer:HPCodecXTrainer",
            loader="bandgen.extend:load_hpcodecx",
            mode=lambda info: "extend --method hpcodecx, 16 -> 48 kHz",
            card_row=lambda info: "hpcodecx",
        ),
    )
}
"""Every model family bandgen knows, by :attr:`Family.name`."""


def names() -> list[str]:
    """Names (kinds) of the registered families."""
    return sorted(FAMILIES)


def get(kind: str) -> Family:
    """The family named ``kind``.

    Raises:
        ConfigError: no such family.
    """
    try:
        return FAMILIES[kind]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown model kind {kind!r}; known kinds: {', '.join(names())}"
        ) from None


def register(family: Family) -> None:
    """Add (or replace) a family, e.g. from a plug-in or a test."""
    FAMILIES[family.name] = family
