"""bandgen: coding and regeneration of the high band of audio.

The public API (``load``, which builds whatever a name names: a codec or a shipped model of
any family; ``load_codec``, ``encode``, ``decode``, ``encode_file``, ``decode_file``, ``info``,
``load_restorer``, ``restore_file``, ``load_extender``, ``extend_file``) lives in :mod:`bandgen.api` and is imported lazily, so
``import bandgen`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "decode",
    "decode_file",
    "encode",
    "encode_file",
    "extend_file",
    "info",
    "load",
    "load_codec",
    "load_extender",
    "load_restorer",
    "restore_file",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bandgen import api

        return getattr(api, name)
    raise AttributeError(f"module 'bandgen' has no attribute {name!r}")
