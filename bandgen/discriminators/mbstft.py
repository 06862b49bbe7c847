"""Multi-band multi-scale STFT discriminator (DAC's MRD in n-SBG; paper ``000`` §3.3, HP §1.5).

At each scale the waveform's complex STFT (``torch.stft`` default **rectangular** window,
``center=True``) is laid out as ``[B, 2 (re, im), N frames, F bins]`` and cut along frequency into
bands given as fractions of the ``F = n_fft // 2 + 1`` bins. Each band has its own weight-normed
conv stack (3x9 stride 1, three 3x9 stride (1, 2), 3x3; LeakyReLU 0.1 after each); the band
outputs are concatenated along frequency and a 3x3 post conv gives one logit channel. n-SBG keeps
only the bands of the generated region (HP §1.5), so the discriminator never sees the core band
or the empty band above ``k_h``: bins outside every band cannot change the logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from bandgen.discriminators.base import DiscriminatorOutput, MultiDiscriminator, check_wav
from bandgen.dsp.stft import fft_input
from bandgen.errors import ConfigError

__all__ = [
    "BANDS_12K",
    "BANDS_16K",
    "BANDS_DAC",
    "MultiBandSTFTDiscriminator",
    "STFTBandDiscriminator",
]

BANDS_12K: tuple[tuple[float, float], ...] = (
    (0.15, 0.21),
    (0.21, 0.27),
    (0.27, 0.33),
    (0.33, 0.39),
    (0.39, 0.45),
)
"""n-SBG 12 kbps band split (fractions of the STFT bins, ~3.6-10.8 kHz), HP §1.5 [C]."""

BANDS_16K: tuple[tuple[float, float], ...] = (*BANDS_12K, (0.45, 0.51))
"""16 kbps band split: six 0.06-wide bands 0.15-0.51 (to ~12 kHz), HP §1.5 [G]."""

BANDS_DAC: tuple[tuple[float, float], ...] = (
    (0.0, 0.1),
    (0.1, 0.25),
    (0.25, 0.5),
    (0.5, 0.75),
    (0.75, 1.0),
)
"""DAC's band split, the whole spectrum (HP §6; HP-codec's discriminators)."""

_LEAKY_SLOPE = 0.1


def _band_stack(channels: int) -> nn.ModuleList:
    """The per-band conv stack of HP §1.5 on ``[B, 2, N, F]`` maps (time, then frequency)."""
    layers = [weight_norm(nn.Conv2d(2, channels, (3, 9), (1, 1), padding=(1, 4)))]
    layers += [
        weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))) for _ in range(3)
    ]
    layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 3), (1, 1), padding=(1, 1))))
    return nn.ModuleList(layers)


class STFTBandDiscriminator(nn.Module):
    """One MB-STFT sub-discriminator: a single STFT scale, several frequency bands (HP §1.5).

    Args:
        n_fft: FFT size = window length (rectangular window).
        hop_length: STFT hop in samples.
        channels: channels of every conv.
        bands: ``(lo, hi)`` fractions of the ``n_fft // 2 + 1`` bins, one conv stack each.

    Shape:
        - wav: ``[B, 1, T]``.
        - output: :class:`DiscriminatorOutput` with ``logits[0]`` of shape ``[B, 1, N, F']``
          (``N = 1 + T // hop_length`` frames, ``F'`` the summed band widths after the strides)
          and ``5 * len(bands)`` feature maps.
    """

    window: Tensor

    def __init__(
        self,
        *,
        n_fft: int,
        hop_length: int,
        channels: int = 32,
        bands: Sequence[tuple[float, float]] = BANDS_12K,
    ) -> None:
        super().__init__()
        num_bins = n_fft // 2 + 1
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.band_bins = [(int(lo * num_bins), int(hi * num_bins)) for lo, hi in bands]
        if not self.band_bins or any(not 0 <= lo < hi <= num_bins for lo, hi in self.band_bins):
            raise ConfigError(
                f"MB-STFT bands must be non-empty fractions 0 <= lo < hi <= 1 of the bins; got "
                f"{tuple(bands)} -> bins {self.band_bins} for n_fft={n_fft}"
            )
        self.band_convs = nn.ModuleList(_band_stack(channels) for _ in self.band_bins)
        self.conv_post = weight_norm(nn.Conv2d(channels, 1, (3, 3), (1, 1), padding=(1, 1)))
        # torch.stft's default window (none given) is rectangular; a buffer avoids its warning.
        self.register_buffer("window", torch.ones(n_fft), persistent=False)

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, band_bins={self.band_bins}"

    def spectrogram(self, wav: Tensor) -> Tensor:
        """Real/imaginary STFT of ``wav [B, 1, T]`` as ``[B, 2, N, F]``."""
        spec = torch.stft(
            fft_input(wav[:, 0]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window.to(wav.dtype),
            center=True,
            return_complex=True,
        )
        return torch.view_as_real(spec).permute(0, 3, 2, 1)

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        """Score ``wav [B, 1, T]`` at this scale from the selected bands only."""
        check_wav(wav)
        spec = self.spectrogram(wav)
        fmaps: list[Tensor] = []
        band_outputs = []
        for (lo, hi), stack in zip(self.band_bins, self.band_convs, strict=True):
            x = spec[..., lo:hi]
            for conv in stack.children():
                x = F.leaky_relu(conv(x), _LEAKY_SLOPE)
                fmaps.append(x)
            band_outputs.append(x)
        logits = self.conv_post(torch.cat(band_outputs, dim=-1))
        return DiscriminatorOutput(logits=[logits], fmaps=[fmaps])


class MultiBandSTFTDiscriminator(MultiDiscriminator):
    """n-SBG's multi-band STFT discriminator: one :class:`STFTBandDiscriminator` per scale.

    Args:
        n_ffts: FFT sizes of the scales (2048, 1024, 512).
        hops: hops of the scales (512, 256, 128).
        channels: channels of every conv (32; scale down for CPU sizes).
        bands: band split as bin fractions (12 kbps: :data:`BANDS_12K`; 16 kbps:
            :data:`BANDS_16K`).

    Shape:
        - wav: ``[B, 1, T]``.
        - output: :class:`DiscriminatorOutput` with ``len(n_ffts)`` entries.
    """

    def __init__(
        self,
        n_ffts: Sequence[int] = (2048, 1024, 512),
        hops: Sequence[int] = (512, 256, 128),
        channels: int = 32,
        bands: Sequence[tuple[float, float]] = BANDS_12K,
    ) -> None:
        if len(n_ffts) != len(hops) or not n_ffts:
            raise ConfigError(f"n_ffts {tuple(n_ffts)} and hops {tuple(hops)} must pair up")
        super().__init__(
            [
                STFTBandDiscriminator(n_fft=n, hop_length=h, channels=channels, bands=bands)
                for n, h in zip(n_ffts, hops, strict=True)
            ]
        )
        self.bands = tuple((float(lo), float(hi)) for lo, hi in bands)
