"""Operating points of the core codecs: sample rate, low-pass and encoder request per bitrate.

FFmpeg's encoders do not deliver the bitrate they are asked for at low rates (the
native AAC encoder has a payload floor, libopus VBR undershoots), so each codec
keeps a table of :class:`CoreMode` rows measured on the dev clips with
``scripts/measure_core.py``: for a target payload rate, the codec sample rate, the
encoder low-pass and the nominal bitrate to ask of the encoder so that the
*measured* payload (sum of packet bytes) lands within 10 % of the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bandgen.errors import ConfigError


@dataclass(frozen=True)
class CoreMode:
    """One measured operating point of a core codec.

    Attributes:
        target_kbps: payload rate per channel this row was measured for, kbit/s.
        sample_rate: codec sampling rate in Hz.
        cutoff_hz: encoder low-pass in Hz (passed to the encoder, reported as ``cutoff_hz``).
        request_kbps: nominal bitrate asked of the encoder, kbit/s.
        options: other encoder AVOptions (strings).
    """

    target_kbps: float
    sample_rate: int
    cutoff_hz: int
    request_kbps: float
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModeTable:
    """The operating points of one codec and the range of targets they cover.

    Attributes:
        codec: codec name, for error messages.
        modes: rows sorted by ``target_kbps``.
        min_kbps: lowest reachable target (the measured payload floor, within 10 %).
        max_kbps: highest target accepted.
    """

    codec: str
    modes: Sequence[CoreMode]
    min_kbps: float
    max_kbps: float

    def pick(self, bitrate_kbps: float) -> tuple[CoreMode, int]:
        """The row nearest to ``bitrate_kbps`` (log scale) and the request in bit/s.

        Between rows the request scales with the target: ``request = row.request_kbps *
        bitrate_kbps / row.target_kbps``.

        Raises:
            ConfigError: if the target is outside ``[min_kbps, max_kbps]``.
        """
        if not math.isfinite(bitrate_kbps) or not (self.min_kbps <= bitrate_kbps <= self.max_kbps):
            raise ConfigError(
                f"{self.codec} core cannot reach {bitrate_kbps} kbps per channel: its measured "
                f"payload stays within 10 % of the target only from {self.min_kbps:g} to "
                f"{self.max_kbps:g} kbps; pick a bitrate in that range or another core "
                "(see scripts/measure_core.py)"
            )
        mode = min(self.modes, key=lambda m: abs(math.log(bitrate_kbps / m.target_kbps)))
        request_kbps = mode.request_kbps * bitrate_kbps / mode.target_kbps
        return mode, round(request_kbps * 1000)


def check_sample_rate(codec: str, sample_rate: int, allowed: Sequence[int]) -> int:
    """Return ``sample_rate`` if the codec supports it, else raise :class:`ConfigError`."""
    if sample_rate not in allowed:
        raise ConfigError(
            f"{codec} core does not support a {sample_rate} Hz sample rate; "
            f"use one of {', '.join(str(r) for r in allowed)}"
        )
    return sample_rate
