"""Objective quality metrics.

``peaq`` is imported eagerly (numpy only): the function shares its name with the subpackage
:mod:`bandgen.metrics.peaq`, and binding it here keeps ``bandgen.metrics.peaq`` the function
whatever is imported later. Other metrics load on first use: add ``name -> module`` to
``_LAZY`` to export one.
"""

from __future__ import annotations

import importlib
from typing import Any

from bandgen.metrics.peaq import PeaqResult, peaq

_LAZY: dict[str, str] = {}

__all__ = ["PeaqResult", "peaq", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bandgen.metrics' has no attribute {name!r}")


# signal-level metrics (numpy only) and wrappers of external perceptual metrics
_LAZY.update(
    {
        **dict.fromkeys(
            ("lsd", "si_sdr", "snr", "mel_distance", "mrstft_distance"), "bandgen.metrics.basic"
        ),
        **dict.fromkeys(("visqol", "pesq_wb", "stoi"), "bandgen.metrics.external"),
    }
)
__all__ += [name for name in _LAZY if name not in __all__]
