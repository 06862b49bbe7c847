"""2-D convolutions over ``[B, C, N, F]`` spectrogram features, causal in time (SpectroStream).

Time is the third axis (frames ``N``), frequency the last (bins ``F``). Every convolution is
*semicausal* in time (paper ``003``, HP §2): a kernel of ``k_t`` frames with stride ``s_t``
is padded by ``k_t - s_t`` frames on the left only, so output frame ``n`` sees input frames up
to ``n * s_t + s_t - 1`` (the current stride block, nothing later). Frequency padding is
symmetric. Transposed convolutions mirror this (the surplus is cut on the right in time).

Each layer reports its :attr:`time_context` (past frames it reads, at its input rate), so a
network's receptive field is summed from its layers (:func:`past_context`), never counted by
hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ResidualDown2d",
    "ResidualUp2d",
    "SemicausalConv2d",
    "SemicausalConvTranspose2d",
    "past_context",
]


class SemicausalConv2d(nn.Module):
    """``Conv2d`` with left-only time padding and symmetric frequency padding.

    Args:
        in_channels, out_channels: channel counts.
        kernel: ``(k_t, k_f)``.
        stride: ``(s_t, s_f)``; ``k_t >= s_t`` and ``k_f >= s_f``.

    Shape: ``[B, C_in, N, F] -> [B, C_out, N / s_t, F / s_f]`` (``N``, ``F`` divisible).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride)
        pad_f = kernel[1] - stride[1]
        self.padding = (pad_f // 2, pad_f - pad_f // 2, kernel[0] - stride[0], 0)
        self.time_context = kernel[0] - stride[0]
        self.time_stride = stride[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, self.padding))


class SemicausalConvTranspose2d(nn.Module):
    """``ConvTranspose2d`` upsampling by ``(s_t, s_f)``, its time surplus cut on the right.

    Shape: ``[B, C_in, N, F] -> [B, C_out, N * s_t, F * s_f]``. Output frame ``m`` depends on
    input frames ``floor(m / s_t) - ceil((k_t - s_t) / s_t)`` .. ``floor(m / s_t)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        stride: tuple[int, int],
    ) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel, stride)
        self.stride = stride
        self.trim_f = kernel[1] - stride[1]
        self.time_context = -(-(kernel[0] - stride[0]) // stride[0])
        self.time_stride = 1
        self.time_up = stride[0]

    def forward(self, x: Tensor) -> Tensor:
        frames, bins = x.shape[-2] * self.stride[0], x.shape[-1] * self.stride[1]
        y = self.conv(x)
        left = self.trim_f // 2
        return y[..., :frames, left : left + bins]


def _kernel(stride: int) -> int:
    return max(3, 2 * stride)


class ResidualDown2d(nn.Module):
    """Pre-activated residual unit with a strided output conv (SpectroStream encoder, HP §2).

    ``ELU -> 3x3 conv (C_in) -> ELU -> strided conv (kernel max(3, 2s)) -> C_out``, plus a
    shortcut: average pooling by the stride (time-causal: the current block) and a 1x1 conv
    where the channel count changes.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.inner = SemicausalConv2d(in_channels, in_channels, (3, 3))
        self.down = SemicausalConv2d(
            in_channels, out_channels, (_kernel(stride[0]), _kernel(stride[1])), stride
        )
        self.stride = stride
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.time_context = self.inner.time_context + self.down.time_context
        self.time_stride = stride[0]

    def forward(self, x: Tensor) -> Tensor:
        y = self.down(F.elu(self.inner(F.elu(x))))
        shortcut = F.avg_pool2d(x, self.stride) if self.stride != (1, 1) else x
        if self.skip is not None:
            shortcut = self.skip(shortcut)
        return y + shortcut


class ResidualUp2d(nn.Module):
    """Mirror of :class:`ResidualDown2d`: transposed strided conv, then a 3x3 conv.

    ``ELU -> transposed conv (stride s) -> C_out -> ELU -> 3x3 conv``, plus a shortcut that
    repeats each frame/bin ``s`` times and a 1x1 conv where the channel count changes.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.up = SemicausalConvTranspose2d(
            in_channels, out_channels, (_kernel(stride[0]), _kernel(stride[1])), stride
        )
        self.inner = SemicausalConv2d(out_channels, out_channels, (3, 3))
        self.stride = stride
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        # at the input rate: the transposed conv's context, then the 3x3's (in output frames)
        self.time_context = self.up.time_context + -(-self.inner.time_context // stride[0])
        self.time_stride = 1
        self.time_up = stride[0]

    def forward(self, x: Tensor) -> Tensor:
        y = self.inner(F.elu(self.up(F.elu(x))))
        shortcut = x if self.skip is None else self.skip(x)
        if self.stride != (1, 1):
            shortcut = shortcut.repeat_interleave(self.stride[0], dim=-2)
            shortcut = shortcut.repeat_interleave(self.stride[1], dim=-1)
        return y + shortcut


def past_context(layers: Iterable[nn.Module]) -> int:
    """Past input frames that a chain of layers reads for one output (its causal reach).

    ``layers`` in data-flow order, each with ``time_context`` (past frames at its own input
    rate), ``time_stride`` (downsampling) and optionally ``time_up`` (upsampling). A layer's
    context is converted to frames of the chain's input by the rate changes before it; the
    sum is rounded up. Layers without ``time_context`` (1x1, pointwise) add nothing.
    """
    total, scale = Fraction(0), Fraction(1)
    for layer in layers:
        if not hasattr(layer, "time_context"):
            continue
        context: int = getattr(layer, "time_context")  # noqa: B009 (modules type it loosely)
        stride: int = getattr(layer, "time_stride", 1)
        up: int = getattr(layer, "time_up", 1)
        total += context * scale
        scale *= Fraction(stride, up)
    return math.ceil(total)
