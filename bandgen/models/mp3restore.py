"""Blind restoration of low-bitrate MP3: a stacked depthwise-separable STFT autoencoder.

Paper ``002`` (Deshpande & Abichandani 2021, "Spectral reconstruction of MP3 audio") §2.2-3.1,
with the exact layout of ``HYPERPARAMETERS.md`` §3. The STFT of the decoded MP3 (frame 1024,
hop 248, periodic Hann) is split into real and imaginary parts and stacked into a 2-row
"image" whose **channels are the frequency bins** and whose width is time (the reference is a
Keras model in its default channels-last layout: ``H = 2`` (re/im), ``W`` = frames,
``C`` = bins). Tensors here keep that order, channels last::

    image [B, 2, N, F]      rows re/im, N frames, F = n_fft // 2 + 1 bins

so a depthwise 5 x 5 kernel filters each bin over 5 frames and both rows, and the pointwise
1 x 1 conv is a linear map across bins (the "latent" of 256 in the paper is a mix of bins).

A block (:class:`RestoreBlock`) is ``SepConv(F -> latent) -> PReLU -> SepConv(latent -> F)``.
``N = 1`` is one block. For ``N > 1``, ``N // 2`` encoder blocks are chained, then an optional
middle block (``N`` odd), then ``N // 2`` decoder blocks, each followed by an element-wise
**product** with the mirrored encoder output; a final ``SepConv(F -> F)`` ends the stack.

Differences from the reference, each a decision documented here:

- **513 bins, not 512.** The reference calls ``tf.signal.stft(frame_length=1024,
  fft_length=1023)``, which truncates every windowed frame to 1023 samples to get 512 bins.
  We use ``n_fft = 1024`` (513 bins, DC to Nyquist) so that :class:`~bandgen.dsp.stft.STFT`
  inverts exactly; any ``n_fft`` can be configured.
- **PReLU: one alpha per latent channel**, initialised to 0 as the paper. The reference has
  one alpha per element of the ``2 x 400 x 256`` activation, which fixes the input at 400
  frames; per-channel alphas let the model run on any length (and in chunks).
- **48 kHz** and ``center=True`` framing (zero padding of ``n_fft // 2`` on both sides), so
  every sample of a file is covered by frames; the reference worked at 22.05 kHz with
  ``pad_end=False``.
- **Residual output** (``residual=True``): ``output = input + network(input)``, with the last
  pointwise layer initialised to zero so that an untrained model passes the MP3 decode through
  unchanged. The reference returns ``network(input)`` directly (``residual=False``, the paper's
  exact variant); see :class:`MP3RestoreConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bandgen.config import Config
from bandgen.dsp.stft import STFT
from bandgen.errors import ConfigError

__all__ = [
    "MP3Restore",
    "MP3RestoreConfig",
    "RestoreBlock",
    "SeparableConv",
    "from_image",
    "to_image",
]


@dataclass(frozen=True)
class MP3RestoreConfig(Config):
    """Hyper-parameters of the restoration model (paper ``002`` §2.2, §3.1; HP §3).

    Attributes:
        n_fft: STFT size (1024; the reference's ``fft_length 1023`` is not reproduced, see the
            module docstring); ``F = n_fft // 2 + 1`` bins are the image channels.
        hop_length: STFT hop in samples (248).
        num_blocks: ``N``, the number of autoencoder blocks (1 or 5 in the paper).
        latent: width of each block's bottleneck across bins (256 in the paper).
        kernel_size: depthwise kernel, square (5).
        residual: add the input spectrum to the network output (our default, trains faster
            and keeps the low band intact from the first step); ``False`` is the paper's
            exact variant, whose output is the network's alone.
        sample_rate: rate the model works at, Hz (48 kHz).
    """

    n_fft: int = 1024
    hop_length: int = 248
    num_blocks: int = 1
    latent: int = 256
    kernel_size: int = 5
    residual: bool = True
    sample_rate: int = 48_000

    def __post_init__(self) -> None:
        if self.num_blocks < 1 or self.latent < 1:
            raise ConfigError(
                f"num_blocks and latent must be >= 1, got {self.num_blocks}, {self.latent}"
            )
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd and positive, got {self.kernel_size}")
        if not 0 < self.hop_length <= self.n_fft:
            raise ConfigError(
                f"need 0 < hop_length <= n_fft, got {self.hop_length} and {self.n_fft}"
            )

    @property
    def num_bins(self) -> int:
        """Frequency bins ``F = n_fft // 2 + 1`` (513), the image channels."""
        return self.n_fft // 2 + 1

    @property
    def num_convs(self) -> int:
        """Separable convs in the stack: two per block, plus the final one when ``N > 1``."""
        return 2 * self.num_blocks + (1 if self.num_blocks > 1 else 0)

    @property
    def context_frames(self) -> int:
        """Receptive radius in frames: an output frame depends on this many input frames on
        each side (``kernel_size // 2`` per separable conv; 4 for ``N = 1``, 22 for ``N = 5``)."""
        return self.num_convs * (self.kernel_size // 2)

    @classmethod
    def paper(cls, num_blocks: int = 1) -> MP3RestoreConfig:
        """Paper size: latent 256 (about 0.28 M parameters per block at 513 bins)."""
        return cls(num_blocks=num_blocks, latent=256)

    @classmethod
    def cpu(cls, num_blocks: int = 1) -> MP3RestoreConfig:
        """CPU size: latent 128 (half the paper's pointwise FLOPs and parameters; a training
        step costs ~0.15 s for N = 1 and ~0.5 s for N = 5 on one core, batch 8 x 1 s)."""
        return cls(num_blocks=num_blocks, latent=128)

    @classmethod
    def debug(cls, num_blocks: int = 1) -> MP3RestoreConfig:
        """Toy size for tests: latent 8."""
        return cls(num_blocks=num_blocks, latent=8)


def to_image(spec: Tensor) -> Tensor:
    """Complex ``spec [B, F, N]`` -> real ``image [B, 2, N, F]`` (rows re, im; channels last)."""
    return torch.stack([spec.real, spec.imag], dim=1).transpose(-1, -2)


def from_image(image: Tensor) -> Tensor:
    """Real ``image [B, 2, N, F]`` -> complex ``spec [B, F, N]`` (inverse of :func:`to_image`)."""
    pair = image.transpose(-1, -2)
    return torch.complex(pair[:, 0].contiguous(), pair[:, 1].contiguous())


class SeparableConv(nn.Module):
    """Depthwise-separable 2-D conv on channels-last images (Keras ``SeparableConv2D``).

    A depthwise ``k x k`` conv (one filter per channel, stride 1, zero "same" padding, no
    bias), then a pointwise conv across channels with bias. The pointwise conv is an
    :class:`torch.nn.Linear` on the last axis, which is exactly a 1 x 1 conv in this layout and
    is what dynamic int8 quantisation replaces (:func:`bandgen.restore.quantize_int8`).
    Both are He-uniform initialised as the reference.

    Args:
        in_channels: input channels (bins or latent).
        out_channels: output channels.
        kernel_size: odd depthwise kernel size.

    Shape:
        ``x [B, 2, N, in_channels] -> [B, 2, N, out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Linear(in_channels, out_channels)
        nn.init.kaiming_uniform_(self.depthwise.weight, nonlinearity="relu")
        nn.init.kaiming_uniform_(self.pointwise.weight, nonlinearity="relu")
        nn.init.zeros_(self.pointwise.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Depthwise then pointwise; see the class docstring for shapes."""
        # [B, 2, N, C] viewed as [B, C, 2, N] is the channels-last layout conv2d handles
        filtered = self.depthwise(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.pointwise(filtered)


class ChannelPReLU(nn.Module):
    """PReLU on the last (channel) axis, one alpha per channel, alpha initialised to 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        """``max(x, 0) + alpha * min(x, 0)``, shape kept."""
        return x.clamp_min(0) + self.alpha * x.clamp_max(0)


class RestoreBlock(nn.Module):
    """One autoencoder block (paper ``002`` Fig. 1): SepConv -> PReLU -> SepConv.

    Shape:
        ``x [B, 2, N, bins] -> [B, 2, N, bins]`` through a ``latent``-channel bottleneck.
    """

    def __init__(self, bins: int, latent: int, kernel_size: int = 5) -> None:
        super().__init__()
        self.encode = SeparableConv(bins, latent, kernel_size)
        self.act = ChannelPReLU(latent)
        self.decode = SeparableConv(latent, bins, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        """Encode across bins, activate, decode back to bins."""
        return self.decode(self.act(self.encode(x)))


class MP3Restore(nn.Module):
    """The restoration network of paper ``002`` §3.1 (see the module docstring).

    ``forward`` maps the stacked re/im image of the decoded MP3 to that of the restored
    signal; :meth:`analyze` and :meth:`synthesize` are the STFT pair around it, and
    :meth:`restore` chains all three on waveforms (whole signals; chunked streaming is in
    :class:`bandgen.restore.Restorer`, built from the same methods).

    Args:
        config: hyper-parameters (default: paper size, ``N = 1``).

    Shape:
        - forward: ``image [B, 2, N, F] -> image [B, 2, N, F]``.
        - restore: ``wav [B, T] -> wav [B, T]`` at ``config.sample_rate``.
    """

    def __init__(self, config: MP3RestoreConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or MP3RestoreConfig()
        bins, latent, k = cfg.num_bins, cfg.latent, cfg.kernel_size
        half = cfg.num_blocks // 2 if cfg.num_blocks > 1 else 0
        self.encoder = nn.ModuleList(RestoreBlock(bins, latent, k) for _ in range(half))
        middle = cfg.num_blocks - 2 * half  # N = 1 is a lone "middle" block
        self.middle = nn.ModuleList(RestoreBlock(bins, latent, k) for _ in range(middle))
        self.decoder = nn.ModuleList(RestoreBlock(bins, latent, k) for _ in range(half))
        self.final = SeparableConv(bins, bins, k) if cfg.num_blocks > 1 else None
        self.stft = STFT(n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True)
        if cfg.residual:  # start as the identity: output = input spectrum
            nn.init.zeros_(self._last_conv().pointwise.weight)

    def _last_conv(self) -> SeparableConv:
        if self.final is not None:
            return self.final
        block = self.middle[-1]
        assert isinstance(block, RestoreBlock)
        return block.decode

    def forward(self, image: Tensor) -> Tensor:
        """Restore a stacked re/im image ``[B, 2, N, F]`` (same shape out)."""
        h = image
        skips = []
        for block in self.encoder:
            h = block(h)
            skips.append(h)
        for block in self.middle:
            h = block(h)
        for block, skip in zip(self.decoder, reversed(skips), strict=True):
            h = block(h) * skip  # multiplicative skip (HP §3), not additive
        if self.final is not None:
            h = self.final(h)
        return image + h if self.config.residual else h

    def analyze(self, wav: Tensor) -> Tensor:
        """``wav [B, T] -> image [B, 2, N, F]`` with ``N = 1 + T // hop_length``."""
        return to_image(self.stft(wav))

    def synthesize(self, image: Tensor, length: int) -> Tensor:
        """``image [B, 2, N, F] -> wav [B, length]`` (weighted overlap-add inverse)."""
        return self.stft.inverse(from_image(image), length)

    def restore(self, wav: Tensor) -> Tensor:
        """Restore whole signals ``wav [B, T] -> [B, T]`` at ``config.sample_rate``."""
        return self.synthesize(self(self.analyze(wav)), wav.shape[-1])
