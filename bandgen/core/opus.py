"""Opus core over libopus (``libopus`` encoder and decoder in PyAV's FFmpeg).

Opus runs at 48 kHz here: FFmpeg's libopus decoder always outputs 48 kHz, and the
coded band is set by the encoder's maximum bandwidth instead (FFmpeg's ``cutoff``:
4000 narrowband, 6000 mediumband, 8000 wideband, 12000 super-wideband, 20000
fullband).  Packets are bare Opus packets (RFC 6716), self-describing, so the
decoder needs no extradata; its output is cut to the 20 ms frame each packet must
decode to, which also rejects most corrupt packets.

Delay: the encoder's pre-skip (libopus look-ahead, 6.5 ms = 312 samples at 48 kHz),
which the decoder drops.  The pre-skip aligns the CELT path exactly, but the SILK
path (speech, low rates) comes out a few samples off, by an amount that depends on
SILK's internal bandwidth and on the clip (cross-correlation lags on the 24 dev
clips with the bare pre-skip, 48 kHz samples: narrowband +2..+4, mediumband and
wideband -3..-1, super-wideband -3..0, fullband -2..0, CELT 0).  The decoder also
drops the most frequent offset of the mode's bandwidth (:data:`SILK_ALIGNMENT`)
below 40 kbps, where SILK is in use, so most clips come out at lag 0 and the rest
within one or two samples (a few tens of microseconds).

Guard: bandgen's streams code CBR, where libopus's SILK coder can blow up on fast sine
sweeps (a partial at full scale for a few hundred ms); every such stream is coded through
:class:`~bandgen.core.opus_guard.GuardedEncoder`, which replaces blown-up packets with
CELT-only ones.  The plain-Opus anchor (VBR) is left as libopus makes it.

Mode table (measured with ``scripts/measure_core.py`` on the 24 dev clips, VBR,
mono): the bandwidth follows libopus's own choice at each rate when left free
(narrowband at 8 kbps, wideband at 9.4-12, mostly super-wideband at 13, fullband
from 16), fixed so that ``cutoff_hz`` is the real coded band.  VBR undershoots the
target at 8-13 kbps and overshoots from 24, hence the requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from bandgen.errors import ConfigError

from .base import CoreEncoder, CoreParams
from .modes import CoreMode, ModeTable
from .pyav_core import PyAVCore

if TYPE_CHECKING:  # the engine imports PyAV: only coding needs it
    from .engine import PyAVEncoder

OPUS_SAMPLE_RATE = 48_000
"""The Opus core's sample rate in Hz."""

OPUS_FRAME_LENGTH = 960
"""Samples per packet: 20 ms at 48 kHz (FFmpeg's default frame duration)."""

OPUS_DELAY = 312
"""libopus pre-skip at 48 kHz, samples."""

OPUS_BANDWIDTHS_HZ = (4000, 6000, 8000, 12000, 20000)
"""Cutoffs libopus accepts: narrow, medium, wide, super-wide and full band."""

SILK_ALIGNMENT = {4000: 3, 6000: -2, 8000: -2, 12000: -2, 20000: 0}
"""Extra samples the decoder drops for the SILK path, by Opus bandwidth (cutoff) in Hz."""

LOWDELAY_DELAY = 120
"""libopus pre-skip at 48 kHz with ``application=lowdelay`` (CELT only), samples."""

SILK_MAX_BITRATE = 40_000
"""Target bitrate in bit/s from which the SILK alignment correction is no longer applied."""

_VBR = {"vbr": "on", "application": "audio"}

OPUS_CBR_MIN_KBPS = 6.0
"""Lowest CBR rate libopus codes (its own floor); bandgen streams use CBR (``exact_rate``)."""

