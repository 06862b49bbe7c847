"""Causal, weight-normalised convolutions (n-SBG paper ``000`` §3.1-3.2; HP §1.2 and §1.4).

Every convolution of the n-SBG encoder and decoder is causal in time: the input is padded on the
left only, by ``(kernel - 1) * dilation`` samples, so output sample ``t`` depends on input samples
``<= t`` (for a strided conv, output ``t`` sees inputs up to ``t * stride + stride - 1``, the last
sample of its own hop). Transposed convolutions are made causal by cropping the ``kernel - stride``
trailing samples, which only hold partial sums that later input would complete.

The 2-D convolutions of the SBG encoder act on ``[B, C, F, N]`` maps (frequency, then time): time
is padded causally, frequency symmetrically ("same"-style, so a frequency stride ``s`` divides the
number of bins by ``s``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = [
    "CausalConv1d",
    "CausalConv2d",
    "CausalConvTranspose1d",
]


class CausalConv1d(nn.Module):
    """Weight-normed ``Conv1d`` with left (causal) padding: ``x [B, C_in, T] -> [B, C_out, T']``.

    ``T' = ceil(T / stride)`` whenever ``kernel_size >= stride``; for the n-SBG strided blocks
    (``kernel_size = 2 * stride``) and ``T`` a multiple of ``stride``, ``T' = T / stride`` exactly.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        kernel_size: taps in time.
        stride: time stride (downsampling factor).
        dilation: spacing between taps.
        bias: add a learned bias.
        norm: wrap the conv in weight normalisation (HP §1.4: every conv is weight-normed).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        bias: bool = True,
        norm: bool = True,
    ) -> None:
        super().__init__()
        conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, bias=bias
        )
        self.conv = weight_norm(conv) if norm else conv
        self.stride = stride
        # Pad so that the first output sees exactly one hop of real input, and the output length
        # is ceil(T / stride): (kernel - 1) * dilation - (stride - 1) zeros on the left.
        self.left_pad = max((kernel_size - 1) * dilation - (stride - 1), 0)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, T] -> [B, C_out, ceil(T / stride)]``, causal in time."""
        tail = -x.shape[-1] % self.stride
        return self.conv(F.pad(x, (self.left_pad, tail)))


class CausalConvTranspose1d(nn.Module):
    """Weight-normed ``ConvTranspose1d`` cropped on the right: ``[B, C_in, T] -> [B, C_out, T*s]``.

    The full transposed convolution has ``(T - 1) * stride + kernel_size`` samples; the last
    ``kernel_size - stride`` are incomplete (they would also receive the next, future input frame),
    so they are dropped. Output sample ``t`` then depends only on inputs ``<= t // stride``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        bias: bool = True,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size < stride:
            raise ValueError(f"kernel_size {kernel_size} must be >= stride {stride}")
        conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride, bias=bias)
        self.conv = weight_norm(conv) if norm else conv
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, T] -> [B, C_out, T * stride]``, causal in time."""
        return self.conv(x)[..., : x.shape[-1] * self.stride]


class CausalConv2d(nn.Module):
    """Weight-normed ``Conv2d`` on ``[B, C, F, N]``: causal in time ``N``, symmetric in freq ``F``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: ``(k_freq, k_time)`` or one int for both.
        stride: ``(s_freq, s_time)`` or one int; n-SBG only strides in frequency (HP §1.2).
        bias: add a learned bias (the SBG encoder uses none).
        norm: wrap the conv in weight normalisation.

    Shape:
        ``x [B, C_in, F, N] -> [B, C_out, ceil(F / s_freq), ceil(N / s_time)]`` for odd ``k_freq``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        bias: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__()
        k_f, k_t = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        s_f, s_t = (stride, stride) if isinstance(stride, int) else stride
        conv = nn.Conv2d(in_channels, out_channels, (k_f, k_t), stride=(s_f, s_t), bias=bias)
        self.conv = weight_norm(conv) if norm else conv
        self.stride_time = s_t
        self.time_pad = max(k_t - s_t, 0)
        self.freq_pad = (k_f - 1) // 2

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, F, N] -> [B, C_out, F', N']``, causal along the last (time) axis."""
        tail = -x.shape[-1] % self.stride_time
        padded = F.pad(x, (self.time_pad, tail, self.freq_pad, self.freq_pad))
        return self.conv(padded)
