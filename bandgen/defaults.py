"""What bandgen codes when the caller names neither a core nor a high-band method.

Each bitrate gets the mode that measured best there (ViSQOL audio mode and mel distance, the
24 dev clips, README "Default mode per bitrate"):

- from 11.1 kbps per channel (the lowest rate n-SBG's AAC core and side info fit in) to below
  :data:`OPUS_FROM_KBPS`: the AAC core with the n-SBG high band (at 12 kbps ViSQOL 3.55 / mel
  1.28 against 2.39 / 1.89 for Opus alone in the container and 3.37 / 1.51 for SBR);
- from :data:`OPUS_FROM_KBPS` up, and below 11.1: Opus coding the whole band, no high band
  (at 16 kbps 4.17 / 1.00 against 3.72 / 1.17 for AAC + SBR; below 11.1 kbps Opus is the only
  core that codes at all).

A caller who names one of the two gets what it named, and for the other what it got before
the table existed: the AAC core for a named method, :data:`~bandgen.hf.registry.DEFAULT_HF`
(``none`` for a full-band neural core) for a named core.
"""

from __future__ import annotations

from dataclasses import dataclass

from bandgen.header import FULL_BAND_CORES
from bandgen.hf.registry import DEFAULT_HF

__all__ = [
    "DEFAULT_MODES",
    "NSBG_FROM_KBPS",
    "OPUS_FROM_KBPS",
    "DefaultMode",
    "default_mode",
    "resolve_mode",
]

NAMED_METHOD_CORE = "aac"
"""The core of a caller who names a high-band method and no core."""

NSBG_FROM_KBPS = 11.1
"""Lowest total rate per channel at which the AAC core and n-SBG's side info fit."""

OPUS_FROM_KBPS = 16.0
"""Rate per channel from which Opus alone beats the AAC core with n-SBG.  On 9 clips of the
training corpus's valid split (ViSQOL / mel): at 13, 14 and 15 kbps libopus at CBR still
codes wideband (2.41 / 1.95 at 15 against n-SBG's 3.62 / 1.19); at 16 it codes full band
(4.21 / 0.98 against 3.64 / 1.15)."""


@dataclass(frozen=True)
class DefaultMode:
    """One row of the default-mode table: from ``from_kbps`` per channel up to the next row.

    Attributes:
        from_kbps: lowest total rate per channel of the row, kbit/s.
        core: core codec name.
        hf: high-band method name.
    """

    from_kbps: float
    core: str
    hf: str


DEFAULT_MODES: tuple[DefaultMode, ...] = (
    DefaultMode(0.0, "opus", "none"),
    DefaultMode(NSBG_FROM_KBPS, "aac", "nsbg"),
    DefaultMode(OPUS_FROM_KBPS, "opus", "none"),
)
"""Rows by rising ``from_kbps``."""


def default_mode(bitrate_kbps: float) -> DefaultMode:
    """The row of :data:`DEFAULT_MODES` that covers ``bitrate_kbps`` per channel."""
    chosen = DEFAULT_MODES[0]
    for mode in DEFAULT_MODES:
        if bitrate_kbps >= mode.from_kbps:
            chosen = mode
    return chosen


def resolve_mode(
    core: str | None, hf: str | None, bitrate_kbps: float, *, method_options: bool = False
) -> tuple[str, str]:
    """``(core, hf)`` to code at ``bitrate_kbps``: what the caller named, the rest filled in.

    Neither named: the default mode of the rate, unless ``method_options`` (the caller gave
    options of a high-band method: weights, a model, a side-info cap), which name
    :data:`~bandgen.hf.registry.DEFAULT_HF` on the AAC core.  Only ``hf``: the AAC core.
    Only ``core``: :data:`~bandgen.hf.registry.DEFAULT_HF`, or ``none`` for a full-band
    neural core.
    """
    if core is None and hf is None and method_options:
        hf = DEFAULT_HF
    if core is None and hf is None:
        mode = default_mode(bitrate_kbps)
        return mode.core, mode.hf
    if core is None:
        return NAMED_METHOD_CORE, str(hf)
    if hf is None:
        return core, "none" if core in FULL_BAND_CORES else DEFAULT_HF
    return core, hf
