"""SpectroStream's multi-scale STFT discriminator (paper ``003`` §3.4; HP §2).

Each scale looks at the STFT of every audio channel as three planes (real, imaginary and
magnitude), so a stereo input has six input planes and the discriminator sees the channels
together (their phase relation included). The conv stack is 2-D over (time, frequency) with
symmetric padding, a layer norm over the channels after every conv, and Leaky ReLU. The
windows (2048 ... 128, hop = window / 4) and the slope (0.2) are guesses, marked [G] in
``HYPERPARAMETERS.md`` §2 (EnCodec's MS-STFT discriminator and SoundStream's slope).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.discriminators.base import DiscriminatorOutput

__all__ = ["MultiScaleSpectroDiscriminator", "SpectroSTFTDiscriminator"]

SLOPE = 0.2


class _ChannelNorm(nn.Module):
    """Layer norm over the channel axis of ``[B, C, N, F]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SpectroSTFTDiscriminator(nn.Module):
    """One scale: STFT planes ``[B, 3 C, N, F]`` -> logits ``[B, 1, N, F']``.

    Args:
        n_fft: window = FFT size (Hann); hop ``n_fft / 4``.
        audio_channels: channels of the waveform (2 for stereo).
        channels: width of the conv stack.
    """

    window: Tensor

    def __init__(self, n_fft: int, *, audio_channels: int = 2, channels: int = 32) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        widths = (3 * audio_channels, channels, channels, channels, channels)
        strides = ((1, 1), (1, 2), (1, 2), (1, 2))
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i, stride in enumerate(strides):
            kernel = (3, 9) if i < 3 else (3, 3)
            pad = (kernel[0] // 2, kernel[1] // 2)
            self.convs.append(nn.Conv2d(widths[i], widths[i + 1], kernel, stride, pad))
            self.norms.append(_ChannelNorm(widths[i + 1]))
        self.conv_post = nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))

    def planes(self, wav: Tensor) -> Tensor:
        """Real, imaginary and magnitude planes of ``wav [B, C, T]``: ``[B, 3 C, N, F]``."""
        batch, channels, length = wav.shape
        spec = torch.stft(
            wav.reshape(batch * channels, length),
            n_fft=self.n_fft,
            hop_length=self.n_fft // 4,
            window=self.window.to(wav.dtype),
            center=True,
            return_complex=True,
        )  # [B C, F, N]
        planes = torch.stack((spec.real, spec.imag, spec.abs()), dim=1)  # [B C, 3, F, N]
        return planes.reshape(batch, 3 * channels, *planes.shape[2:]).transpose(2, 3)

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        x = self.planes(wav)
        fmaps = []
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.leaky_relu(norm(conv(x)), SLOPE)
            fmaps.append(x)
        return DiscriminatorOutput(logits=[self.conv_post(x)], fmaps=[fmaps])


class MultiScaleSpectroDiscriminator(nn.Module):
    """The STFT discriminator at several window sizes; outputs concatenated in order.

    Shape: ``wav [B, C, T]`` (``T >= max(n_ffts) / 2``) -> :class:`DiscriminatorOutput` with
    one entry per scale.
    """

    def __init__(
        self,
        *,
        n_ffts: Sequence[int] = (2048, 1024, 512, 256, 128),
        audio_channels: int = 2,
        channels: int = 32,
    ) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            SpectroSTFTDiscriminator(n, audio_channels=audio_channels, channels=channels)
            for n in n_ffts
        )

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        logits: list[Tensor] = []
        fmaps: list[list[Tensor]] = []
        for scale in self.scales:
            out = scale(wav)
            logits += out.logits
            fmaps += out.fmaps
        return DiscriminatorOutput(logits=logits, fmaps=fmaps)
