"""Discriminators for adversarial training (n-SBG paper ``000`` §3.3; HP §1.5).

:func:`build_discriminator` is the one place that reads a recipe's discriminator settings; the
classes take plain keyword arguments. Every discriminator maps ``wav [B, 1, T]`` to a
:class:`~bandgen.discriminators.base.DiscriminatorOutput`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bandgen.discriminators.base import DiscriminatorOutput, MultiDiscriminator
from bandgen.discriminators.mbstft import BANDS_12K, BANDS_16K, MultiBandSTFTDiscriminator
from bandgen.discriminators.mpd import MultiPeriodDiscriminator
from bandgen.errors import ConfigError

__all__ = [
    "BANDS_12K",
    "BANDS_16K",
    "DISCRIMINATOR_KINDS",
    "DiscriminatorOutput",
    "MultiBandSTFTDiscriminator",
    "MultiDiscriminator",
    "MultiPeriodDiscriminator",
    "build_discriminator",
]

DISCRIMINATOR_KINDS = ("mpd", "mbstft")
"""Names a ``kind`` string may join with ``+`` (n-SBG: ``"mpd+mbstft"``)."""

_MPD_CHANNELS = 24
_MBSTFT_CHANNELS = 32


def _scaled(channels: int, scale: float) -> int:
    return max(1, round(channels * scale))


def build_discriminator(
    kind: str = "mpd+mbstft",
    *,
    bands: Sequence[tuple[float, float]] = BANDS_12K,
    scale: float = 1.0,
) -> MultiDiscriminator:
    """Build the discriminator named by ``kind`` (HP §1.5).

    Args:
        kind: ``"mpd"``, ``"mbstft"`` or both joined by ``+`` (n-SBG: ``"mpd+mbstft"``, 8
            sub-discriminators).
        bands: MB-STFT band split as bin fractions (:data:`BANDS_12K` or :data:`BANDS_16K`).
        scale: channel multiplier (1.0 = paper size: MPD 24, MB-STFT 32 channels; e.g. 0.5 for
            a CPU size, 0.25 for the debug size).

    Returns:
        A :class:`MultiDiscriminator` whose output lists the MPD sub-discriminators first.
    """
    if scale <= 0:
        raise ConfigError(f"discriminator scale must be > 0, got {scale}")
    names = [name.strip() for name in kind.split("+")]
    unknown = [name for name in names if name not in DISCRIMINATOR_KINDS]
    if unknown or len(set(names)) != len(names):
        raise ConfigError(
            f"unknown or repeated discriminator kind {kind!r}; join some of "
            f"{DISCRIMINATOR_KINDS} with '+', e.g. 'mpd+mbstft'"
        )
    parts: list[MultiDiscriminator] = []
    for name in names:
        if name == "mpd":
            parts.append(MultiPeriodDiscriminator(channels=_scaled(_MPD_CHANNELS, scale)))
        else:
            parts.append(
                MultiBandSTFTDiscriminator(channels=_scaled(_MBSTFT_CHANNELS, scale), bands=bands)
            )
    return parts[0] if len(parts) == 1 else MultiDiscriminator(parts)