OPUS_MODES = ModeTable(
    codec="opus",
    modes=(
        CoreMode(8.0, OPUS_SAMPLE_RATE, 4000, 9.5, _VBR),
        CoreMode(9.4, OPUS_SAMPLE_RATE, 8000, 10.4, _VBR),
        CoreMode(12.0, OPUS_SAMPLE_RATE, 8000, 13.5, _VBR),
        CoreMode(13.0, OPUS_SAMPLE_RATE, 12000, 13.8, _VBR),
        CoreMode(16.0, OPUS_SAMPLE_RATE, 20000, 16.0, _VBR),
        CoreMode(24.0, OPUS_SAMPLE_RATE, 20000, 22.0, _VBR),
        CoreMode(32.0, OPUS_SAMPLE_RATE, 20000, 29.5, _VBR),
        CoreMode(64.0, OPUS_SAMPLE_RATE, 20000, 55.0, _VBR),
    ),
    min_kbps=8.0,
    max_kbps=256.0,
)


class OpusCore(PyAVCore):
    """Mono Opus core codec at 48 kHz (libopus encoder and decoder).

    Args:
        params: codec parameters with ``name == "opus"``; build them with
            :meth:`for_bitrate` (or :func:`bandgen.core.make_core`).
    """

    codec_name = "opus"
    encoder_name = "libopus"
    decoder_name = "libopus"
    sample_format = "flt"
    sample_rates = (OPUS_SAMPLE_RATE,)
    table = OPUS_MODES
    exact_options: ClassVar[dict[str, str] | None] = {"vbr": "off"}
    exact_min_kbps = OPUS_CBR_MIN_KBPS

    @property
    def frame_length(self) -> int:
        """Samples per packet: 960 (20 ms)."""
        return OPUS_FRAME_LENGTH

    @property
    def delay(self) -> int:
        """Codec delay: the 312-sample pre-skip."""
        return OPUS_DELAY

    @property
    def alignment_delay(self) -> int:
        """Pre-skip plus the SILK offset of this mode's bandwidth (below 40 kbps)."""
        if self.bitrate >= SILK_MAX_BITRATE:
            return OPUS_DELAY
        return OPUS_DELAY + SILK_ALIGNMENT[round(self.cutoff_hz)]

    def new_encoder(
        self, *, target_bit_rate: int | None = None, rate_scale: float = 1.0
    ) -> CoreEncoder:
        """A fresh streaming encoder for one channel; a CBR one is guarded.

        CBR (``vbr=off``, the codec's exact rate) is coded through
        :class:`~bandgen.core.opus_guard.GuardedEncoder`, with a CELT-only fallback at the
        same rate whose input runs behind by the difference in pre-skip, so that its packets
        decode aligned like the primary's.  Args as :meth:`PyAVCore.new_encoder`.
        """
        if self.params.options.get("vbr") != "off":
            return super().new_encoder(target_bit_rate=target_bit_rate, rate_scale=rate_scale)
        from .engine import PyAVDecoder
        from .opus_guard import GuardedEncoder

        def primary() -> PyAVEncoder:
            return self._pyav_encoder(rate_scale)

        def fallback() -> PyAVEncoder:
            return self._pyav_encoder(
                rate_scale, options={"application": "lowdelay"}, delay=LOWDELAY_DELAY
            )

        def monitor() -> PyAVDecoder:
            return PyAVDecoder(
                self.decoder_name,
                sample_rate=self.sample_rate,
                frame_length=self.frame_length,
                delay=0,
                options=self.decoder_options(),
            )

        return GuardedEncoder(
            primary=primary,
            fallback=fallback,
            monitor=monitor,
            frame_length=self.frame_length,
            delay=OPUS_DELAY,
            fallback_lag=self.alignment_delay - LOWDELAY_DELAY,
        )

    def decoder_options(self) -> dict[str, str]:
        """Ask libopus for float output (it defaults to 16-bit)."""
        return {"request_sample_fmt": "flt"}

    @classmethod
    def cutoff_for(cls, cutoff_hz: int, sample_rate: int) -> int:
        """The widest Opus bandwidth not above ``cutoff_hz``."""
        return max(b for b in OPUS_BANDWIDTHS_HZ if b <= max(cutoff_hz, OPUS_BANDWIDTHS_HZ[0]))

    def check_params(self, params: CoreParams) -> None:
        """libopus only takes the five Opus bandwidths as cutoff."""
        if round(params.cutoff_hz) not in OPUS_BANDWIDTHS_HZ:
            raise ConfigError(
                f"opus cutoff must be one of {OPUS_BANDWIDTHS_HZ} Hz, got {params.cutoff_hz}"
            )
