"""Multi-period discriminator (HiFi-GAN; n-SBG paper ``000`` §3.3, ref. [32]; HP §1.5).

For a period ``p`` the waveform is reflect-padded to a multiple of ``p`` and folded into a 2-D map
``[B, 1, T / p, p]``, so that 2-D convolutions with kernels ``(k, 1)`` look at samples ``p``
apart. n-SBG's version (HP §1.5): periods 2, 3, 5, 7, 11; four weight-normed convs of kernel
``(5, 1)`` and stride ``(3, 1)`` with 24, 48, 96, 192 channels, one ``(5, 1)`` stride-1 conv with
384 channels, LeakyReLU(0.1) after each, and a ``(3, 1)`` post conv to one logit channel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from bandgen.discriminators.base import DiscriminatorOutput, MultiDiscriminator, check_wav
from bandgen.errors import ConfigError

__all__ = ["MultiPeriodDiscriminator", "PeriodDiscriminator"]

_LEAKY_SLOPE = 0.1


class PeriodDiscriminator(nn.Module):
    """One MPD sub-discriminator for a single ``period`` (HP §1.5).

    Args:
        period: fold period in samples.
        channels: channels of the first conv; the stack uses ``channels * (1, 2, 4, 8, 16)``.
        kernel_size: taps along the folded time axis.
        stride: stride of the first ``num_strided`` convs along the folded time axis.
        num_strided: number of strided convs (then one stride-1 conv).

    Shape:
        - wav: ``[B, 1, T]``.
        - output: :class:`DiscriminatorOutput` with ``logits[0]`` of shape
          ``[B, 1, H, period]`` (``H ~ ceil(T / period) / stride ** num_strided``) and
          ``num_strided + 1`` feature maps.
    """

    def __init__(
        self,
        period: int,
        *,
        channels: int = 24,
        kernel_size: int = 5,
        stride: int = 3,
        num_strided: int = 4,
    ) -> None:
        super().__init__()
        if period < 1 or channels < 1:
            raise ConfigError(f"period and channels must be >= 1, got {period}, {channels}")
        self.period = period
        widths = [channels * 2**i for i in range(num_strided + 1)]
        pad = (kernel_size // 2, 0)
        convs = []
        in_ch = 1
        for i, out_ch in enumerate(widths):
            step = stride if i < num_strided else 1
            conv = nn.Conv2d(in_ch, out_ch, (kernel_size, 1), (step, 1), padding=pad)
            convs.append(weight_norm(conv))
            in_ch = out_ch
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv2d(in_ch, 1, (3, 1), 1, padding=(1, 0)))

    def extra_repr(self) -> str:
        return f"period={self.period}"

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        """Fold ``wav [B, 1, T]`` by the period and score it."""
        check_wav(wav)
        batch, _, length = wav.shape
        tail = -length % self.period
        if tail:
            mode = "reflect" if tail < length else "constant"
            wav = F.pad(wav, (0, tail), mode=mode)
        x = wav.view(batch, 1, -1, self.period)
        fmaps: list[Tensor] = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), _LEAKY_SLOPE)
            fmaps.append(x)
        return DiscriminatorOutput(logits=[self.conv_post(x)], fmaps=[fmaps])


class MultiPeriodDiscriminator(MultiDiscriminator):
    """The MPD of n-SBG: one :class:`PeriodDiscriminator` per period (HP §1.5).

    Args:
        periods: fold periods (n-SBG: 2, 3, 5, 7, 11).
        channels: first-layer channels ``C_period`` (n-SBG: 24; scale down for CPU sizes).
        kernel_size: taps along the folded time axis (5).
        stride: time stride of the strided convs (3).

    Shape:
        - wav: ``[B, 1, T]``.
        - output: :class:`DiscriminatorOutput` with ``len(periods)`` entries.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        channels: int = 24,
        *,
        kernel_size: int = 5,
        stride: int = 3,
    ) -> None:
        if len(periods) == 0:
            raise ConfigError("MultiPeriodDiscriminator needs at least one period")
        super().__init__(
            [
                PeriodDiscriminator(p, channels=channels, kernel_size=kernel_size, stride=stride)
                for p in periods
            ]
        )
        self.periods = tuple(periods)
