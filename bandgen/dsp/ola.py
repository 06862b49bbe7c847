"""Weighted overlap-add: the synthesis half of an STFT, whole-signal or streaming.

Frames (inverse FFTs of a spectrogram) are multiplied by the synthesis window, summed at hop
spacing, and divided by the summed squared window (the least-squares inverse of a windowed
STFT, Griffin & Lim 1984). Samples where that envelope vanishes come back as zeros.
:meth:`bandgen.dsp.stft.STFT.inverse` uses the whole-signal functions;
:class:`StreamingOverlapAdd` keeps the running sums for chunked inference (the MP3 restorer)
and gives the same samples to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ENVELOPE_FLOOR", "StreamingOverlapAdd", "normalize", "overlap_add", "window_envelope"]

ENVELOPE_FLOOR = 1e-11
"""Envelope values at or below this give a zero sample instead of a division."""


def overlap_add(frames: Tensor, *, hop_length: int, total: int) -> Tensor:
    """Sum ``frames [B, n_fft, N]`` at ``hop_length`` spacing into ``[B, total]``.

    ``total`` is at least ``n_fft + hop_length * (N - 1)``; frame ``n`` starts at sample
    ``n * hop_length``.
    """
    summed = F.fold(
        frames,
        output_size=(1, total),
        kernel_size=(1, frames.shape[-2]),
        stride=(1, hop_length),
    )
    return summed[:, 0, 0, :]


def window_envelope(window: Tensor, *, num_frames: int, hop_length: int) -> Tensor:
    """Summed squared ``window [n_fft]`` of ``num_frames`` frames: ``[1, total]``, with
    ``total = n_fft + hop_length * (num_frames - 1)``."""
    total = window.shape[0] + hop_length * (num_frames - 1)
    frames = window.square()[None, :, None].expand(1, -1, num_frames)
    return overlap_add(frames, hop_length=hop_length, total=total)


def normalize(summed: Tensor, envelope: Tensor) -> Tensor:
    """``summed / envelope`` where the envelope exceeds :data:`ENVELOPE_FLOOR`, else 0.

    Shape: ``summed [B, T]``, ``envelope`` broadcastable to it (``[1, T]`` or ``[T]``).
    """
    return torch.where(envelope > ENVELOPE_FLOOR, summed / envelope.clamp_min(ENVELOPE_FLOOR), 0.0)


class StreamingOverlapAdd:
    """Running weighted overlap-add of frames that arrive in order, with bounded memory.

    Positions are sample indices of the whole (padded) signal: frame ``n`` covers
    ``[n * hop_length, n * hop_length + n_fft)``. Frames are added in chunks with
    :meth:`add`; samples no later frame will reach are read with :meth:`read` and dropped with
    :meth:`discard`. Read samples equal :meth:`bandgen.dsp.stft.STFT.inverse` of all frames
    (before its centre trim) to float rounding.

    Args:
        window: synthesis window ``[n_fft]`` (converted to the frames' dtype).
        hop_length: frame hop in samples.
        channels: channels ``C`` of the frames.
        dtype: dtype of the running sums (and of what :meth:`read` returns).
    """

    def __init__(
        self,
        window: Tensor,
        *,
        hop_length: int,
        channels: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.window = window
        self.hop_length = hop_length
        self.position = 0
        """Position of the first sample still held."""
        self._summed = torch.zeros(channels, 0, dtype=dtype)
        self._envelope = torch.zeros(0, dtype=dtype)

    def add(self, frames: Tensor, first_frame: int) -> None:
        """Add unwindowed ``frames [C, n_fft, K]``, the first of which is frame ``first_frame``."""
        window = self.window.to(frames.dtype)
        count = frames.shape[-1]
        begin = first_frame * self.hop_length - self.position
        length = (count - 1) * self.hop_length + frames.shape[-2]
        end = begin + length
        if end > self._summed.shape[1]:
            grow = end - self._summed.shape[1]
            self._summed = torch.cat(
                [self._summed, self._summed.new_zeros(self._summed.shape[0], grow)], 1
            )
            self._envelope = torch.cat([self._envelope, self._envelope.new_zeros(grow)])
        windowed = overlap_add(frames * window[:, None], hop_length=self.hop_length, total=length)
        self._summed[:, begin:end] += windowed
        envelope = window_envelope(window, num_frames=count, hop_length=self.hop_length)
        self._envelope[begin:end] += envelope[0]

    def read(self, start: int, count: int) -> Tensor:
        """Normalised samples ``[C, count]`` from position ``start`` (``>= position``)."""
        lo = start - self.position
        summed = self._summed[:, lo : lo + count]
        return normalize(summed, self._envelope[lo : lo + count])

    def discard(self, until: int) -> None:
        """Drop every sample before position ``until``."""
        drop = until - self.position
        self._summed, self._envelope = self._summed[:, drop:], self._envelope[drop:]
        self.position += drop
