"""MP3 core over LAME (``libmp3lame`` encoder, FFmpeg's ``mp3float`` decoder).

Packets are whole MPEG audio frames with their headers (self-describing, bit
reservoir across packets), so the decoder needs nothing beyond the sample rate,
which every decoded frame is checked against.

Delay: LAME's encoder delay (576 samples) plus the MP3 decoder's (529 samples),
1105 samples at every sample rate; the decoder drops them.

Mode table (measured with ``scripts/measure_core.py`` on the 24 dev clips, mono):
below 32 kHz (MPEG-2 and 2.5) the CBR rates are 8, 16, 24, 32, 40 ... kbps and
FFmpeg rounds other requests down, so targets in between use LAME's ABR mode.  The
low-pass follows LAME's own choice at each rate (3 kHz at 8-9.4 kbps, 5.5 kHz at
12-16, 5.8 at 24, 7.25 at 32), set explicitly so ``cutoff_hz`` is the real band;
the sample rate is the lowest LAME rate dividing 48 kHz whose Nyquist clears it,
which is also LAME's own resampling choice at these rates.

The 20 kbps row (ABR, the band of the 24 kbps row) is where ``sbr`` at 24 kbps puts the
core; LAME's ABR at 16 kHz spends 0.98 of its request on average over the dev clips.
A CBR row only codes at a CBR rate: LAME takes the nearest one to the request (in whole
kbps), so a target between them (``sbr`` at 24 kbps leaves the core 20.9, which LAME coded
at 16: files 19-23 % under) is coded with ABR instead (:data:`CBR_TOLERANCE`).  LAME's ABR
lands within a few % of its request on average over the dev clips but spreads -15..+15 %
per file, and FFmpeg's LAME takes no new rate once opened, so the MP3 core cannot be steered
per file like the AAC core.
"""

from __future__ import annotations

from collections.abc import Mapping

from .modes import CoreMode, ModeTable
from .pyav_core import PyAVCore

CBR_KBPS_LOW = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
"""MPEG-2 and 2.5 layer III bit rates (sample rates below 32 kHz), kbit/s."""
CBR_KBPS_HIGH = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
"""MPEG-1 layer III bit rates (32 kHz and up), kbit/s."""
CBR_TOLERANCE = 0.035
"""A CBR row's request within this fraction of a CBR rate codes at that rate; else ABR."""

MP3_DELAY = 576 + 529
"""LAME encoder delay plus MP3 decoder delay, samples."""

_CBR: dict[str, str] = {}
_ABR = {"abr": "1"}

MP3_MODES = ModeTable(
    codec="mp3",
    modes=(
        CoreMode(8.0, 8000, 3000, 8.0, _CBR),
        CoreMode(9.4, 8000, 3000, 9.4, _ABR),
        CoreMode(12.0, 12000, 5500, 12.0, _ABR),
        CoreMode(13.0, 12000, 5500, 13.0, _ABR),
        CoreMode(16.0, 12000, 5500, 16.0, _CBR),
        CoreMode(20.0, 16000, 5800, 20.4, _ABR),
        CoreMode(24.0, 16000, 5800, 24.0, _CBR),
        CoreMode(32.0, 16000, 7250, 32.0, _CBR),
        CoreMode(64.0, 24000, 11000, 64.0, _CBR),
    ),
    min_kbps=8.0,
    max_kbps=128.0,
)


class Mp3Core(PyAVCore):
    """Mono MP3 core codec (LAME encoder, FFmpeg float decoder).

    Args:
        params: codec parameters with ``name == "mp3"``; build them with
            :meth:`for_bitrate` (or :func:`bandgen.core.make_core`).
    """

    codec_name = "mp3"
    encoder_name = "libmp3lame"
    decoder_name = "mp3float"
    sample_format = "fltp"
    sample_rates = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
    table = MP3_MODES
    two_pass = True

    @classmethod
    def mode_options(
        cls, options: Mapping[str, str], request: int, sample_rate: int
    ) -> dict[str, str]:
        """A CBR row's options, or ABR where the request is not within
        :data:`CBR_TOLERANCE` of a CBR rate."""
        if "abr" in options:
            return dict(options)
        grid = CBR_KBPS_HIGH if sample_rate >= 32000 else CBR_KBPS_LOW
        nearest = min(grid, key=lambda kbps: abs(1000 * kbps - request))
        if abs(request / (1000 * nearest) - 1) <= CBR_TOLERANCE:
            return dict(options)
        return {**options, **_ABR}

    @property
    def frame_length(self) -> int:
        """Samples per packet: 1152 (MPEG-1, from 32 kHz) or 576 (MPEG-2/2.5, below)."""
        return 1152 if self.sample_rate >= 32000 else 576

    @property
    def delay(self) -> int:
        """Codec delay: 1105 samples (LAME 576 + decoder 529)."""
        return MP3_DELAY
