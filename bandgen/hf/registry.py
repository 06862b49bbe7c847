"""Registry of high-band methods, so new methods plug in without touching the container or CLI.

A method registers a builder ``(core: CoreCodec | None, **options) -> HighBandCoder`` used by
the encoder, and the same builder rebuilds the coder from the header's ``config()`` when
decoding.  Registration is lazy: the registry stores import paths, so importing bandgen
does not import torch models.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from bandgen.errors import ConfigError
from bandgen.hf.base import HighBandCoder

_BUILDERS: dict[str, str] = {
    "none": "bandgen.hf.none:NoneCoder",
    "sbr": "bandgen.hf.sbr:SbrCoder",
}


def register(name: str, target: str) -> None:
    """Register method ``name`` as ``"module.path:Callable"`` returning a :class:`HighBandCoder`."""
    _BUILDERS[name] = target


def available() -> list[str]:
    """Names of the registered high-band methods."""
    return sorted(_BUILDERS)


def build(name: str, **config: Any) -> HighBandCoder:
    """Build the high-band coder ``name`` with keyword ``config`` (as from ``coder.config()``)."""
    try:
        target = _BUILDERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown high-band method {name!r}; choose one of: {', '.join(available())}"
        ) from None
    module_name, attr = target.split(":")
    factory: Callable[..., HighBandCoder] = getattr(importlib.import_module(module_name), attr)
    try:
        return factory(**config)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for high-band method {name!r}: {exc}") from None
