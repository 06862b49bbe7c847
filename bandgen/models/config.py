"""Frozen config dataclasses of the bandgen models, with the paper-size and CPU-size presets.

Recipes (YAML) map 1:1 onto these through :mod:`bandgen.config` (``NSBGConfig.from_dict``
rejects unknown keys; ``to_dict`` is what gets saved as JSON beside the weights).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from bandgen.config import Config
from bandgen.errors import ConfigError

__all__ = ["GENERATORS", "NSBGConfig"]

GENERATORS = ("seanet", "patch")
"""Band generators of :class:`NSBGConfig` (``generator``)."""


@dataclass(frozen=True)
class NSBGConfig(Config):
    """Hyper-parameters of n-SBG (paper ``000``; ``HYPERPARAMETERS.md`` §1).

    Band layout (PQMF bands of 750 Hz at 48 kHz):

    Args:
        k_c: first generated band; bands ``0..k_c-1`` come from the core (5 -> 3.75 kHz).
        k_h: last generated band (14 at 12 kbps -> 11.25 kHz; 15 at 16 kbps -> 12 kHz).
        num_bands: PQMF bands (32).
        pqmf_taps: PQMF prototype length (481).
        pqmf_beta: Kaiser beta of the prototype (9).
        n_fft: STFT size = hop of the SBG encoder; one SBG parameter frame per ``n_fft`` samples.
        channels: SEANet base width ``C`` (64).
        strides: SEANet encoder strides (1, 2, 2, 2); their product times ``num_bands`` must
            divide ``n_fft``.
        dilations: residual-unit dilations (1, 3, 9).
        kernel_size: SEANet conv_in / bottleneck / conv_out kernel (7).
        encoder_widths: channels of the 4 ResNet stages of the SBG encoder (64 ... 512).
        encoder_blocks: BasicBlocks per stage (2, 2, 2, 2).
        patch_dim: SBG parameter dims per frequency patch (32 -> 320-d at 12 kbps).
        causal_pool: time-causal max-pool in the SBG encoder (the reference looks 1 frame ahead).
        n_q: RVQ stages ``N_q`` (11 at 12 kbps, 13 at 16 kbps).
        codebook_size: entries per codebook (1024 -> 10 bits).
        codebook_dim: factorised code size (8).
        quantizer_dropout: DAC quantiser dropout fraction (0.5).
        blind: no SBG encoder and no RVQ: zero side information (paper §4.4 "Blind SBG").
        edge_notch: taps of the :class:`~bandgen.nn.edge_notch.BandEdgeNotch` on the generated
            sub-bands (0: none, as the paper). Not in the paper; parameter-free, so weights
            trained without it load with it.
        generator: ``seanet`` (the paper's multi-band SEANet with the 2-D ResNet side-info
            encoder) or ``patch`` (:mod:`bandgen.nn.patch_envelope`: patched core bands
            shaped by learned gains and noise, with the envelope side-info encoder; not in the
            paper, trains within CPU hours). ``channels``, ``strides``, ``dilations``,
            ``kernel_size``, ``encoder_*``, ``patch_dim`` and ``edge_notch`` are SEANet's.
        patch_channels: width of the patch generator's and envelope encoder's nets.
        latent_dim: side-info latent size per frame of the envelope encoder (patch only).
        patch_span: how many core bands below ``k_c`` the patch copies from (patch only; an
            even number, ``k_c - patch_span >= 1``): 4 (0.75-3.75 kHz for ``k_c = 5``); 8 for
            an 8 kHz crossover (bands 2..9, 1.5-7.5 kHz).
    """

    k_c: int = 5
    k_h: int = 14
    num_bands: int = 32
    pqmf_taps: int = 481
    pqmf_beta: float = 9.0
    n_fft: int = 2048
    channels: int = 64
    strides: tuple[int, ...] = (1, 2, 2, 2)
    dilations: tuple[int, ...] = (1, 3, 9)
    kernel_size: int = 7
    encoder_widths: tuple[int, ...] = (64, 128, 256, 512)
    encoder_blocks: tuple[int, ...] = (2, 2, 2, 2)
    patch_dim: int = 32
    causal_pool: bool = True
    n_q: int = 11
    codebook_size: int = 1024
    codebook_dim: int = 8
    quantizer_dropout: float = 0.5
    blind: bool = False
    edge_notch: int = 0
    generator: str = "seanet"
    patch_channels: int = 64
    latent_dim: int = 64
    patch_span: int = 4

    def __post_init__(self) -> None:
        if not 0 < self.k_c <= self.k_h < self.num_bands:
            raise ConfigError(
                f"need 0 < k_c <= k_h < num_bands; got k_c={self.k_c}, k_h={self.k_h}, "
                f"num_bands={self.num_bands}"
            )
        hop = self.num_bands
        for s in self.strides:
            hop *= s
        if self.n_fft % hop:
            raise ConfigError(
                f"n_fft={self.n_fft} must be a multiple of num_bands * prod(strides) = {hop}"
            )
        if self.generator == "patch" and (
            self.patch_span < 2 or self.patch_span % 2 or self.k_c - self.patch_span < 1
        ):
            raise ConfigError(
                f"patch_span must be even, >= 2 and at most k_c - 1; got patch_span="
                f"{self.patch_span} with k_c={self.k_c}"
            )
        if len(self.encoder_widths) != len(self.encoder_blocks):
            raise ConfigError("encoder_widths and encoder_blocks must have the same length")
        if self.generator not in GENERATORS:
            raise ConfigError(
                f"generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}"
            )
        if not self.blind and self.n_q < 1:
            raise ConfigError(f"n_q must be >= 1 unless blind, got {self.n_q}")

    @property
    def num_generated(self) -> int:
        """Generated sub-bands ``k_h - k_c + 1`` (10 at 12 kbps, 11 at 16 kbps)."""
        return self.k_h - self.k_c + 1

    @property
    def num_bins(self) -> int:
        """STFT bins fed to the SBG encoder: 32 per generated band at ``n_fft = 2048``."""
        return self.num_generated * (self.n_fft // (2 * self.num_bands))

    @property
    def frame_rate_hz(self) -> float:
        """SBG parameter frames per second at 48 kHz (23.4375)."""
        return 48_000 / self.n_fft

    @property
    def side_info_kbps(self) -> float:
        """Side-info bit-rate with all stages: ``n_q * log2(codebook_size) * 48000 / n_fft``."""
        if self.blind:
            return 0.0
        return self.n_q * math.log2(self.codebook_size) * self.frame_rate_hz / 1000

    @classmethod
    def paper_12k(cls) -> NSBGConfig:
        """Paper size, 12 kbps mode: bands 5..14 generated, 11 x 10 bit x 23.4 Hz = 2.58 kbps."""
        return cls(k_c=5, k_h=14, n_q=11)

    @classmethod
    def paper_16k(cls) -> NSBGConfig:
        """Paper size, 16 kbps mode: bands 5..15 generated, 13 stages = 3.05 kbps."""
        return cls(k_c=5, k_h=15, n_q=13)

    @classmethod
    def cpu_12k(cls) -> NSBGConfig:
        """CPU size, 12 kbps mode: ``C = 16`` and encoder widths 16..128 (~1/16 of the FLOPs).

        Adds the 64-tap band-edge notch: a model trained for hours rather than days leaves
        steady tones on the PQMF band edges (see :mod:`bandgen.nn.edge_notch`).
        """
        return dataclasses.replace(
            cls.paper_12k(), channels=16, encoder_widths=(16, 32, 64, 128), edge_notch=64
        )

    @classmethod
    def cpu_16k(cls) -> NSBGConfig:
        """CPU size, 16 kbps mode (as :meth:`cpu_12k` with bands 5..15 and 13 stages)."""
        return dataclasses.replace(
            cls.paper_16k(), channels=16, encoder_widths=(16, 32, 64, 128), edge_notch=64
        )

    @classmethod
    def cpu_patch_12k(cls) -> NSBGConfig:
        """CPU size, 12 kbps, patch generator (bands 5..14, 11 stages of 10 bit)."""
        return dataclasses.replace(cls.paper_12k(), generator="patch")

    @classmethod
    def cpu_patch_16k(cls) -> NSBGConfig:
        """CPU size, 16 kbps, patch generator, full band: bands 5..21 (to 16.5 kHz), 13 stages."""
        return dataclasses.replace(cls.paper_16k(), k_h=21, generator="patch")

    @classmethod
    def cpu_patch_24k(cls) -> NSBGConfig:
        """CPU size, 24 kbps, patch generator, full band: bands 5..26 (to 20.25 kHz), 16 stages."""
        return dataclasses.replace(cls.paper_16k(), k_h=26, n_q=16, generator="patch")

    @classmethod
    def debug(cls) -> NSBGConfig:
        """Toy size for tests: ``C = 4``, widths 4..16, 3 stages of 64-entry codebooks."""
        return cls(
            channels=4,
            encoder_widths=(4, 8, 8, 16),
            encoder_blocks=(1, 1, 1, 1),
            patch_dim=4,
            n_q=3,
            codebook_size=64,
            codebook_dim=4,
        )
