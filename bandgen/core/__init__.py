"""Core codecs: AAC-LC, Opus and MP3 over PyAV, coding the low band sample-aligned.

``make_core(name, bitrate_kbps)`` picks the measured operating point for a target
payload rate; ``core_from_params(params)`` rebuilds a codec from a file header.
"""

from __future__ import annotations

from .aac import AacCore
from .align import find_lag
from .base import CoreCodec, CoreDecoder, CoreEncoder, CoreParams
from .factory import CORE_NAMES, core_from_params, make_core
from .mp3 import Mp3Core
from .opus import OpusCore

__all__ = [
    "CORE_NAMES",
    "AacCore",
    "CoreCodec",
    "CoreDecoder",
    "CoreEncoder",
    "CoreParams",
    "Mp3Core",
    "OpusCore",
    "core_from_params",
    "find_lag",
    "make_core",
]
