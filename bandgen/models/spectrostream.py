"""SpectroStream: a full-band 48 kHz stereo neural codec in the STFT domain (paper ``003``).

Data flow (``HYPERPARAMETERS.md`` §2 gives the numbers):

- **STFT front end** (:class:`SpectralFrontEnd`): periodic Hann frames of 960 samples, hop 480
  (100 frames/s), DC kept and the Nyquist bin dropped (480 bins), real and imaginary parts as
  two feature planes per audio channel. Framing is causal: frame ``n`` covers samples
  ``(n - 1) * 480 .. (n + 1) * 480``. The inverse is a windowed overlap-add with the dual
  window of the Hann analysis window, so analysis followed by synthesis is exact.
- **Encoder** (:class:`SpectroEncoder`): a 7x7 conv and 7 residual down-sampling units with
  (time, freq) strides (1,2) (1,2) (1,3) (1,2) (1,2) (2,2) (2,1): 480 bins -> 5, 100 -> 25
  frames/s. **Delayed fusion**: the two audio channels run through the same (weight-shared)
  layers as separate batch items and are concatenated only before the last strided unit. A
  bottleneck unit and a 1x1 residual head map ``5 bins x C`` to the ``D``-dim embedding.
- **RVQ** (:class:`~bandgen.quantization.ema_rvq.EMAResidualVQ`): 64 levels x 1024 entries,
  10 bits each at 25 embeddings/s: 250 bit/s per level, 16 kbps for both channels at 64.
- **Decoder** (:class:`SpectroDecoder`): a 1x1 residual projection to ``5 bins x C`` that also
  reads **one embedding ahead** (the codec's only look-ahead, 40 ms), mirrored transposed
  units, **early splitting** into the two channels after the first up-sampling unit, and a
  7x7 conv back to (re, im) per channel.

Latency: the encoder needs the 4 STFT frames of an embedding (40 ms) and the decoder one
embedding ahead (40 ms): 80 ms, plus the half frame the overlap-add waits for (10 ms).

Mono input is coded as the pair (x, x) and decoded as the mean of the two outputs, so one
model serves both layouts; the coded rate follows the levels kept, not the channel count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.config import Config
from bandgen.errors import ConfigError
from bandgen.nn.semicausal2d import (
    ResidualDown2d,
    ResidualUp2d,
    SemicausalConv2d,
    past_context,
)
from bandgen.quantization.ema_rvq import EMAResidualVQ

__all__ = [
    "SpectralFrontEnd",
    "SpectroDecoder",
    "SpectroEncoder",
    "SpectroStream",
    "SpectroStreamConfig",
    "SpectroStreamOutput",
]

SAMPLE_RATE = 48_000
GROUPS = 2
"""Audio channels the model codes jointly (stereo)."""


@dataclass(frozen=True)
class SpectroStreamConfig(Config):
    """Hyper-parameters of SpectroStream (paper ``003``; ``HYPERPARAMETERS.md`` §2).

    Args:
        n_fft: STFT frame = FFT size (960); the hop is half of it.
        base_channels: channels of the encoder's first 7x7 conv (32).
        enc_channels: output channels of the 7 down-sampling units (per audio channel; the last
            one is applied to the fused pair).
        enc_strides: (time, freq) strides of those units.
        dec_channels: output channels of the 7 up-sampling units; the first is for the pair
            (split in two), the rest per audio channel.
        dim: embedding size ``D`` (256).
        num_levels: RVQ levels (64).
        codebook_size: entries per level (1024 -> 10 bits).
        bypass_rate: training items that skip quantisation (0.5).
        commitment: commitment-loss weight (1.0; the released config's ``beta``).
        lookahead: embeddings the decoder reads ahead (1).
    """

    n_fft: int = 960
    base_channels: int = 32
    enc_channels: tuple[int, ...] = (64, 64, 128, 128, 128, 256, 256)
    enc_strides: tuple[tuple[int, int], ...] = (
        (1, 2),
        (1, 2),
        (1, 3),
        (1, 2),
        (1, 2),
        (2, 2),
        (2, 1),
    )
    dec_channels: tuple[int, ...] = (1024, 256, 256, 256, 128, 128, 64)
    dim: int = 256
    num_levels: int = 64
    codebook_size: int = 1024
    bypass_rate: float = 0.5
    commitment: float = 1.0
    lookahead: int = 1

    def __post_init__(self) -> None:
        if len(self.enc_channels) != len(self.enc_strides) or not self.enc_strides:
            raise ConfigError("enc_channels and enc_strides must have the same, non-zero length")
        if len(self.dec_channels) != len(self.enc_strides):
            raise ConfigError("dec_channels needs one entry per encoder unit (mirrored)")
        if self.dec_channels[0] % GROUPS:
            raise ConfigError(f"dec_channels[0] must split into {GROUPS} channels")
        if self.num_bins % self.freq_stride:
            raise ConfigError(
                f"{self.num_bins} bins are not divisible by the frequency strides' product "
                f"{self.freq_stride}"
            )
        if self.lookahead < 0:
            raise ConfigError(f"lookahead must be >= 0, got {self.lookahead}")

    @property
    def hop(self) -> int:
        """STFT hop in samples (480)."""
        return self.n_fft // 2

    @property
    def num_bins(self) -> int:
        """Coded bins: DC .. Nyquist - 1 (480)."""
        return self.n_fft // 2

    @property
    def time_stride(self) -> int:
        """STFT frames per embedding (4)."""
        return math.prod(s[0] for s in self.enc_strides)

    @property
    def freq_stride(self) -> int:
        """Bins per encoder output bin (96: 480 -> 5)."""
        return math.prod(s[1] for s in self.enc_strides)

    @property
    def samples_per_embedding(self) -> int:
        """Audio samples per embedding (1920 = 40 ms)."""
        return self.hop * self.time_stride

    @property
    def embedding_rate_hz(self) -> float:
        """Embeddings per second (25)."""
        return SAMPLE_RATE / self.samples_per_embedding

    @property
    def bits_per_level(self) -> float:
        """Bits of one code (10)."""
        return math.log2(self.codebook_size)

    def levels_for_kbps(self, kbps: float) -> int:
        """RVQ levels that fit ``kbps`` (all channels together), at least 1."""
        per_level = self.bits_per_level * self.embedding_rate_hz / 1000
        return max(1, min(self.num_levels, int(kbps / per_level + 1e-9)))

    def kbps(self, levels: int) -> float:
        """Bit-rate of ``levels`` RVQ levels, both channels together."""
        return levels * self.bits_per_level * self.embedding_rate_hz / 1000

    @classmethod
    def paper(cls) -> SpectroStreamConfig:
        """The paper's size (about 62 M parameters, 16 kbps at 64 levels)."""
        return cls()

    @classmethod
    def cpu(cls) -> SpectroStreamConfig:
        """CPU size: 1/4 of the encoder's and 1/8 of the decoder's widths, 32-dim codes."""
        return cls(
            base_channels=8,
            enc_channels=(16, 16, 32, 32, 32, 64, 64),
            dec_channels=(128, 32, 32, 32, 16, 16, 8),
            dim=32,
        )

    @classmethod
    def debug(cls) -> SpectroStreamConfig:
        """Toy size for tests: 4-8 channels, 8 levels of 16 entries."""
        return cls(
            base_channels=2,
            enc_channels=(4, 4, 4, 4, 4, 8, 8),
            dec_channels=(16, 8, 4, 4, 4, 4, 4),
            dim=8,
            num_levels=8,
            codebook_size=16,
        )


class SpectralFrontEnd(nn.Module):
    """Causal STFT (960/480, Hann, 480 bins) and its exact overlap-add inverse.

    Shape: ``analysis``: ``wav [B, C, T] -> spec [B, C, 2, N, 480]`` with
    ``N = frames_for(T)``; ``synthesis``: ``spec -> wav [B, C, N * hop]``.
    """

    window: Tensor
    synthesis_window: Tensor

    def __init__(self, n_fft: int = 960) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 2
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        overlap = window[: self.hop] ** 2 + window[self.hop :] ** 2
        dual = window / overlap.repeat(2)
        self.scale = float(window.pow(2).sum().sqrt())
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("synthesis_window", (dual * self.scale).float(), persistent=False)

    def frames_for(self, length: int, multiple: int = 1) -> int:
        """Frames covering ``length`` samples fully, rounded up to ``multiple``."""
        frames = -(-length // self.hop) + 1
        return -(-frames // multiple) * multiple

    def analysis(self, wav: Tensor, frames: int) -> Tensor:
        """Spectra of ``frames`` causal frames of ``wav [B, C, T]``: ``[B, C, 2, N, F]``."""
        padded = F.pad(wav, (self.hop, frames * self.hop - wav.shape[-1]))
        chunks = padded.unfold(-1, self.n_fft, self.hop)[..., :frames, :]  # [B, C, N, n_fft]
        spec = torch.fft.rfft(chunks * self.window, dim=-1)[..., : self.hop] / self.scale
        return torch.stack((spec.real, spec.imag), dim=2)

    def synthesis(self, spec: Tensor) -> Tensor:
        """Overlap-add of ``spec [B, C, 2, N, F]``: ``wav [B, C, N * hop]`` (sample 0 aligned)."""
        real, imag = spec.unbind(dim=2)
        full = torch.complex(F.pad(real, (0, 1)), F.pad(imag, (0, 1)))  # Nyquist bin = 0
        chunks = torch.fft.irfft(full, n=self.n_fft, dim=-1) * self.synthesis_window
        batch, channels, frames, _ = chunks.shape
        halves = chunks.reshape(batch, channels, frames, 2, self.hop)
        out = halves[..., 1, :].clone()
        out[..., :-1, :] += halves[..., 1:, 0, :]  # frame n's first half lands in block n - 1
        return out.reshape(batch, channels, frames * self.hop)


class SpectroEncoder(nn.Module):
    """``spec [B, 2, 2, N, F] -> z [B, D, N / 4]`` with delayed fusion of the two channels."""

    def __init__(self, cfg: SpectroStreamConfig) -> None:
        super().__init__()
        self.conv_in = SemicausalConv2d(2, cfg.base_channels, (7, 7))
        widths = (cfg.base_channels, *cfg.enc_channels)
        self.shared = nn.ModuleList(
            ResidualDown2d(widths[i], widths[i + 1], stride)
            for i, stride in enumerate(cfg.enc_strides[:-1])
        )
        self.fused = ResidualDown2d(GROUPS * widths[-2], widths[-1], cfg.enc_strides[-1])
        self.bottleneck = ResidualDown2d(widths[-1], widths[-1], (1, 1))
        flat = widths[-1] * (cfg.num_bins // cfg.freq_stride)
        self.head_skip = nn.Conv1d(flat, cfg.dim, 1)
        self.head = nn.Sequential(
            nn.ELU(), nn.Conv1d(flat, flat, 1), nn.ELU(), nn.Conv1d(flat, cfg.dim, 1)
        )

    def layers(self) -> list[nn.Module]:
        """The time-mixing layers in data-flow order (for :func:`past_context`)."""
        return [self.conv_in, *self.shared, self.fused, self.bottleneck]

    def forward(self, spec: Tensor) -> Tensor:
        batch, groups, planes, frames, bins = spec.shape
        x = self.conv_in(spec.reshape(batch * groups, planes, frames, bins))
        for unit in self.shared:
            x = unit(x)
        x = x.reshape(batch, groups * x.shape[1], *x.shape[2:])  # delayed fusion
        x = self.bottleneck(self.fused(x))
        x = x.permute(0, 1, 3, 2).reshape(batch, -1, x.shape[2])  # [B, C * F', N']
        return self.head_skip(x) + self.head(x)


class SpectroDecoder(nn.Module):
    """``z_q [B, D, N'] -> spec [B, 2, 2, 4 N', F]`` with early splitting after the first unit."""

    def __init__(self, cfg: SpectroStreamConfig) -> None:
        super().__init__()
        self.bins = cfg.num_bins // cfg.freq_stride
        strides = tuple(reversed(cfg.enc_strides))
        first = cfg.dec_channels[0] // 2  # input width of the first up unit
        flat = first * self.bins
        self.lookahead = cfg.lookahead
        width = 1 + 2 * cfg.lookahead
        self.proj_skip = nn.Conv1d(cfg.dim, flat, width)
        self.proj = nn.Sequential(
            nn.Conv1d(cfg.dim, flat, width), nn.ELU(), nn.Conv1d(flat, flat, 1)
        )
        self.time_context = cfg.lookahead  # past embeddings read by the projection
        self.time_stride = 1
        self.bottleneck = ResidualDown2d(first, first, (1, 1))
        self.split = ResidualUp2d(first, cfg.dec_channels[0], strides[0])
        per_channel = (cfg.dec_channels[0] // GROUPS, *cfg.dec_channels[1:])
        self.shared = nn.ModuleList(
            ResidualUp2d(per_channel[i], per_channel[i + 1], strides[i + 1])
            for i in range(len(strides) - 1)
        )
        self.conv_out = SemicausalConv2d(per_channel[-1], 2, (7, 7))

    def layers(self) -> list[nn.Module]:
        """The time-mixing layers in data-flow order (for :func:`past_context`)."""
        return [self, self.bottleneck, self.split, *self.shared, self.conv_out]

    def forward(self, z_q: Tensor) -> Tensor:
        padded = F.pad(z_q, (self.lookahead, self.lookahead))
        x = self.proj_skip(padded) + self.proj(padded)  # [B, C * F', N']
        batch, _, frames = x.shape
        x = x.reshape(batch, -1, self.bins, frames).transpose(2, 3)  # [B, C, N', F']
        x = self.split(self.bottleneck(x))
        x = x.reshape(batch * GROUPS, x.shape[1] // GROUPS, *x.shape[2:])  # early split
        for unit in self.shared:
            x = unit(x)
        spec = self.conv_out(F.elu(x))  # [B * 2, 2, N, F]
        return spec.reshape(batch, GROUPS, 2, *spec.shape[2:])


@dataclass
class SpectroStreamOutput:
    """Training forward of :class:`SpectroStream`.

    Attributes:
        wav: decoded audio ``[B, 2, T]``.
        codes: RVQ codes ``[B, K, N']``.
        commitment_loss: scalar (already weighted by ``commitment``).
    """

    wav: Tensor
    codes: Tensor
    commitment_loss: Tensor


class SpectroStream(nn.Module):
    """The codec: ``encode(wav) -> codes``, ``decode(codes) -> wav``, ``forward`` for training.

    Shape: ``wav [B, C, T]`` with ``C`` 1 or 2 at 48 kHz; codes ``[B, K, ceil-ish(T / 1920)]``.
    """

    def __init__(self, cfg: SpectroStreamConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.front = SpectralFrontEnd(cfg.n_fft)
        self.encoder = SpectroEncoder(cfg)
        self.quantizer = EMAResidualVQ(
            cfg.dim,
            cfg.num_levels,
            codebook_size=cfg.codebook_size,
            bypass_rate=cfg.bypass_rate,
            commitment=cfg.commitment,
        )
        self.decoder = SpectroDecoder(cfg)

    @property
    def config(self) -> SpectroStreamConfig:
        """The model's config (the family contract's name for :attr:`cfg`)."""
        return self.cfg

    @property
    def encoder_context(self) -> int:
        """Past STFT frames one embedding reads beyond its own 4 (from the layers)."""
        return past_context(self.encoder.layers())

    @property
    def decoder_context(self) -> int:
        """Past embeddings one embedding's output reads (from the layers)."""
        return past_context(self.decoder.layers())

    def num_embeddings(self, length: int) -> int:
        """Embeddings coding ``length`` samples."""
        return self.front.frames_for(length, self.cfg.time_stride) // self.cfg.time_stride

    def _pair(self, wav: Tensor) -> Tensor:
        if wav.dim() != 3 or wav.shape[1] not in (1, GROUPS):
            raise ValueError(f"expected wav [B, 1 or 2, T], got {tuple(wav.shape)}")
        return wav.expand(-1, GROUPS, -1) if wav.shape[1] == 1 else wav

    def embed(self, wav: Tensor) -> Tensor:
        """Continuous embeddings ``z [B, D, N']`` of ``wav [B, C, T]``."""
        frames = self.front.frames_for(wav.shape[-1], self.cfg.time_stride)
        return self.encoder(self.front.analysis(self._pair(wav), frames))

    def synthesize(self, z_q: Tensor, length: int, channels: int) -> Tensor:
        """Audio ``[B, channels, length]`` from quantised embeddings ``z_q [B, D, N']``."""
        wav = self.front.synthesis(self.decoder(z_q))[..., :length]
        return wav.mean(dim=1, keepdim=True) if channels == 1 else wav

    @torch.no_grad()
    def encode(self, wav: Tensor, n_q: int | None = None) -> Tensor:
        """``wav [B, C, T] -> codes [B, n_q, N']`` (int64)."""
        return self.quantizer.encode(self.embed(wav), n_q)

    @torch.no_grad()
    def decode(self, codes: Tensor, length: int, channels: int = GROUPS) -> Tensor:
        """``codes [B, K, N'] -> wav [B, channels, length]``."""
        return self.synthesize(self.quantizer.decode(codes), length, channels)

    @torch.no_grad()
    def encode_chunked(self, wav: Tensor, n_q: int | None = None, *, chunk: int = 50) -> Tensor:
        """:meth:`encode` ``chunk`` embeddings at a time (see :meth:`embed_chunked`)."""
        return self.quantizer.encode(self.embed_chunked(wav, chunk=chunk), n_q)

    @torch.no_grad()
    def embed_chunked(self, wav: Tensor, *, chunk: int = 50) -> Tensor:
        """:meth:`embed` ``chunk`` embeddings at a time, in memory bounded by the chunk.

        Each chunk re-reads :attr:`encoder_context` past STFT frames (rounded up to whole
        embeddings), so the embeddings equal :meth:`embed`'s up to float rounding.
        """
        stride, hop = self.cfg.time_stride, self.front.hop
        total = self.num_embeddings(wav.shape[-1])
        back = -(-self.encoder_context // stride)
        pair = self._pair(wav)
        codes = []
        for first in range(0, total, chunk):
            last = min(total, first + chunk)
            start = max(0, first - back)
            # frame f covers samples (f - 1) * hop .. (f + 1) * hop; the half frame cut off at
            # the piece's start lies outside the receptive field of the embeddings kept
            piece = pair[..., start * stride * hop : last * stride * hop]
            spec = self.front.analysis(piece, (last - start) * stride)
            codes.append(self.encoder(spec)[..., first - start :])
        return torch.cat(codes, dim=-1)

    @torch.no_grad()
    def decode_chunked(
        self, codes: Tensor, length: int, channels: int = GROUPS, *, chunk: int = 50
    ) -> Tensor:
        """:meth:`decode` ``chunk`` embeddings at a time (streaming, bounded memory).

        Each chunk re-reads :attr:`decoder_context` past embeddings and ``lookahead`` future
        ones; the overlap-add carries one frame to the next chunk. Equal to :meth:`decode`.
        """
        z_q = self.quantizer.decode(codes)
        total, stride = z_q.shape[-1], self.cfg.time_stride
        back, ahead = self.decoder_context, self.cfg.lookahead
        frames = []
        for first in range(0, total, chunk):
            last = min(total, first + chunk)
            start, stop = max(0, first - back), min(total, last + ahead)
            spec = self.decoder(z_q[..., start:stop])  # zero-padded where offline is too
            keep = spec[..., (first - start) * stride : (last - start) * stride, :]
            frames.append(keep)
        wav = self.front.synthesis(torch.cat(frames, dim=-2))[..., :length]
        return wav.mean(dim=1, keepdim=True) if channels == 1 else wav

    def forward(self, wav: Tensor, n_q: int | None = None) -> SpectroStreamOutput:
        """Encode, quantise (bypass/dropout in training) and decode ``wav [B, C, T]``."""
        result = self.quantizer(self.embed(wav), n_q)
        return SpectroStreamOutput(
            wav=self.synthesize(result.z_q, wav.shape[-1], wav.shape[1]),
            codes=result.codes,
            commitment_loss=result.commitment_loss,
        )
