"""Registry of high-band methods, so new methods plug in without touching the container or CLI.

A method registers its :class:`HighBandCoder` subclass; the encoder builds it with
``for_bitrate(total kbps, core_cutoff_hz=..., **options)`` and the decoder rebuilds it from
the header's ``config()``.  Registration is lazy: the registry stores import paths, so importing bandgen
does not import torch models.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bandgen.errors import ConfigError

if TYPE_CHECKING:  # the registry itself stays free of numpy (the CLI's --help lists methods)
    from bandgen.hf.base import HighBandCoder

DEFAULT_HF = "nsbg"
"""Method used when none is named: n-SBG with the shipped weights, which beats SBR on the dev
set at 12, 16 and 24 kbps (README). ``sbr`` needs no trained model and stays available."""

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


def _options(make: Callable[..., Any], cls: type[HighBandCoder]) -> set[str] | None:
    """Keyword options ``make`` accepts (following ``**options`` into ``cls``); None: any."""
    names: set[str] = set()
    for param in inspect.signature(make).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            if make is cls:
                return None
            inner = _options(cls, cls)
            if inner is None:
                return None
            names |= inner
        elif param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
            names.add(param.name)
    return names


def _call(
    name: str,
    cls: type[HighBandCoder],
    make: Callable[..., HighBandCoder],
    *args: Any,
    **kwargs: Any,
) -> HighBandCoder:
    accepted = _options(make, cls)
    unknown = sorted(set(kwargs) - accepted) if accepted is not None else []
    if unknown:
        hidden = {"self", "bitrate_kbps", "core_cutoff_hz", "sha256"}
        takes = ", ".join(sorted(accepted - hidden)) if accepted else "none"
        raise ConfigError(
            f"the {name!r} high-band method has no option "
            f"{', '.join(repr(u) for u in unknown)} (its options: {takes})"
        )
    try:
        return make(*args, **kwargs)
    except TypeError:
        raise ConfigError(
            f"bad option values for the {name!r} high-band method: {sorted(kwargs)}"
        ) from None


def build(name: str, **config: Any) -> HighBandCoder:
    """Build the high-band coder ``name`` with keyword ``config`` (as from ``coder.config()``)."""
    factory = _factory(name)
    return _call(name, factory, factory, **config)


def build_for_bitrate(
    name: str, bitrate_kbps: float, *, core_cutoff_hz: float | None = None, **options: Any
) -> HighBandCoder:
    """Build the coder ``name`` for a total rate per channel (see ``HighBandCoder.for_bitrate``)."""
    factory = _factory(name)
    return _call(
        name, factory, factory.for_bitrate, bitrate_kbps, core_cutoff_hz=core_cutoff_hz, **options
    )
