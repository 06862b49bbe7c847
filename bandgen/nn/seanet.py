"""Multi-band SEANet: the n-SBG decoder that generates high PQMF sub-bands (paper ``000`` §3.2).

Layout (HP §1.4; ``C`` = ``channels``, 64 in the paper; ``T`` = sub-band samples):

```
core bands [B, k_c, T] -> conv_in k7 -> C
  -> EncoderBlock x4 (residual units at C_in, dilations 1, 3, 9; strided conv k = 2 s)
     channels 2C, 4C, 8C, 16C; strides 1, 2, 2, 2                  -> skips e1..e4
  -> bottleneck conv k7 16C -> 4C                                   = h  [B, 4C, T / 8]
  -> bottleneck conv k7 4C -> 16C, TFiLM(cond)
  -> DecoderBlock x4 (x + skip -> transposed conv k = 2 s -> residual units), TFiLM(cond) after
     each; channels 8C, 4C, 2C, C; strides 2, 2, 2, 1
  -> conv_out k7 C -> c_out (linear, no bias)                       = bands [B, c_out, T]
```

The bottleneck feature ``h`` is exposed because n-SBG feeds it to the SBG encoder (§3.3), which
needs it *before* the quantised parameters that condition the second half exist. So the generator
runs in two calls: :meth:`SEANetGenerator.embed` (core -> skips and ``h``) and
:meth:`SEANetGenerator.generate` (skips, ``h``, cond -> bands); ``forward`` chains them.

Every conv is causal and weight-normed. Activations are placed before each conv (pre-activation,
as in EnCodec's SEANet) rather than after it as in the reference code; the output conv is linear
(the reference code's trailing ELU is a quirk, HP §1.4 [G]). Causality: an output sample at
sub-band time ``t`` depends on inputs up to the end of its bottleneck hop,
``hop * (t // hop + 1) - 1`` with ``hop = prod(strides)`` (8), and, through TFiLM, on the
conditioning frame containing ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.nn.conv import CausalConv1d, CausalConvTranspose1d
from bandgen.nn.edge_notch import BandEdgeNotch
from bandgen.nn.film import TFiLM

__all__ = ["CoreEmbedding", "DecoderBlock", "EncoderBlock", "ResidualUnit", "SEANetGenerator"]


class ResidualUnit(nn.Module):
    """``x + conv_k1(ELU(conv_k3,dilated(ELU(x))))`` with a k1 conv on the shortcut (HP §1.4).

    Shape: ``x [B, C, T] -> [B, C, T]``.
    """

    def __init__(self, channels: int, dilation: int, *, kernel_size: int = 3) -> None:
        super().__init__()
        self.dilated = CausalConv1d(channels, channels, kernel_size, dilation=dilation)
        self.pointwise = CausalConv1d(channels, channels, 1)
        self.shortcut = CausalConv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C, T] -> [B, C, T]``."""
        branch = self.pointwise(F.elu(self.dilated(F.elu(x))))
        return self.shortcut(x) + branch


class EncoderBlock(nn.Module):
    """Residual units at ``in_channels`` then ELU + strided causal conv (kernel ``2 * stride``).

    Shape: ``x [B, C_in, T] -> [B, C_out, T / stride]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, dilations: Sequence[int]
    ) -> None:
        super().__init__()
        self.units = nn.Sequential(*(ResidualUnit(in_channels, d) for d in dilations))
        self.down = CausalConv1d(in_channels, out_channels, 2 * stride, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, T] -> [B, C_out, T / stride]``."""
        return self.down(F.elu(self.units(x)))


class DecoderBlock(nn.Module):
    """ELU + transposed causal conv (kernel ``2 * stride``, right crop), then residual units.

    Shape: ``x [B, C_in, T] -> [B, C_out, T * stride]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, dilations: Sequence[int]
    ) -> None:
        super().__init__()
        self.up = CausalConvTranspose1d(in_channels, out_channels, 2 * stride, stride=stride)
        self.units = nn.Sequential(*(ResidualUnit(out_channels, d) for d in dilations))

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, T] -> [B, C_out, T * stride]``."""
        return self.units(self.up(F.elu(x)))


@dataclass
class CoreEmbedding:
    """What the encoder half of the generator extracts from the core sub-bands.

    Attributes:
        h: bottleneck feature ``[B, 4C, T / hop]`` (after the first bottleneck conv), which also
            conditions the SBG encoder (paper ``000`` §3.3).
        skips: encoder-block outputs, shallowest first: ``[B, 2C, T]``, ..., ``[B, 16C, T / 8]``.
    """

    h: Tensor
    skips: list[Tensor]


