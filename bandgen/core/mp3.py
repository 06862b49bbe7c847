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
"""

from __future__ import annotations

from .modes import CoreMode, ModeTable
from .pyav_core import PyAVCore

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

    @property
    def frame_length(self) -> int:
        """Samples per packet: 1152 (MPEG-1, from 32 kHz) or 576 (MPEG-2/2.5, below)."""
        return 1152 if self.sample_rate >= 32000 else 576

    @property
    def delay(self) -> int:
        """Codec delay: 1105 samples (LAME 576 + decoder 529)."""
        return MP3_DELAY
