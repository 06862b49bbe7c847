"""n-SBG: neural spectral band generation (Choi et al., Interspeech 2025; paper ``000``).

Signal path (paper §3, Figure 2; HP §1.1):

```
core_wav48 [B, 1, T] --PQMF--> bands 0..k_c-1 --SEANet encoder half--> skips, h [B, 4C, T/256]
target_wav48 -> log-power STFT (2048/2048), bins of bands k_c..k_h -> ResNet2d(spec, FiLM <- h)
    -> latents [B, D, N] -> RVQ -> z_q [B, D, N]     (codes [B, N_q, N]: the side information)
SEANet decoder half(skips, h, TFiLM <- z_q) -> generated bands k_c..k_h [B, k_h-k_c+1, T/32]
y_hat = PQMF synthesis of [core bands (detached) ; generated bands ; zeros above k_h]
y     = PQMF synthesis of [core bands ; true bands k_c..k_h ; zeros]   (the training target)
```

``forward`` is the training path (quantiser dropout, losses); ``encode`` / ``decode`` are the
inference path built from the same submodules, and in eval mode
``decode(core, encode(target, core)) == forward(core, target).y_hat``. Clips of any length are
zero-padded at the end to a multiple of ``n_fft`` (2048 samples, one SBG frame) and cropped back.
The blind variant (``blind=True``, paper §4.4) has no SBG encoder, no RVQ and no TFiLM.

``generator="patch"`` (not in the paper; the shipped CPU models) swaps the SEANet generator and
the 2-D ResNet encoder for :mod:`bandgen.nn.patch_envelope`: the generated bands are the core's
bands 1..4 patched upwards, shaped per 5.3 ms by gains and a noise share that a small causal
net decodes from core features and the RVQ codes; its encoder codes the target's sub-band
envelope and spectral flatness. Same interface, same RVQ, same bitstream.

Latency: the generator is causal; the side information of a frame describes the 2048 samples it
covers, so the codec works frame by frame (42.7 ms) plus the PQMF's 240-sample alignment delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.dsp.pqmf import PQMF, fill_bands
from bandgen.dsp.stft import sbg_bins, sbg_log_power
from bandgen.errors import ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.nn.patch_envelope import (
    EnvelopeEncoder,
    PatchEmbedding,
    PatchEnvelopeGenerator,
    band_flatness,
)
from bandgen.nn.resnet2d import ResNet2dEncoder
from bandgen.nn.seanet import CoreEmbedding, SEANetGenerator
from bandgen.quantization.rvq import ResidualVectorQuantizer

__all__ = ["NSBG", "NSBGOutput", "bound_generated"]

PATCH_HOP = 8
"""Sub-band samples per parameter step of the patch generator (256 samples, 5.3 ms)."""
HIGH_OVER_CORE_DB = 12.0
"""Decode-time ceiling of the generated bands' power over the core's, per :data:`PATCH_HOP`."""
HIGH_BAND_FREE_POWER = 0.1
"""Generated-band power (summed sub-band power, -10 dB re a unit-power signal; a full-scale
sine is -3 dB) allowed whatever the core: fricatives and cymbals over a quiet core reach
+45 dB over the core on the dev set, but at most -17 dB."""

Embedding = CoreEmbedding | PatchEmbedding
"""The generator's core features: SEANet's skips and bottleneck, or the patch features."""


def bound_generated(core_bands: Tensor, high_bands: Tensor, hop: int = PATCH_HOP) -> Tensor:
    """Scale the generated bands down where they are both loud and far above the core.

    A safety bound for decoding damaged or forged side info (not in paper ``000``, never in
    training): per hop of ``hop`` sub-band samples, the generated bands' summed power is held
    to at most :data:`HIGH_OVER_CORE_DB` over the core bands' summed power or
    :data:`HIGH_BAND_FREE_POWER`, whichever is more. Hops within the bound are returned bit for
    bit; each hop depends on its own samples only, so stream windows that start on a hop give
    the offline result.

    Shape:
        ``core_bands [B, k_c, T]``, ``high_bands [B, G, T] -> [B, G, T]``, ``T`` a multiple of
        ``hop``.
    """
    core_power = F.avg_pool1d(core_bands.square().sum(1, keepdim=True), hop, hop)
    high_power = F.avg_pool1d(high_bands.square().sum(1, keepdim=True), hop, hop)
    ceiling = (core_power * 10 ** (HIGH_OVER_CORE_DB / 10)).clamp_min(HIGH_BAND_FREE_POWER)
    over = high_power > ceiling
    if not bool(over.any()):
        return high_bands
    scale = torch.where(over, torch.sqrt(ceiling / high_power), torch.ones_like(high_power))
    return high_bands * scale.repeat_interleave(hop, dim=-1)


@dataclass
class NSBGOutput:
    """What :meth:`NSBG.forward` returns for one training batch.

    Attributes:
        y_hat: full-band output ``[B, 1, T]`` (core bands, generated bands, zeros above ``k_h``).
        y: target ``[B, 1, T]`` (core bands, true bands ``k_c..k_h``, zeros above), HP §1.1.
        bands_hat: generated sub-bands ``[B, k_h - k_c + 1, T_pad / 32]``.
        target_bands: the target's sub-bands ``k_c..k_h``, same shape.
        codes: RVQ codes ``[B, K, N]`` (``K = 0`` for the blind variant), ``N = T_pad / n_fft``.
        commitment_loss: RVQ commitment loss (scalar; 0 when blind).
        codebook_loss: RVQ codebook loss (scalar; 0 when blind).
    """

    y_hat: Tensor
    y: Tensor
    bands_hat: Tensor
    target_bands: Tensor
    codes: Tensor
    commitment_loss: Tensor
    codebook_loss: Tensor


class NSBG(nn.Module):
    """The n-SBG encoder, quantiser and decoder as one module (paper ``000`` §3).

    Args:
        config: hyper-parameters; see :class:`NSBGConfig` and its presets.

    Shape:
        ``forward(core_wav48 [B, 1, T], target_wav48 [B, 1, T]) -> NSBGOutput``;
        ``encode(target_wav48, core_wav48) -> codes [B, K, ceil(T / n_fft)]``;
        ``decode(core_wav48 [B, 1, T], codes) -> wav48 [B, 1, T]``.
    """

    def __init__(self, config: NSBGConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = NSBGConfig() if config is None else config
        self.pqmf = PQMF(cfg.num_bands, cfg.pqmf_taps, cfg.pqmf_beta)
        self.encoder: ResNet2dEncoder | EnvelopeEncoder | None = None
        self.quantizer: ResidualVectorQuantizer | None = None
        self.generator: SEANetGenerator | PatchEnvelopeGenerator
        if cfg.generator == "patch":
            self._build_patch(cfg)
        else:
            self._build_seanet(cfg)

    def _build_seanet(self, cfg: NSBGConfig) -> None:
        hop = cfg.num_bands
        for s in cfg.strides:
            hop *= s
        latent_dim = None
        if not cfg.blind:
            self.encoder = ResNet2dEncoder(
                num_bins=cfg.num_bins,
                widths=cfg.encoder_widths,
                blocks=cfg.encoder_blocks,
                patch_dim=cfg.patch_dim,
                cond_channels=4 * cfg.channels,
                cond_stride=cfg.n_fft // hop,
                causal_pool=cfg.causal_pool,
            )
            latent_dim = self.encoder.out_dim
            self.quantizer = self._quantizer(cfg, latent_dim)
        self.generator = SEANetGenerator(
            in_bands=cfg.k_c,
            out_bands=cfg.num_generated,
            channels=cfg.channels,
            strides=cfg.strides,
            dilations=cfg.dilations,
            kernel_size=cfg.kernel_size,
            cond_dim=latent_dim,
            edge_notch=cfg.edge_notch,
        )

    def _build_patch(self, cfg: NSBGConfig) -> None:
        frame_hops = cfg.n_fft // (cfg.num_bands * PATCH_HOP)
        if cfg.n_fft % (cfg.num_bands * PATCH_HOP):
            raise ConfigError(f"n_fft must be a multiple of {cfg.num_bands * PATCH_HOP}")
        latent_dim = None
        if not cfg.blind:
            self.encoder = EnvelopeEncoder(
                num_bands=cfg.num_generated,
                cond_channels=cfg.patch_channels,
                channels=cfg.patch_channels,
                latent_dim=cfg.latent_dim,
                hop=PATCH_HOP,
                frame_hops=frame_hops,
            )
            latent_dim = cfg.latent_dim
            self.quantizer = self._quantizer(cfg, latent_dim)
        self.generator = PatchEnvelopeGenerator(
            k_c=cfg.k_c,
            k_h=cfg.k_h,
            span=cfg.patch_span,
            channels=cfg.patch_channels,
            cond_dim=latent_dim,
            hop=PATCH_HOP,
            frame_hops=frame_hops,
        )

    @staticmethod
    def _quantizer(cfg: NSBGConfig, latent_dim: int) -> ResidualVectorQuantizer:
        return ResidualVectorQuantizer(
            latent_dim,
            cfg.n_q,
            codebook_size=cfg.codebook_size,
            codebook_dim=cfg.codebook_dim,
            quantizer_dropout=cfg.quantizer_dropout,
        )

    # -- shared pieces -------------------------------------------------------------------------

    def _pad(self, wav: Tensor, name: str) -> Tensor:
        """Check ``wav [B, 1, T]`` and zero-pad it at the end to a multiple of ``n_fft``."""
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"{name} must be mono wav [B, 1, T], got {tuple(wav.shape)}")
        return F.pad(wav, (0, -wav.shape[-1] % self.config.n_fft))

    @staticmethod
    def _check_pair(core_wav48: Tensor, target_wav48: Tensor) -> None:
        if core_wav48.shape != target_wav48.shape:
            raise ValueError(
                f"core and target shapes differ: {tuple(core_wav48.shape)} vs "
                f"{tuple(target_wav48.shape)}; pass sample-aligned clips of equal length"
            )

    def _core(self, core_wav48: Tensor) -> tuple[Tensor, Embedding]:
        """Core sub-bands ``[B, k_c, T_pad / 32]`` of the padded core and their embedding."""
        core_bands = self.pqmf.analysis(core_wav48, bands=self.config.k_c)
        return core_bands, self.embed(core_bands)

    def embed(self, core_bands: Tensor) -> Embedding:
        """The generator's core features (``.h`` conditions the side-info encoder, §3.3)."""
        return self.generator.embed(core_bands)

    def _target_bands(self, target_wav48: Tensor) -> Tensor:
        """The target's sub-bands ``k_c..k_h`` ``[B, k_h - k_c + 1, ceil(T / 32)]``."""
        cfg = self.config
        return self.pqmf.analysis(target_wav48, bands=cfg.k_h + 1)[:, cfg.k_c :]

    def latents(
        self, target_wav48: Tensor, embedding: Embedding, *, target_bands: Tensor | None = None
    ) -> Tensor:
        """Side-info encoder: padded target ``[B, 1, T']`` and the core embedding -> ``latents
        [B, D, N]`` (§3.1). ``N`` is the embedding's frame count; the target may run past it
        (a stream's look-ahead for the PQMF analysis). ``target_bands``: the target's bands
        ``k_c..k_h`` when the caller has them already (the envelope encoder reads them)."""
        cfg = self.config
        if self.encoder is None:
            raise RuntimeError("the blind variant has no SBG encoder")
        frames = embedding.h.shape[-1] * cfg.num_bands * self.generator.hop_length // cfg.n_fft
        per_band = cfg.n_fft // (2 * cfg.num_bands)
        if isinstance(self.encoder, EnvelopeEncoder):
            if target_bands is None:
                target_bands = self._target_bands(target_wav48)
            bands = target_bands[..., : frames * cfg.n_fft // cfg.num_bands]
            power = sbg_log_power(
                target_wav48[..., : frames * cfg.n_fft], n_fft=cfg.n_fft, normalize=False
            )
            flatness = band_flatness(10 ** (power / 10), cfg.k_c, cfg.k_h, per_band)
            return self.encoder(bands, flatness, embedding.h)
        spec = sbg_log_power(target_wav48[..., : frames * cfg.n_fft], n_fft=cfg.n_fft)
        spec = spec[:, sbg_bins(cfg.k_c, cfg.k_h, bins_per_band=per_band)]
        return self.encoder(spec[:, None], embedding.h)

    def generate(self, embedding: Embedding, z_q: Tensor | None, offset: int = 0) -> Tensor:
        """Generated bands ``[B, k_h - k_c + 1, T / 32]``; ``offset``: absolute sub-band time of
        the first sample (the patch generator's noise depends on it; SEANet ignores it)."""
        if isinstance(self.generator, PatchEnvelopeGenerator):
            assert isinstance(embedding, PatchEmbedding)
            return self.generator.generate(embedding, z_q, offset)
        assert isinstance(embedding, CoreEmbedding)
        return self.generator.generate(embedding, z_q)

    def _synthesize(self, core_bands: Tensor, high_bands: Tensor, length: int) -> Tensor:
        """PQMF synthesis of ``[core ; high ; zeros]`` cropped to ``[B, 1, length]``."""
        bands = fill_bands([core_bands, high_bands], self.config.num_bands)
        return self.pqmf.synthesis(bands)[..., :length]

    def _empty_codes(self, batch: int, frames: int, device: torch.device) -> Tensor:
        return torch.zeros(batch, 0, frames, dtype=torch.long, device=device)

    @property
    def frame_length(self) -> int:
        """Samples per side-info frame at 48 kHz (``n_fft``, 2048)."""
        return self.config.n_fft

    @property
    def side_info_kbps(self) -> float:
        """Side-info bit-rate with all RVQ stages (0 for the blind variant)."""
        return self.config.side_info_kbps

    # -- training ------------------------------------------------------------------------------

    def forward(
        self,
        core_wav48: Tensor,
        target_wav48: Tensor,
        n_q: int | None = None,
        *,
        synthesize: bool = True,
    ) -> NSBGOutput:
        """Training pass: ``core_wav48, target_wav48 [B, 1, T]`` -> :class:`NSBGOutput`.

        ``core_wav48`` is the decoded core codec output and ``target_wav48`` the original, both
        at 48 kHz and sample-aligned. ``n_q`` limits the RVQ stages (default all; quantiser
        dropout applies on top in training mode). In eval mode the generated bands are bounded
        as :meth:`decode` bounds them (:func:`bound_generated`); never in training.
        """
        self._check_pair(core_wav48, target_wav48)
        length = core_wav48.shape[-1]
        core = self._pad(core_wav48, "core_wav48")
        target = self._pad(target_wav48, "target_wav48")
        core_bands, embedding = self._core(core)
        frames = core.shape[-1] // self.config.n_fft
        target_bands = self._target_bands(target)
        zero = core.new_zeros(())
        if self.quantizer is None:
            z_q = None
            codes = self._empty_codes(core.shape[0], frames, core.device)
            commitment, codebook = zero, zero
        else:
            latents = self.latents(target, embedding, target_bands=target_bands)
            quantized = self.quantizer(latents, n_q)
            z_q, codes = quantized.z_q, quantized.codes
            commitment, codebook = quantized.commitment_loss, quantized.codebook_loss
        offset = 0
        if self.training and isinstance(self.generator, PatchEnvelopeGenerator):
            offset = self.generator.random_offset()
        bands_hat = self.generate(embedding, z_q, offset)
        if not self.training:  # as decode does: eval forward == decode(encode)
            bands_hat = bound_generated(core_bands, bands_hat)
        if synthesize:
            y_hat = self._synthesize(core_bands.detach(), bands_hat, length)
            y = self._synthesize(core_bands, target_bands, length)
        else:
            y_hat = y = core.new_zeros(core.shape[0], 1, 0)
        return NSBGOutput(
            y_hat=y_hat,
            y=y,
            bands_hat=bands_hat,
            target_bands=target_bands,
            codes=codes,
            commitment_loss=commitment,
            codebook_loss=codebook,
        )

    # -- inference -----------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, target_wav48: Tensor, core_wav48: Tensor, n_q: int | None = None) -> Tensor:
        """Side information: ``target_wav48, core_wav48 [B, 1, T] -> codes [B, n_q, N]``.

        ``N = ceil(T / n_fft)`` frames; ``n_q`` (default all) drops the last stages for a lower
        bit-rate (paper §4.2). The blind variant returns ``[B, 0, N]``.
        """
        self._check_pair(core_wav48, target_wav48)
        target = self._pad(target_wav48, "target_wav48")
        core = self._pad(core_wav48, "core_wav48")
        if self.quantizer is None:
            return self._empty_codes(
                core.shape[0], core.shape[-1] // self.config.n_fft, core.device
            )
        _, embedding = self._core(core)
        return self.quantizer.encode(self.latents(target, embedding), n_q)

    def decode(
        self, core_wav48: Tensor, codes: Tensor | None = None, *, keep_bands: int | None = None
    ) -> Tensor:
        """Regenerate the high band: ``core_wav48 [B, 1, T]``, ``codes [B, K, N] -> [B, 1, T]``.

        ``K`` may be fewer than ``n_q`` stages; ``codes`` is ignored (may be ``None``) when blind.
        The generated bands are held within :func:`bound_generated` of the core.
        ``keep_bands`` (default ``k_c``): PQMF bands of the decoded core kept in the output,
        from band 0 up; the generated bands replace only those above (see :meth:`splice`).
        """
        length = core_wav48.shape[-1]
        core = self._pad(core_wav48, "core_wav48")
        keep = self.check_core_bands(keep_bands)
        kept = self.pqmf.analysis(core, bands=keep)
        core_bands = kept[:, : self.config.k_c]
        embedding = self.embed(core_bands)
        z_q = None
        if self.quantizer is not None:
            frames = core.shape[-1] // self.config.n_fft
            if codes is None or codes.shape[0] != core.shape[0] or codes.shape[-1] != frames:
                got = None if codes is None else tuple(codes.shape)
                raise ValueError(f"codes must be [{core.shape[0]}, K, {frames}], got {got}")
            z_q = self.quantizer.decode(codes)
        bands_hat = bound_generated(core_bands, self.generate(embedding, z_q))
        return self._synthesize(*self.splice(kept, bands_hat), length)

    def check_core_bands(self, core_bands: int | None) -> int:
        """The number of core bands to keep: ``core_bands`` checked, ``k_c`` if ``None``.

        Raises:
            ConfigError: outside ``[k_c, k_h + 1]``.
        """
        cfg = self.config
        if core_bands is None:
            return cfg.k_c
        if not cfg.k_c <= core_bands <= cfg.k_h + 1:
            raise ConfigError(
                f"core_bands must be between {cfg.k_c} (the model's crossover) and "
                f"{cfg.k_h + 1} (its top band + 1), got {core_bands}"
            )
        return core_bands

    def splice(self, kept: Tensor, bands_hat: Tensor) -> tuple[Tensor, Tensor]:
        """The decoded core's bands ``kept [B, K, N]`` (``k_c <= K <= k_h + 1``) and the
        generated bands ``k_c..k_h`` ``[B, G, N]`` -> the core's ``K`` bands and the generated
        bands above them, ready for :meth:`_synthesize`.

        Not in paper ``000``: a core coded wider than the model's crossover (the 24 kbps mode's
        AAC core reaches 8 kHz, the model's crossover is 3.75 kHz) keeps its own bands up to
        where it stops; the model, its side info and the bands above are unchanged.
        """
        return kept, bands_hat[:, kept.shape[1] - self.config.k_c :]
