"""Build core codecs by name and target bitrate, or back from stored :class:`CoreParams`."""

from __future__ import annotations

from bandgen.errors import ConfigError

from .aac import AacCore
from .bandlimit import BANDLIMIT, BandLimitCore
from .base import CoreCodec, CoreParams
from .mp3 import Mp3Core
from .opus import OpusCore
from .pyav_core import PyAVCore

_CORES: dict[str, type[PyAVCore]] = {"aac": AacCore, "opus": OpusCore, "mp3": Mp3Core}

CORE_NAMES: tuple[str, ...] = tuple(_CORES)
"""Names accepted by :func:`make_core`: ``("aac", "opus", "mp3")``."""


def _core_class(name: str) -> type[PyAVCore]:
    try:
        return _CORES[name]
    except KeyError as exc:
        raise ConfigError(
            f"unknown core codec {name!r}; choose one of {', '.join(CORE_NAMES)}"
        ) from exc


def make_core(
    name: str,
    bitrate_kbps: float,
    *,
    sample_rate: int | None = None,
    exact_rate: bool = False,
    max_cutoff_hz: float | None = None,
) -> CoreCodec:
    """A core codec whose measured payload is within 10 % of ``bitrate_kbps`` per channel.

    The sample rate, low-pass and encoder request come from the codec's measured
    mode table (``bandgen/core/{aac,opus,mp3}.py``, ``scripts/measure_core.py``).

    Args:
        name: ``"aac"``, ``"opus"`` or ``"mp3"``.
        bitrate_kbps: target payload rate per channel in kbit/s.
        sample_rate: force the codec sample rate in Hz (no rate guarantee then).
        exact_rate: code at exactly the target where the codec can (Opus CBR).
        max_cutoff_hz: code no band above this (a high-band method regenerates it).

    ``name`` may also be ``"bandlimit"`` (:mod:`bandgen.core.bandlimit`, training and
    evaluation only): the signal resampled to ``sample_rate`` (default 16 kHz), not coded;
    ``bitrate_kbps`` is ignored.

    Raises:
        ConfigError: unknown name, unreachable bitrate or unsupported sample rate.
    """
    if name == BANDLIMIT:
        return BandLimitCore.for_rate(sample_rate)
    return _core_class(name).for_bitrate(
        bitrate_kbps, sample_rate=sample_rate, exact_rate=exact_rate, max_cutoff_hz=max_cutoff_hz
    )


def core_kbps_range(name: str, *, exact_rate: bool = False) -> tuple[float, float]:
    """The lowest and highest payload rates per channel, kbit/s, the core ``name`` reaches.

    Raises:
        ConfigError: unknown name.
    """
    cls = _core_class(name)
    low = cls.table.min_kbps
    if exact_rate and cls.exact_options is not None and cls.exact_min_kbps is not None:
        low = cls.exact_min_kbps
    return low, cls.table.max_kbps


def core_from_params(params: CoreParams) -> CoreCodec:
    """Rebuild a core codec from the params stored in a ``.bgn`` header.

    Raises:
        ConfigError: unknown codec name or invalid params.
    """
    if params.name == BANDLIMIT:
        return BandLimitCore(params)
    return _core_class(params.name)(params)
