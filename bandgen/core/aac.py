"""AAC-LC core over FFmpeg's native ``aac`` encoder (DESIGN.md, "Core-codec facts").

Packets are raw AAC access units (no ADTS header); the decoder gets the 2-byte
MPEG-4 AudioSpecificConfig (AAC-LC, mono, sampling-frequency index), which is
derived from the sample rate alone, so :class:`CoreParams` is all it needs.

Delay: FFmpeg's AAC encoder primes with one frame (1024 samples) and its decoder
adds none, so the decoder drops the first 1024 output samples.

Mode table (measured with ``scripts/measure_core.py`` on the 24 dev clips, mono):
with its automatic low-pass FFmpeg 8's encoder codes only up to about 3.1 kHz at
8-13 kbps, below the n-SBG crossover (3.75 kHz, PQMF band 5), so the low-pass is
set to 4 kHz for targets up to 16 kbps.  With that band fixed, a higher sample rate
only raises the payload floor (about 8.3 kbps at 8 kHz, 9.4 at 12 kHz, 10.2 at
16 kHz, 12.8 at 24 kHz, 16-17 at 48 kHz), so these rows run at 8 kHz, which
carries exactly the 0-4 kHz band.  The encoder overshoots low targets (its payload
does not fall below the floor, and noisy speech costs more than music), hence a
request below the target at every row up to 32 kbps; at 8 kbps it sits at the floor.
From 24 kbps the encoder's own bandwidth choice (8 and 12 kHz) is kept.
"""

from __future__ import annotations

from bandgen.errors import ConfigError

from .base import CoreParams
from .modes import CoreMode, ModeTable
from .pyav_core import PyAVCore

AAC_FRAME_LENGTH = 1024
"""Samples per AAC-LC access unit."""

AAC_DELAY = 1024
"""Encoder priming of FFmpeg's AAC encoder, samples (the decoder adds no delay)."""

_SAMPLING_FREQUENCY_INDEX = {
    96000: 0,
    88200: 1,
    64000: 2,
    48000: 3,
    44100: 4,
    32000: 5,
    24000: 6,
    22050: 7,
    16000: 8,
    12000: 9,
    11025: 10,
    8000: 11,
}
"""ISO/IEC 14496-3 sampling-frequency index of each AAC sample rate."""

_AOT_AAC_LC = 2
_MONO = 1

_TWOLOOP = {"aac_coder": "twoloop"}

AAC_MODES = ModeTable(
    codec="aac",
    modes=(
        CoreMode(8.0, 8000, 4000, 5.0, _TWOLOOP),
        CoreMode(9.4, 8000, 4000, 7.0, _TWOLOOP),
        CoreMode(12.0, 8000, 4000, 10.0, _TWOLOOP),
        CoreMode(13.0, 8000, 4000, 11.0, _TWOLOOP),
        CoreMode(16.0, 8000, 4000, 14.0, _TWOLOOP),
        CoreMode(24.0, 24000, 8000, 20.0, _TWOLOOP),
        CoreMode(32.0, 32000, 12000, 28.0, _TWOLOOP),
        CoreMode(48.0, 48000, 15000, 48.0, _TWOLOOP),
        CoreMode(64.0, 48000, 16000, 64.0, _TWOLOOP),
    ),
    min_kbps=8.0,
    max_kbps=128.0,
)

AAC_SPLIT_MODES = ModeTable(
    codec="aac",
    modes=tuple(
        CoreMode(24.0, 16000, 4500, 20.0, _TWOLOOP) if m.target_kbps == 24.0 else m
        for m in AAC_MODES.modes
    ),
    min_kbps=AAC_MODES.min_kbps,
    max_kbps=AAC_MODES.max_kbps,
)
"""The rows under a regenerated high band: at 24 kbps the core codes 0-4.5 kHz at 16 kHz
instead of 0-8 kHz at 24 kHz, and SBR starts at 4.5 kHz.  Chosen on 9 clips of the
training corpus's valid split (music, sound, speech; ``bandgen eval`` with ViSQOL and mel
distance, ``--codecs sbr:24``): mel 0.933 -> 0.836 (each category better), ViSQOL 4.257 ->
4.229; 0-4 kHz at 8 kHz kept ViSQOL (4.257) but made speech's mel worse (0.965 -> 1.059),
0-4.5 kHz at 12 kHz gave 0.849 / 4.230.  At 32 kbps every narrower core tried (0-5 or
0-6 kHz at 12 or 16 kHz) lowered mel (0.827 -> 0.71-0.73) but cost 0.17-0.29 ViSQOL, so
that row stays; at 12 and 16 kbps a 12 or 16 kHz core was worse on both."""


def audio_specific_config(sample_rate: int) -> bytes:
    """The 2-byte AudioSpecificConfig of mono AAC-LC at ``sample_rate`` Hz.

    Layout (ISO/IEC 14496-3, 1.6.2.1): object type (5 bits), sampling-frequency index
    (4 bits), channel configuration (4 bits), GASpecificConfig (3 zero bits).
    """
    try:
        index = _SAMPLING_FREQUENCY_INDEX[sample_rate]
    except KeyError as exc:
        raise ConfigError(f"AAC has no {sample_rate} Hz sample rate") from exc
    value = (_AOT_AAC_LC << 11) | (index << 7) | (_MONO << 3)
    return value.to_bytes(2, "big")


class AacCore(PyAVCore):
    """Mono AAC-LC core codec (FFmpeg native encoder and decoder).

    Args:
        params: codec parameters with ``name == "aac"``; build them with
            :meth:`for_bitrate` (or :func:`bandgen.core.make_core`).
    """

    codec_name = "aac"
    encoder_name = "aac"
    decoder_name = "aac"
    sample_format = "fltp"
    sample_rates = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
    rate_control = True
    table = AAC_MODES
    split_table = AAC_SPLIT_MODES

    @property
    def frame_length(self) -> int:
        """Samples per packet: 1024."""
        return AAC_FRAME_LENGTH

    @property
    def delay(self) -> int:
        """Codec delay: 1024 samples of encoder priming."""
        return AAC_DELAY

    def extradata(self) -> bytes:
        """AudioSpecificConfig for the decoder, from :attr:`sample_rate`."""
        return audio_specific_config(self.sample_rate)

    def check_params(self, params: CoreParams) -> None:
        """Reject coders FFmpeg does not know before an encoder is opened."""
        coder = params.options.get("aac_coder", "twoloop")
        if coder not in ("twoloop", "fast", "anmr"):
            raise ConfigError(f"unknown aac_coder {coder!r}; use twoloop or fast")
