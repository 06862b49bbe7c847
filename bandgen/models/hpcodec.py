"""HP-codec: a two-branch DAC codec with harmonic and percussive RVQ sections (paper ``004``).

Layout (``HYPERPARAMETERS.md`` §4 gives the numbers):

- **Low branch** (16 kHz, content up to 8 kHz): a DAC encoder (:mod:`bandgen.nn.dac`, rates
  2, 2, 5, 8: hop 160, 100 tokens/s), RVQ sections, a DAC decoder (rates 8, 5, 2, 2). Its input
  is the 48 kHz signal decimated by 3 inside the model (:class:`SincResampler`).
- **High branch** (48 kHz): the same at rates 2, 5, 6, 8 (hop 480, 100 tokens/s), coding the
  residual ``x48 - up3(low reconstruction)``; the full-band output (the code's ``final_sum``)
  is ``up3(low reconstruction) + high output``.
- **RVQ sections**: per branch a *harmonic* and a *percussive* section of 3 DAC factorised
  codebooks each (:class:`~bandgen.quantization.rvq.ResidualVectorQuantizer`, 1024 x 8-d).
  Each section is its own residual chain over the *same* latent; the decoder gets the sum of
  the sections' outputs. Codes are section-major: ``[B, 6, N]`` holds the harmonic codebooks
  0..2, then the percussive 3..5. 6 codebooks x 10 bits x 100 tokens/s = 6 kbps per branch.

Why the released code's sections (harmonic + percussive, 3 codebooks each) rather than the
paper's (harmonic + percussive + residual, 2 each): the code is what produced the published
weights and its settings are stated exactly (HP §4 [C]), while the paper's residual section is
only trained in "full" steps and the paper gives no result that depends on it; a 3-deep chain
per section also lets one section alone (a harmonic step, HP-codecX's per-section transformer)
reach a usable quality. The bit-rate is the same either way.

Training objectives (:meth:`HPCodec.forward`): ``sections=None`` quantises with every section
("full" step); ``"harmonic"`` / ``"percussive"`` with that section only, so the other section
gets no gradient (a section step, on that HPSS component). ``branch`` picks what runs with
gradients: ``"low"`` (cascade phase 1), ``"high"`` (phase 2: the low branch runs without
gradients and gives the residual), ``"both"`` (phase 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.config import Config
from bandgen.dsp.sinc_resample import SincResampler
from bandgen.errors import ConfigError
from bandgen.nn.dac import DACDecoder, DACEncoder
from bandgen.quantization.rvq import ResidualVectorQuantizer

__all__ = ["SECTIONS", "BranchOutput", "HPCodec", "HPCodecConfig", "HPCodecOutput"]

SAMPLE_RATE = 48_000
LOW_RATE = 16_000
SECTIONS = ("harmonic", "percussive")
"""RVQ sections, in code order."""
BRANCHES = ("low", "high", "both")


@dataclass(frozen=True)
class HPCodecConfig(Config):
    """Hyper-parameters of HP-codec (paper ``004``; HP §4).

    Args:
        d_model: channels of each encoder's first conv (64); latent ``d_model 2^4``.
        low_rates: encoder strides of the 16 kHz branch (2, 2, 5, 8: hop 160); the decoder's
            are reversed.
        high_rates: encoder strides of the 48 kHz branch (2, 5, 6, 8: hop 480).
        decoder_dim: channels of each decoder's first conv (1536).
        codebook_size: entries per codebook (1024: 10 bits).
        codebook_dim: factorised code size (8).
        codebooks_per_section: RVQ depth of each section (3).
        quantizer_dropout: DAC quantiser dropout within a section (0: the codec always sends
            all 6 codebooks of a branch).
        reseed_dead_codes: re-seed unused codebook entries in training
            (:class:`~bandgen.quantization.rvq.FactorizedVQ`; not in the paper). The CPU preset
            sets it, with ``high_input_gain`` and ``quiet_start``: without the three its first
            run's 48 kHz branch kept one entry per codebook (0 bits) and a saturated output;
            with them, 6.8 bits per codebook after 1 600 phase-2 steps.
        high_input_gain: fixed gain on the 48 kHz branch's encoder input (1: the paper). At
            gain 1 and with fresh weights, ~99 % of the CPU size's latent energy is one
            time-constant vector (the Snake offsets; residual std 0.06 on a dev music clip), so
            every frame quantises to the same code; at 16 (the CPU preset) that share is ~50 %. The decoder's output is not
            scaled: it learns the residual's level itself.
        quiet_start: both decoders start with an output of about 0
            (:class:`~bandgen.nn.dac.DACDecoder`); the CPU preset sets it.
    """

    d_model: int = 64
    low_rates: tuple[int, ...] = (2, 2, 5, 8)
    high_rates: tuple[int, ...] = (2, 5, 6, 8)
    decoder_dim: int = 1536
    codebook_size: int = 1024
    codebook_dim: int = 8
    codebooks_per_section: int = 3
    quantizer_dropout: float = 0.0
    reseed_dead_codes: bool = False
    high_input_gain: float = 1.0
    quiet_start: bool = False

    def __post_init__(self) -> None:
        hop_low, hop_high = _prod(self.low_rates), _prod(self.high_rates)
        if hop_high != 3 * hop_low:
            raise ConfigError(
                f"the branches must give the same tokens per second: the 48 kHz hop "
                f"({hop_high}) must be 3 x the 16 kHz hop ({hop_low})"
            )
        if len(self.low_rates) != len(self.high_rates):
            raise ConfigError("low_rates and high_rates need the same number of blocks")
        if self.decoder_dim % 2 ** len(self.low_rates):
            raise ConfigError(f"decoder_dim must be divisible by {2 ** len(self.low_rates)}")
        if not self.high_input_gain > 0:
            raise ConfigError(f"high_input_gain must be > 0, got {self.high_input_gain}")
        if self.d_model < 1 or self.codebooks_per_section < 1:
            raise ConfigError("d_model and codebooks_per_section must be >= 1")

    @classmethod
    def paper(cls) -> HPCodecConfig:
        """The paper's and released code's size (HP §4)."""
        return cls()

    @classmethod
    def cpu(cls) -> HPCodecConfig:
        """A size that trains on a few CPU cores (same rates and codebooks: 6 kbps/branch)."""
        return cls(
            d_model=8,
            decoder_dim=64,
            reseed_dead_codes=True,
            high_input_gain=16.0,
            quiet_start=True,
        )

    @classmethod
    def debug(cls) -> HPCodecConfig:
        """Tiny, for tests (same rates; small codebooks)."""
        return cls(d_model=2, decoder_dim=16, codebook_size=16, codebook_dim=4)

    @property
    def hop_low(self) -> int:
        """16 kHz samples per token (160)."""
        return _prod(self.low_rates)

    @property
    def hop_high(self) -> int:
        """48 kHz samples per token (480)."""
        return _prod(self.high_rates)

    @property
    def latent_dim(self) -> int:
        """Latent channels ``d_model 2^len(rates)`` (1024)."""
        return self.d_model * 2 ** len(self.low_rates)

    @property
    def kbps_per_branch(self) -> float:
        """Bit-rate of one branch's codes (6.0 at the defaults)."""
        bits = (self.codebook_size - 1).bit_length()
        return len(SECTIONS) * self.codebooks_per_section * bits * LOW_RATE / self.hop_low / 1000


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


