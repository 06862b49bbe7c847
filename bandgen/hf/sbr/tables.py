"""SBR frequency band tables at 48 kHz (ISO/IEC 14496-3, 4.6.18.3.2 and 4.6.18.6.3).

All tables are lists of QMF band borders (64 bands of 375 Hz).  Derived, as the standard
prescribes, from the start band ``k0`` and stop band ``k2``:

- master table (bs_freq_scale = 2, i.e. 10 bands per octave, bs_alter_scale = 1: the
  standard's header defaults), one or two geometric regions;
- high-resolution envelope table = master table (bs_xover_band = 0), low-resolution table =
  every other border;
- noise-floor table with ``max(1, round(bs_noise_bands log2(k2 / kx)))`` bands
  (bs_noise_bands = 2);
- the patches that copy low QMF bands upward (HF generator, 4.6.18.6.3);
- limiter bands, 2 per octave (bs_limiter_bands = 2), patch borders kept.

Modes (start/stop Hz = 375 x band): 12 kbps 4125-10875 (k0 11, k2 29) and 16 kbps 4125-12000
(11, 32) from FDK's tuning at 48 kHz mono (HYPERPARAMETERS §1.6); 24 kbps 4500-13875 (12, 37)
and 32 kbps 4875-15750 (13, 42) continue FDK's trend (start freq index +1, stop freq index +2
per step) while keeping the 12 -> 16 kbps ratio of SBR range to core band.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

from bandgen.audio import WORK_RATE
from bandgen.errors import ConfigError

NUM_QMF = 64
QMF_BAND_HZ = 375.0
MODES: dict[int, tuple[int, int]] = {12: (11, 29), 16: (11, 32), 24: (12, 37), 32: (13, 42)}
"""Side-info mode (kbps of the whole codec) -> (k0 start band, k2 stop band) of streams whose
header names no stop band (bandgen before the full-band modes)."""
FULL_BAND_STOP: dict[int, int] = {12: 36, 16: 42, 24: 48, 32: 54}
"""Stop band ``k2`` new streams use per mode: 13.5, 15.75, 18.0 and 20.25 kHz, above
HE-AAC v1's bandwidth at each rate (about 12, 13.8 and 16.2 kHz at 12/16/24 kbps on the dev
set).  The stream header names its stop band, so older streams (12.0 and 14.25 kHz at 12 and
16) decode as before.  On six dev clips the band above 12 kHz was where the 12 kbps mode lost
mel distance to HE-AAC (per-region ``mel_12_16k`` 0.390 against 0.338); 13.5 kHz at 12 kbps
took the mode's mel from 1.774 to 1.628 and 15.75 kHz at 16 kbps from 1.373 to 1.247 for
0.2 kbps more side info, which the core below 4 kHz pays for (``mel_0_4k`` +0.01)."""
SIDE_BPS: dict[int, float] = {12: 2050.0, 16: 2250.0, 24: 2450.0, 32: 2700.0}
"""Side-info rate of each mode with its :data:`FULL_BAND_STOP`, bit/s, used to budget the core:
at 12 and 16 the mean payload of three dev clips (speech, music, sound; AAC core) with the
noise-floor coding of :mod:`bandgen.hf.sbr.encoder` (1.97 and 2.15 kbps), rounded up; at 24
the mean over 9 clips of the training corpus's valid split with the AAC core coding 0-4.5
kHz (2.37 kbps, :data:`bandgen.core.aac.AAC_SPLIT_MODES`), rounded up; 32 keeps its earlier
figure."""
LIMITER_BANDS_PER_OCTAVE = 2.0
NOISE_BANDS_PER_OCTAVE = 2.0
BANDS_PER_OCTAVE = 10  # bs_freq_scale = 2
ALTER_WARP = 1.3  # bs_alter_scale = 1


@dataclass(frozen=True)
class BandTables:
    """Every band table of one SBR configuration.

    Attributes:
        k0, k2: first and one-past-last QMF band of the master table.
        master: master table borders ``[N_master + 1]``.
        high, low: high / low resolution envelope borders (index 1 / 0 by ``freq_res``).
        noise: noise-floor band borders ``[NQ + 1]``.
        limiter: limiter band borders.
        patches: ``(source_start, target_start, num_bands)`` per patch.
    """

    k0: int
    k2: int
    master: tuple[int, ...]
    high: tuple[int, ...]
    low: tuple[int, ...]
    noise: tuple[int, ...]
    limiter: tuple[int, ...]
    patches: tuple[tuple[int, int, int], ...]

    @property
    def kx(self) -> int:
        """First SBR (regenerated) QMF band."""
        return self.high[0]

    @property
    def num_sbr_bands(self) -> int:
        """``M = k2 - kx`` regenerated QMF bands."""
        return self.high[-1] - self.high[0]

    def envelope(self, freq_res: int) -> tuple[int, ...]:
        """Borders of the envelope table of resolution ``freq_res`` (0 low, 1 high)."""
        return self.high if freq_res else self.low


def _geometric_steps(start: int, stop: int, num_bands: int) -> list[int]:
    """Sorted band widths of ``num_bands`` geometric bands from ``start`` to ``stop``."""
    borders = [round(start * (stop / start) ** (i / num_bands)) for i in range(num_bands + 1)]
    return sorted(b - a for a, b in itertools.pairwise(borders))


def master_table(k0: int, k2: int) -> tuple[int, ...]:
    """Master frequency table for bs_freq_scale > 0 (4.6.18.3.2.1).

    One geometric region of 10 bands/octave when ``k2 / k0 <= 2.2449``, else the first octave
    ``[k0, 2 k0)`` plus a second region with bands warped wider by 1.3; the second region's
    narrowest band is widened to at least the first region's widest.
    """
    two_regions = k2 / k0 > 2.2449
    k1 = 2 * k0 if two_regions else k2
    num0 = 2 * round(BANDS_PER_OCTAVE * math.log2(k1 / k0) / 2)
    steps0 = _geometric_steps(k0, k1, num0)
    while num0 > 2 and steps0[0] == 0:
        # a low start (k0 < 11 at 10 bands/octave) rounds some bands to zero width:
        # fall back to fewer, wider bands, as a coarser bs_freq_scale would
        num0 -= 2
        steps0 = _geometric_steps(k0, k1, num0)
    borders = [k0]
    for step in steps0:
        borders.append(borders[-1] + step)
    if two_regions:
        num1 = 2 * round(BANDS_PER_OCTAVE * math.log2(k2 / k1) / (2 * ALTER_WARP))
        steps1 = _geometric_steps(k1, k2, num1)
        if steps1[0] < steps0[-1]:
            change = steps0[-1] - steps1[0]
            steps1[0] += change
            steps1[-1] -= change
            steps1.sort()
        for step in steps1:
            borders.append(borders[-1] + step)
    if any(b <= a for a, b in itertools.pairwise(borders)):
        raise ConfigError(f"SBR bands k0={k0}, k2={k2} give an empty master band; widen the range")
    return tuple(borders)


def low_table(high: tuple[int, ...]) -> tuple[int, ...]:
    """Low-resolution table: every other high-resolution border, first and last kept."""
    n_high = len(high) - 1
    odd = n_high % 2
    return (high[0], *tuple(high[2 * i - odd] for i in range(1, (n_high + odd) // 2 + 1)))


def noise_table(low: tuple[int, ...], k2: int) -> tuple[int, ...]:
    """Noise-floor band borders picked from the low-resolution table (4.6.18.3.2.3)."""
    kx, n_low = low[0], len(low) - 1
    num = max(1, round(NOISE_BANDS_PER_OCTAVE * math.log2(k2 / kx)))
    num = min(num, n_low)
    idx, borders = 0, [low[0]]
    for k in range(1, num + 1):
        idx += (n_low - idx) // (num + 1 - k)
        borders.append(low[idx])
    return tuple(borders)


def patches(master: tuple[int, ...], kx: int, k0: int) -> tuple[tuple[int, int, int], ...]:
    """Patch construction of the HF generator (4.6.18.6.3).

    Each patch copies QMF bands from just below ``k0`` (never band 0) upward so that it ends
    on a master-table border, keeps the copied bands' parity (``odd``) so that the complex QMF
    spectrum is translated, not mirrored, and at most ``k0 - 1`` bands wide; patches are
    chained from ``kx`` until the stop band.  A last patch narrower than 3 bands is dropped
    (those bands are then filled by the noise floor only), as the standard does.
    """
    top = len(master) - 1
    goal = round(2.048e6 / WORK_RATE)
    k = top if goal >= master[-1] else next(i for i, b in enumerate(master) if b >= goal)
    result: list[tuple[int, int, int]] = []
    usb = msb = kx
    for _ in range(4 * len(master)):
        j = k
        while True:
            border = master[j]
            odd = (border - 2 + k0) % 2
            if border <= k0 - 1 + msb - odd or j == 0:
                break
            j -= 1
        width = max(border - usb, 0)
        if width > 0:
            result.append((k0 - odd - width, usb, width))
            usb = msb = border
        else:
            msb = kx
        if master[k] - border < 3:
            k = top
        if border == master[-1]:
            break
    else:
        raise ConfigError(f"SBR patch construction does not converge for k0={k0}, kx={kx}")
    if len(result) > 1 and result[-1][2] < 3:
        result.pop()
    return tuple(result)


def limiter_table(
    low: tuple[int, ...], patch_list: tuple[tuple[int, int, int], ...]
) -> tuple[int, ...]:
    """Limiter bands (4.6.18.3.2.4): low table + patch borders, merged to 2 bands/octave.

    A border closer than ~half a limiter band to its lower neighbour is removed; a patch
    border is kept in preference to a table border.
    """
    patch_borders = {t for _, t, _ in patch_list} | {patch_list[-1][1] + patch_list[-1][2]}
    borders = sorted(set(low) | patch_borders)
    i = 1
    while i < len(borders):
        octaves = math.log2(borders[i] / borders[i - 1])
        if octaves * LIMITER_BANDS_PER_OCTAVE >= 0.49:
            i += 1
            continue
        if borders[i] in patch_borders:
            if borders[i - 1] in patch_borders or i - 1 == 0:
                i += 1
                continue
            del borders[i - 1]
        else:
            del borders[i]
    return tuple(borders)


@functools.cache
def band_tables(k0: int, k2: int) -> BandTables:
    """All tables for start band ``k0`` and stop band ``k2`` (1 <= k0 < k2 <= 64)."""
    if not 3 <= k0 < k2 <= NUM_QMF or k2 - k0 > 48:
        raise ConfigError(f"SBR band range k0={k0}, k2={k2} invalid; need 3 <= k0 < k2 <= 64")
    try:
        master = master_table(k0, k2)
    except ZeroDivisionError:  # fewer than one geometric band between k0 and k2
        raise ConfigError(f"SBR band range k0={k0}, k2={k2} is too narrow for a table") from None
    high = master
    low = low_table(high)
    patch_list = patches(master, high[0], k0)
    return BandTables(
        k0=k0,
        k2=k2,
        master=master,
        high=high,
        low=low,
        noise=noise_table(low, k2),
        limiter=limiter_table(low, patch_list),
        patches=patch_list,
    )


def mode_tables(mode_kbps: int) -> BandTables:
    """Tables of a side-info mode (12, 16, 24 or 32 kbps total rate)."""
    if mode_kbps not in MODES:
        raise ConfigError(f"unknown SBR mode {mode_kbps} kbps; choose one of {sorted(MODES)}")
    return band_tables(*MODES[mode_kbps])
