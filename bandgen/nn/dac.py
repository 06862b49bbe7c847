"""DAC encoder and decoder (Kumar et al. 2023; HP §6), the branches of HP-codec (paper ``004``).

Every conv is weight-normed and non-causal ("same" padding), every activation a Snake with a
learned frequency per channel. The layout, ``C`` = ``d_model``, rates ``s_1 .. s_n``:

```
encoder: wav [B, 1, T] -> conv k7 -> C
  -> EncoderBlock(s_i) x n: residual units at C_in (dilations 1, 3, 9), Snake, strided conv
     C_in -> 2 C_in (kernel 2 s, or 2 s + 1 for an odd stride, HP §4)
  -> Snake, conv k3 -> latent ``D = C 2^n``                          = latents [B, D, T / hop]
decoder: latents -> conv k7 -> dim
  -> DecoderBlock(s_i) x n: Snake, transposed conv dim_in -> dim_in / 2 (same kernels),
     residual units (dilations 1, 3, 9)
  -> Snake, conv k7 -> 1, tanh                                        = wav [B, 1, T]
```

A residual unit is ``x + conv_k1(Snake(conv_k7,dilated(Snake(x))))``. Inputs must be a whole
number of hops long (``hop = prod(rates)``); the lengths then round-trip exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["DACDecoder", "DACEncoder", "Snake", "stride_kernel"]


class Snake(nn.Module):
    """``x + sin(alpha x)^2 / alpha`` with a learned ``alpha`` per channel (DAC).

    Shape: ``x [B, C, T] -> [B, C, T]``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


def _conv(c_in: int, c_out: int, kernel: int, *, dilation: int = 1) -> nn.Module:
    """Weight-normed conv with "same" padding (odd ``kernel``)."""
    pad = (kernel - 1) * dilation // 2
    return weight_norm(nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=pad))


def stride_kernel(stride: int) -> tuple[int, int]:
    """``(kernel, padding)`` of a strided (transposed) conv: kernel ``2 s``, or ``2 s + 1`` for
    an odd stride (HP §4, the HP-codec code), padding ``ceil(s / 2)``; either maps ``N s``
    samples to ``N`` frames and back."""
    return 2 * stride + stride % 2, math.ceil(stride / 2)


def _start_quiet(conv: nn.Module) -> None:
    """Zero the bias of a weight-normed conv and scale its gain by 1/100."""
    params = dict(conv.named_parameters())
    with torch.no_grad():
        params["bias"].zero_()
        params["parametrizations.weight.original0"].mul_(0.01)


class _ResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            Snake(channels),
            _conv(channels, channels, 7, dilation=dilation),
            Snake(channels),
            _conv(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


def _units(channels: int) -> list[nn.Module]:
    return [_ResidualUnit(channels, d) for d in (1, 3, 9)]


class DACEncoder(nn.Module):
    """DAC encoder (module docstring).

    Args:
        d_model: channels of the first conv (64); doubled at every block.
        rates: strides of the blocks (16 kHz branch: 2, 2, 5, 8).

    Shape: ``wav [B, 1, T] -> latents [B, d_model 2^len(rates), T / prod(rates)]``.
    """

    def __init__(self, d_model: int, rates: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(1, d_model, 7)]
        channels = d_model
        for stride in rates:
            kernel, pad = stride_kernel(stride)
            layers += _units(channels)
            layers += [
                Snake(channels),
                weight_norm(nn.Conv1d(channels, 2 * channels, kernel, stride, padding=pad)),
            ]
            channels *= 2
        layers += [Snake(channels), _conv(channels, channels, 3)]
        self.layers = nn.Sequential(*layers)
        self.latent_dim = channels

    def forward(self, wav: Tensor) -> Tensor:
        """``wav [B, 1, T] -> latents [B, D, T / hop]``."""
        out: Tensor = self.layers(wav)
        return out


class DACDecoder(nn.Module):
    """DAC decoder (module docstring).

    Args:
        latent_dim: channels of the latents ``D``.
        dim: channels after the first conv (1536); halved at every block.
        rates: strides of the blocks (16 kHz branch: 8, 5, 2, 2).
        quiet_start: initialise the last conv with zero bias and 1/100 of its gain, so a fresh
            decoder outputs about 0 (not in DAC). With the default initialisation the Snake
            activations' positive offsets add up to a DC at the output: about -0.84 before
            training for the CPU size's 48 kHz branch, which sits in the tanh's flat part.

    Shape: ``latents [B, D, N] -> wav [B, 1, N prod(rates)]`` in ``[-1, 1]``.
    """

    def __init__(
        self, latent_dim: int, dim: int, rates: Sequence[int], *, quiet_start: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(latent_dim, dim, 7)]
        channels = dim
        for stride in rates:
            kernel, pad = stride_kernel(stride)
            layers += [
                Snake(channels),
                weight_norm(
                    nn.ConvTranspose1d(channels, channels // 2, kernel, stride, padding=pad)
                ),
            ]
            channels //= 2
            layers += _units(channels)
        last = _conv(channels, 1, 7)
        if quiet_start:
            _start_quiet(last)
        layers += [Snake(channels), last, nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def forward(self, latents: Tensor) -> Tensor:
        """``latents [B, D, N] -> wav [B, 1, N hop]``."""
        out: Tensor = self.layers(latents)
        return out