@dataclass
class BranchOutput:
    """One branch's pass.

    Attributes:
        wav: reconstruction ``[B, 1, T]`` (16 kHz for the low branch; for the high branch the
            coded residual at 48 kHz).
        codes: ``[B, K, N]`` (int64), the used sections' codebooks, section-major.
        commitment_loss: scalar, summed over the used sections' codebooks.
        codebook_loss: scalar, likewise.
    """

    wav: Tensor
    codes: Tensor
    commitment_loss: Tensor
    codebook_loss: Tensor


@dataclass
class HPCodecOutput:
    """What :meth:`HPCodec.forward` gives.

    Attributes:
        low: the 16 kHz branch (always run; without gradients for ``branch="high"``).
        high: the 48 kHz branch (``None`` for ``branch="low"``).
        residual: the 48 kHz branch's target ``x48 - up3(low.wav)`` ``[B, 1, T48]`` (the low
            reconstruction detached); ``None`` for ``branch="low"``.
        full: the full-band output ``up3(low.wav) + high.wav`` ``[B, 1, T48]``; ``None`` for
            ``branch="low"``.
    """

    low: BranchOutput
    high: BranchOutput | None
    residual: Tensor | None
    full: Tensor | None


class HPBranch(nn.Module):
    """One branch: DAC encoder, harmonic and percussive RVQ sections, DAC decoder."""

    def __init__(
        self, config: HPCodecConfig, rates: tuple[int, ...], input_gain: float = 1.0
    ) -> None:
        super().__init__()
        self.hop = _prod(rates)
        self.input_gain = input_gain
        self.encoder = DACEncoder(config.d_model, rates)
        self.quantizers = nn.ModuleDict(
            {
                name: ResidualVectorQuantizer(
                    config.latent_dim,
                    config.codebooks_per_section,
                    codebook_size=config.codebook_size,
                    codebook_dim=config.codebook_dim,
                    quantizer_dropout=config.quantizer_dropout,
                    reseed_dead=config.reseed_dead_codes,
                )
                for name in SECTIONS
            }
        )
        self.decoder = DACDecoder(
            config.latent_dim,
            config.decoder_dim,
            tuple(reversed(rates)),
            quiet_start=config.quiet_start,
        )
        self.per_section = config.codebooks_per_section

    def _encoder_input(self, wav: Tensor) -> Tensor:
        """The encoder's input: ``wav`` times the input gain, padded to whole hops."""
        frames = -(-wav.shape[-1] // self.hop)
        if self.input_gain != 1.0:
            wav = wav * self.input_gain
        return F.pad(wav, (0, frames * self.hop - wav.shape[-1]))

    def _rvq(self, name: str) -> ResidualVectorQuantizer:
        rvq = self.quantizers[name]
        assert isinstance(rvq, ResidualVectorQuantizer)
        return rvq

    def forward(self, wav: Tensor, sections: tuple[str, ...]) -> BranchOutput:
        """Code and decode ``wav [B, 1, T]`` with ``sections``; the output has ``T`` samples."""
        latents = self.encoder(self._encoder_input(wav))
        z_q = torch.zeros_like(latents)
        codes, commitment, codebook = [], latents.new_zeros(()), latents.new_zeros(())
        for name in sections:
            result = self._rvq(name)(latents)
            z_q = z_q + result.z_q
            codes.append(result.codes)
            commitment = commitment + result.commitment_loss
            codebook = codebook + result.codebook_loss
        out = self.decoder(z_q)[..., : wav.shape[-1]]
        return BranchOutput(out, torch.cat(codes, dim=1), commitment, codebook)

    @torch.no_grad()
    def encode(self, wav: Tensor) -> Tensor:
        """``wav [B, 1, T] -> codes [B, 6, ceil(T / hop)]`` (every section)."""
        latents = self.encoder(self._encoder_input(wav))
        return torch.cat([self._rvq(name).encode(latents) for name in SECTIONS], dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """``codes [B, 6, N] -> wav [B, 1, N hop]``."""
        expected = len(SECTIONS) * self.per_section
        if codes.dim() != 3 or codes.shape[1] != expected:
            raise ValueError(f"codes must be [B, {expected}, N], got {tuple(codes.shape)}")
        z_q = sum(
            self._rvq(name).decode(codes[:, i * self.per_section : (i + 1) * self.per_section])
            for i, name in enumerate(SECTIONS)
        )
        assert isinstance(z_q, Tensor)
        out: Tensor = self.decoder(z_q)
        return out


class HPCodec(nn.Module):
    """HP-codec (module docstring): a 16 kHz and a 48 kHz branch, 6 codebooks each.

    Args:
        config: :class:`HPCodecConfig`.

    Attributes:
        sections: ``("harmonic", "percussive")``, the code order within a branch.
        codebooks_per_section: 3.
        hop_low: 16 kHz samples per token (160).
        hop_high: 48 kHz samples per token (480).
        codebook_size: entries per codebook (1024).
    """

    sections = SECTIONS

    def __init__(self, config: HPCodecConfig) -> None:
        super().__init__()
        self.config = config
        self.codebooks_per_section = config.codebooks_per_section
        self.hop_low = config.hop_low
        self.hop_high = config.hop_high
        self.codebook_size = config.codebook_size
        self.low = HPBranch(config, config.low_rates)
        self.high = HPBranch(config, config.high_rates, config.high_input_gain)
        self.resampler = SincResampler(3)

    # ------------------------------------------------------------------ resampling

    def to_16k(self, x48: Tensor) -> Tensor:
        """``x48 [..., T] -> [..., ceil(T / 3)]``: decimation by 3 (content up to ~7.7 kHz)."""
        return self.resampler.down(x48)

    def to_48k(self, x16: Tensor) -> Tensor:
        """``x16 [..., M] -> [..., 3 M]``: interpolation by 3."""
        return self.resampler.up(x16)

    # ------------------------------------------------------------------ codes

    def encode_low(self, x16: Tensor) -> Tensor:
        """``x16 [B, 1, T16] -> codes [B, 6, ceil(T16 / 160)]``: harmonic codebooks 0..2, then
        percussive 3..5."""
        return self.low.encode(x16)

    def decode_low(self, codes: Tensor) -> Tensor:
        """``codes [B, 6, N] -> x16 [B, 1, 160 N]``."""
        return self.low.decode(codes)

    def encode_high(self, res48: Tensor) -> Tensor:
        """``res48 [B, 1, T48] -> codes [B, 6, ceil(T48 / 480)]`` of the 48 kHz residual."""
        return self.high.encode(res48)

    def decode_high(self, codes: Tensor) -> Tensor:
        """``codes [B, 6, N] -> res48 [B, 1, 480 N]`` (the residual, add ``to_48k(low)``)."""
        return self.high.decode(codes)

    # ------------------------------------------------------------------ training pass

    def forward(
        self,
        x48: Tensor,
        x16: Tensor,
        sections: str | None = None,
        branch: str = "both",
    ) -> HPCodecOutput:
        """One training (or eval) pass.

        Args:
            x48: the 48 kHz signal ``[B, 1, T48]`` (target of the full-band output).
            x16: the 16 kHz signal ``[B, 1, T16]`` (usually ``to_16k(x48)``), ``T48 = 3 T16``.
            sections: ``None`` (all sections), ``"harmonic"`` or ``"percussive"`` (that
                section alone, in both branches; the other gets no gradient).
            branch: ``"low"``, ``"high"`` or ``"both"`` (module docstring).

        Returns:
            :class:`HPCodecOutput`; in eval mode its codes and waveforms equal those of
            ``encode_*`` / ``decode_*`` (trimmed to the input length).
        """
        if branch not in BRANCHES:
            raise ValueError(f"branch must be one of {BRANCHES}, got {branch!r}")
        if sections is not None and sections not in SECTIONS:
            raise ValueError(f"sections must be None or one of {SECTIONS}, got {sections!r}")
        if x48.shape[-1] != 3 * x16.shape[-1]:
            raise ValueError(f"x48 {tuple(x48.shape)} must be 3 x x16 {tuple(x16.shape)} long")
        used = SECTIONS if sections is None else (sections,)
        if branch == "high":
            with torch.no_grad():
                low = self.low(x16, used)
        else:
            low = self.low(x16, used)
        if branch == "low":
            return HPCodecOutput(low, None, None, None)
        low48 = self.to_48k(low.wav)
        residual = x48 - low48.detach()
        high = self.high(residual, used)
        return HPCodecOutput(low, high, residual, low48 + high.wav)