class SEANetGenerator(nn.Module):
    """Multi-band SEANet generator: core sub-bands (+ per-frame cond) -> high sub-bands (§3.2).

    Args:
        in_bands: core PQMF bands fed in (``k_c``).
        out_bands: sub-bands generated (``k_h - k_c + 1``).
        channels: base width ``C`` (64 in the paper).
        strides: encoder strides; the decoder mirrors them (paper: 1, 2, 2, 2).
        dilations: dilations of the residual units in each block.
        kernel_size: kernel of conv_in, the bottleneck convs and conv_out.
        bottleneck_channels: width of ``h``; default ``4 C`` (256 in the paper).
        cond_dim: size of the per-frame conditioning vector; ``None`` builds no TFiLM layers
            (the blind variant, paper ``000`` §4.4).
        edge_notch: taps of a :class:`BandEdgeNotch` on the output bands (0: none).

    Shape:
        ``core [B, in_bands, T]``, ``cond [B, cond_dim, N]`` -> ``bands [B, out_bands, T]``,
        ``T`` a multiple of :attr:`hop_length` and of ``N``.
    """

    def __init__(
        self,
        *,
        in_bands: int,
        out_bands: int,
        channels: int = 64,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 3, 9),
        kernel_size: int = 7,
        bottleneck_channels: int | None = None,
        cond_dim: int | None = None,
        edge_notch: int = 0,
    ) -> None:
        super().__init__()
        widths = [channels * 2**i for i in range(len(strides) + 1)]  # C, 2C, ..., 16C
        bottleneck = 4 * channels if bottleneck_channels is None else bottleneck_channels
        self.hop_length = math.prod(strides)
        self.bottleneck_channels = bottleneck
        self.conv_in = CausalConv1d(in_bands, channels, kernel_size)
        self.encoder = nn.ModuleList(
            EncoderBlock(widths[i], widths[i + 1], s, dilations) for i, s in enumerate(strides)
        )
        self.bottleneck_in = CausalConv1d(widths[-1], bottleneck, kernel_size)
        self.bottleneck_out = CausalConv1d(bottleneck, widths[-1], kernel_size)
        rev = list(reversed(range(len(strides))))
        self.decoder = nn.ModuleList(
            DecoderBlock(widths[i + 1], widths[i], strides[i], dilations) for i in rev
        )
        self.conv_out = CausalConv1d(channels, out_bands, kernel_size, bias=False)
        self.films: nn.ModuleList | None = None
        if cond_dim is not None:
            film_widths = [widths[-1], *(widths[i] for i in rev)]
            self.films = nn.ModuleList(TFiLM(cond_dim, w) for w in film_widths)
        self.notch = BandEdgeNotch(edge_notch) if edge_notch else None

    def embed(self, core: Tensor) -> CoreEmbedding:
        """Run the encoder half: ``core [B, in_bands, T]`` -> skips and ``h [B, 4C, T / hop]``."""
        if core.shape[-1] % self.hop_length:
            raise ValueError(
                f"sub-band length {core.shape[-1]} is not a multiple of hop {self.hop_length}"
            )
        x = self.conv_in(core)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        return CoreEmbedding(h=self.bottleneck_in(F.elu(x)), skips=skips)

    def generate(self, embedding: CoreEmbedding, cond: Tensor | None = None) -> Tensor:
        """Run the decoder half: ``embedding``, ``cond [B, D, N]`` -> ``bands [B, out_bands, T]``."""
        if (cond is None) != (self.films is None):
            raise ValueError("cond must be given exactly when the generator has TFiLM layers")
        films = list(self.films) if self.films is not None else []
        x = self.bottleneck_out(F.elu(embedding.h))
        if cond is not None:
            x = films[0](x, cond)
        for i, (block, skip) in enumerate(
            zip(self.decoder, reversed(embedding.skips), strict=True)
        ):
            x = block(x + skip)
            if cond is not None:
                x = films[i + 1](x, cond)
        bands = self.conv_out(F.elu(x))
        return self.notch(bands) if self.notch is not None else bands

    def forward(self, core: Tensor, cond: Tensor | None = None) -> Tensor:
        """``core [B, in_bands, T]``, ``cond [B, D, N] | None -> bands [B, out_bands, T]``."""
        return self.generate(self.embed(core), cond)
