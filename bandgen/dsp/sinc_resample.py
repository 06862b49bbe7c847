"""Integer-factor resampling in torch with one fixed Kaiser-windowed sinc filter.

HP-codec (paper ``004``) moves between its 48 kHz and 16 kHz branches inside the model (the
16 kHz input is the 48 kHz one decimated by 3; the 48 kHz branch codes the input minus the
16 kHz reconstruction interpolated by 3), so the model runs, and back-propagates, without soxr.
The filter is a zero-phase low-pass at ``rolloff`` times the low rate's Nyquist frequency, as a
non-persistent buffer: decimation is a strided convolution with it, interpolation a transposed
one (a polyphase filter either way: no product with the inserted zeros is computed). Signals
are zero-padded at their ends, so the first and last ``half_width`` low-rate samples see a
transient.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SincResampler"]


class SincResampler(nn.Module):
    """Decimate or interpolate by an integer ``factor`` (module docstring).

    Args:
        factor: rate ratio (3: 48 kHz <-> 16 kHz).
        half_width: filter half-length in low-rate samples (taps ``2 factor half_width + 1``).
        rolloff: cut-off as a fraction of the low rate's Nyquist frequency.
        beta: Kaiser window parameter (stop-band attenuation, ~80 dB at 8).

    Shape:
        ``down``: ``wav [..., T] -> [..., ceil(T / factor)]``;
        ``up``: ``wav [..., M] -> [..., M factor]``.
    """

    taps: Tensor

    def __init__(
        self, factor: int = 3, *, half_width: int = 64, rolloff: float = 0.96, beta: float = 8.0
    ) -> None:
        super().__init__()
        self.factor = factor
        self.center = factor * half_width
        n = np.arange(-self.center, self.center + 1, dtype=np.float64)
        cutoff = rolloff / factor  # in cycles per half high-rate sample (Nyquist = 1)
        taps = cutoff * np.sinc(cutoff * n) * np.kaiser(n.size, beta)
        taps /= taps.sum()  # unit gain at DC
        self.register_buffer(
            "taps", torch.tensor(taps, dtype=torch.float32).view(1, 1, -1), persistent=False
        )

    def down(self, wav: Tensor) -> Tensor:
        """Low-pass, keep every ``factor``-th sample (module docstring)."""
        lead, length = wav.shape[:-1], wav.shape[-1]
        flat = wav.reshape(-1, 1, length)
        out = F.conv1d(flat, self.taps.to(wav.dtype), stride=self.factor, padding=self.center)
        return out.reshape(*lead, out.shape[-1])

    def up(self, wav: Tensor) -> Tensor:
        """Insert ``factor - 1`` zeros after each sample and low-pass (gain ``factor``)."""
        lead, length = wav.shape[:-1], wav.shape[-1]
        flat = wav.reshape(-1, 1, length)
        out = F.conv_transpose1d(
            flat,
            self.taps.to(wav.dtype) * self.factor,
            stride=self.factor,
            padding=self.center,
            output_padding=self.factor - 1,
        )
        return out.reshape(*lead, out.shape[-1])
