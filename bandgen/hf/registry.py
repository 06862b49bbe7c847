"""Registry of high-band methods, so new methods plug in without touching the container or CLI.

A method registers its :class:`HighBandCoder` subclass; the encoder builds it with
``for_bitrate(total kbps, core_cutoff_hz=..., **options)`` and the decoder rebuilds it from
the header's ``config()``.  Registration is lazy: the registry stores import paths, so importing bandgen
does not import torch models.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from bandgen.errors import ConfigError
from bandgen.hf.base import HighBandCoder

DEFAULT_HF = "sbr"
"""Method used when none is named: the best one that needs no trained model.

n-SBG takes this place once shipped weights beat SBR on the dev set.
"""

_BUILDERS: dict[str, str] = {
    "none": "bandgen.hf.none:NoneCoder",
    "sbr": "bandgen.hf.sbr:SbrCoder",
    "nsbg": "bandgen.hf.nsbg:NsbgCoder",
    "blind": "bandgen.hf.nsbg:NsbgBlindCoder",
}


def register(name: str, target: str) -> None:
    """Register method ``name`` as ``"module.path:Callable"`` returning a :class:`HighBandCoder`."""
    _BUILDERS[name] = target


def available() -> list[str]:
    """Names of the registered high-band methods."""
    return sorted(_BUILDERS)


def _factory(name: str) -> type[HighBandCoder]:
    try:
        target = _BUILDERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown high-band method {name!r}; choose one of: {', '.join(available())}"
        ) from None
    module_name, attr = target.split(":")
    factory: type[HighBandCoder] = getattr(importlib.import_module(module_name), attr)
    return factory


def _call(
    name: str, make: Callable[..., HighBandCoder], *args: Any, **kwargs: Any
) -> HighBandCoder:
    try:
        return make(*args, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for high-band method {name!r}: {exc}") from None


def build(name: str, **config: Any) -> HighBandCoder:
    """Build the high-band coder ``name`` with keyword ``config`` (as from ``coder.config()``)."""
    return _call(name, _factory(name), **config)


def build_for_bitrate(
    name: str, bitrate_kbps: float, *, core_cutoff_hz: float | None = None, **options: Any
) -> HighBandCoder:
    """Build the coder ``name`` for a total rate per channel (see ``HighBandCoder.for_bitrate``)."""
    factory = _factory(name)
    return _call(name, factory.for_bitrate, bitrate_kbps, core_cutoff_hz=core_cutoff_hz, **options)
