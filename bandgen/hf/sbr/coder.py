"""``--hf sbr``: the HE-AAC-style SBR high-band coder (ISO/IEC 14496-3, 4.6.18), DSP only."""

from __future__ import annotations

from typing import Any

import numpy as np

from bandgen.errors import BitstreamError, ConfigError
from bandgen.hf.base import HighBandCoder, HighBandDecoder, HighBandEncoder
from bandgen.hf.sbr.bitstream.frame import DeltaState, read_frame
from bandgen.hf.sbr.decoder import FRAME_LENGTH, SbrDecoder
from bandgen.hf.sbr.encoder import SbrEncoder
from bandgen.hf.sbr.tables import FULL_BAND_STOP, MODES, SIDE_BPS, BandTables, band_tables

MIN_SBR_BANDS = 4
"""A start band moved up to the core's cut-off stays at least this many QMF bands below the stop."""

# Side-info rates of the streams that name no stop band (the original ranges).  12 and 16:
# the mean measured by scripts/eval_sbr.py over the 24 dev clips (2.11 kbps at both).
_NOMINAL_BPS = {12: 2150.0, 16: 2150.0, 24: 2400.0, 32: 2600.0}

CORE_CUTOFF_HZ = {12: 8000.0, 16: 8000.0, 24: 12000.0, 32: 12000.0}
"""Highest core band per mode: a core that could code more (Opus picks super-wideband from
about 13 kbps, full band from 16) is held to this by its own bandwidth control and SBR
regenerates the rest, instead of the core spending bits on a band SBR replaces."""


class SbrCoder(HighBandCoder):
    """Classic SBR: envelope + noise floor + inverse filtering + sinusoid flags per 2048 samples.

    Args:
        mode_kbps: total codec rate the SBR range is tuned for: 12 (4125-10875 Hz),
            16 (4125-12000 Hz), 24 (4500-13875 Hz) or 32 (4875-15750 Hz).
        amp_res_db: envelope quantiser step, 3.0 or 1.5 dB (bs_amp_res); FIXFIX frames with
            one envelope always use 1.5 dB, as in the standard.
        start_band, stop_band: override the mode's QMF start ``k0`` / stop ``k2`` band
            (375 Hz each), e.g. to match a core with another cut-off.
    """

    name = "sbr"

    def __init__(
        self,
        mode_kbps: int = 12,
        amp_res_db: float = 3.0,
        start_band: int | None = None,
        stop_band: int | None = None,
    ) -> None:
        if mode_kbps not in MODES:
            raise ConfigError(f"unknown SBR mode {mode_kbps} kbps; choose one of {sorted(MODES)}")
        if amp_res_db not in (1.5, 3.0):
            raise ConfigError(f"SBR amp_res_db must be 1.5 or 3.0, got {amp_res_db}")
        k0, k2 = MODES[mode_kbps]
        self.mode_kbps = mode_kbps
        self.amp_res_db = float(amp_res_db)
        self.start_band = start_band
        self.stop_band = stop_band
        self.tables: BandTables = band_tables(start_band or k0, stop_band or k2)

    @classmethod
    def for_bitrate(
        cls, bitrate_kbps: float, *, core_cutoff_hz: float | None = None, **options: Any
    ) -> SbrCoder:
        """The SBR mode nearest to ``bitrate_kbps`` (12, 16, 24, 32), starting where the core stops.

        The stop band is the mode's full-band one (:data:`FULL_BAND_STOP`).  The start is
        the last QMF band (375 Hz) the core still covers: below the mode's ``k0`` (an 8 kHz
        AAC core ends at 4000 Hz, under k0 = 11, i.e. 4125 Hz) it would leave a notch, above
        it (an Opus core coded to 8 kHz) SBR would replace a band the core paid for.
        ``options`` override the choice.
        """
        mode = min(MODES, key=lambda m: abs(m - bitrate_kbps))
        options.setdefault("mode_kbps", mode)
        known = options["mode_kbps"] in MODES
        if known:
            options.setdefault("stop_band", FULL_BAND_STOP[options["mode_kbps"]])
        if core_cutoff_hz is not None and options.get("start_band") is None and known:
            k0 = MODES[options["mode_kbps"]][0]
            stop = options["stop_band"] or MODES[options["mode_kbps"]][1]
            last_covered = min(int(core_cutoff_hz // 375.0), stop - MIN_SBR_BANDS)
            if last_covered != k0:
                options["start_band"] = last_covered
        return cls(**options)

    @property
    def max_core_cutoff_hz(self) -> float:
        """The highest band the core should code below this mode (:data:`CORE_CUTOFF_HZ`)."""
        return CORE_CUTOFF_HZ[self.mode_kbps]

    @property
    def frame_length(self) -> int:
        return FRAME_LENGTH

    @property
    def bitrate(self) -> float:
        """Expected side-info rate, bit/s: the mode's measured one, in proportion to the
        share of the mode's bands coded (an Opus core coded to 8 or 12 kHz leaves 60 % or
        44 % of them).  On the 24 dev clips the Opus core's ranges sent 0.61, 0.64 and 0.40
        of the AAC core's full ranges at 12, 16 and 24 kbps (shares 0.60, 0.68, 0.44); the
        earlier estimate, 30 % fixed and 70 % in proportion, left 0.2-0.5 kbps unspent."""
        if self.stop_band != FULL_BAND_STOP[self.mode_kbps]:
            return _NOMINAL_BPS[self.mode_kbps]
        full = FULL_BAND_STOP[self.mode_kbps] - MODES[self.mode_kbps][0]
        share = min(1.0, (self.tables.k2 - self.tables.kx) / full)
        return SIDE_BPS[self.mode_kbps] * share

    @property
    def crossover_hz(self) -> float:
        """Lowest regenerated frequency (375 Hz x ``kx``)."""
        return 375.0 * self.tables.kx

    @property
    def stop_hz(self) -> float:
        """Top of the regenerated band (375 Hz x ``k2``)."""
        return 375.0 * self.tables.k2

    def config(self) -> dict[str, Any]:
        return {
            "mode_kbps": self.mode_kbps,
            "amp_res_db": self.amp_res_db,
            "start_band": self.start_band,
            "stop_band": self.stop_band,
        }

    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        wav48 = np.asarray(wav48, np.float64).reshape(-1)
        core = np.asarray(core_wav48, np.float64).reshape(-1)
        if core.shape != wav48.shape:
            raise ConfigError(
                f"SBR encode needs core and original of equal length, got {core.shape} vs {wav48.shape}"
            )
        return SbrEncoder(self.tables, self.amp_res_db).encode(wav48, core)

    def independent(self, payload: bytes) -> bool:
        """A payload whose envelopes and noise floors start frequency-delta coded.

        The encoder writes one at least every :data:`~bandgen.hf.sbr.encoder.REFRESH_FRAMES`.
        """
        try:
            read_frame(payload, self.tables, DeltaState(), self.amp_res_db)
        except BitstreamError:
            return False
        return True

    def new_encoder(self) -> HighBandEncoder:
        return SbrEncoder(self.tables, self.amp_res_db)

    def new_decoder(self) -> HighBandDecoder:
        return SbrDecoder(self.tables, self.amp_res_db)
