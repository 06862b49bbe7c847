"""DSP-structured band generation: patched core sub-bands shaped by learned gains and noise.

The n-SBG paper's generator (a multi-band SEANet, :mod:`bandgen.nn.seanet`) must learn onsets,
harmonics and levels from scratch, which takes far more compute than a CPU affords. This module
gives the same decoder interface a structure that supplies most of that for free, in the way
classic SBR does on QMF bands:

```
core bands [B, k_c, T] (PQMF, 750 Hz each)
  patch:  generated band k <- core band src(k) = k - 4 * ceil((k - 4) / 4)  (bands 1..4;
          an even band shift keeps the spectrum upright, so harmonics stay harmonic and
          transients keep their timing)
  noise:  a fixed Gaussian sequence per generated band, indexed by absolute sub-band time,
          shaped by the core's short-time envelope (so it starts at onsets as well)
  params: per hop of 8 sub-band samples (5.3 ms) and band: log-gain a and noise share m,
          decoded by a small causal conv net from core features and the side info
  band_k = exp(a_k) * (sqrt(1 - m_k) * patch_k + sqrt(m_k) * noise_k)
```

The network only decides levels and tonality, so it trains with the spectral losses alone in
minutes to hours on a CPU. :class:`EnvelopeEncoder` is the matching side-info encoder: the
target's sub-band log-energies at the same 5.3 ms resolution and its per-band spectral flatness,
brought to the 2048-sample frame rate of the RVQ.

Causality: everything is causal in blocks of ``hop`` sub-band samples, plus the side-info
frame containing a sample (as the SEANet generator); :attr:`PatchEnvelopeGenerator.past`
is the reach into the past, derived from the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.nn.conv import CausalConv1d
from bandgen.nn.seanet import ResidualUnit

__all__ = ["EnvelopeEncoder", "PatchEmbedding", "PatchEnvelopeGenerator", "patch_sources"]

LOG_FLOOR = 1e-10
"""Power floor of the log-energy features (-100 dB)."""
GAIN_BIAS = -2.3
"""Initial log-gain of the patch (-20 dB): a typical high band relative to 0.75-3.75 kHz."""
NOISE_PERIOD = 8192
"""Length of the fixed noise sequence per band, sub-band samples (5.5 s at 48 kHz)."""


def patch_sources(k_c: int, k_h: int, span: int = 4) -> list[int]:
    """Core band copied into each generated band ``k_c..k_h``:
    ``k - span * ceil((k - k_c + 1) / span)``.

    Sources are the ``span`` core bands below ``k_c`` (``span = 4``, ``k_c = 5``: bands 1..4,
    0.75-3.75 kHz) shifted by multiples of ``span`` bands, an even number of PQMF bands so that
    the copied spectrum is not mirrored. Needs an even ``span`` and ``k_c - span >= 1`` (band 0
    holds DC and is never copied).
    """
    if span < 2 or span % 2 or k_c - span < 1:
        raise ValueError(
            f"patching needs an even span of core bands above band 0; got span={span}, k_c={k_c}"
        )
    return [k - span * -(-(k - k_c + 1) // span) for k in range(k_c, k_h + 1)]


def log_energy(bands: Tensor, hop: int) -> Tensor:
    """Scaled log of the mean power per hop: ``[B, K, T] -> [B, K, T / hop]``, about -1..3."""
    power = F.avg_pool1d(bands.square(), hop, hop)
    return (torch.log(power + LOG_FLOOR) + 10.0) / 5.0


@dataclass
class PatchEmbedding:
    """What :meth:`PatchEnvelopeGenerator.embed` gives :meth:`~PatchEnvelopeGenerator.generate`.

    Attributes:
        h: core features ``[B, C, T / hop]``; also the SBG encoder's conditioning.
        core_bands: the core sub-bands ``[B, k_c, T]`` the patch copies.
    """

    h: Tensor
    core_bands: Tensor


class PatchEnvelopeGenerator(nn.Module):
    """Patch + envelope band generator (module docstring); not in paper ``000``.

    Args:
        k_c: first generated band (core bands ``0..k_c-1``).
        k_h: last generated band.
        span: core bands the patch copies from (:func:`patch_sources`).
        channels: width of the feature and parameter nets.
        cond_dim: side-info latent size (``None``: blind).
        hop: sub-band samples per parameter step (8).
        frame_hops: parameter steps per side-info frame (``n_fft / (num_bands * hop)`` = 8).

    Shape:
        ``embed(core_bands [B, k_c, T]) -> PatchEmbedding`` (``T`` a multiple of ``hop``);
        ``generate(embedding, cond [B, cond_dim, T / (hop * frame_hops)] | None, offset)
        -> bands [B, k_h - k_c + 1, T]``.
    """

    sources: Tensor
    noise: Tensor

    def __init__(
        self,
        *,
        k_c: int,
        k_h: int,
        span: int = 4,
        channels: int = 64,
        cond_dim: int | None = None,
        hop: int = 8,
        frame_hops: int = 8,
    ) -> None:
        super().__init__()
        self.k_c, self.hop, self.frame_hops = k_c, hop, frame_hops
        self.hop_length = hop
        self.num_out = k_h - k_c + 1
        self.register_buffer(
            "sources", torch.tensor(patch_sources(k_c, k_h, span)), persistent=False
        )
        gen = torch.Generator().manual_seed(1234)
        noise = torch.randn(self.num_out, NOISE_PERIOD, generator=gen)
        self.register_buffer("noise", noise / noise.std(dim=1, keepdim=True), persistent=False)
        self.core_in = CausalConv1d(k_c, channels, 3)
        self.core_unit = ResidualUnit(channels, 1)
        self.head_in = CausalConv1d(channels + (cond_dim or 0), channels, 3)
        self.head_units = nn.Sequential(ResidualUnit(channels, 1), ResidualUnit(channels, 3))
        self.head_out = CausalConv1d(channels, 2 * self.num_out, 1)
        with torch.no_grad():  # start as a -20 dB patch with a little noise
            self.head_out.conv.bias[: self.num_out].fill_(GAIN_BIAS)  # type: ignore[index]
            self.head_out.conv.bias[self.num_out :].fill_(-2.0)  # type: ignore[index]

    @property
    def past(self) -> int:
        """Sub-band samples before a step's hop that can change its output (layer reach)."""
        return self.reach(self.hop)

    @staticmethod
    def reach(hop: int) -> int:
        """:attr:`past` of a generator with parameter steps of ``hop`` sub-band samples."""
        steps = 2 + 2 * 1 + 2 + 2 * 1 + 2 * 3  # core_in, core_unit, head_in, head_units
        return (steps + 1) * hop

    def embed(self, core_bands: Tensor) -> PatchEmbedding:
        """Core features: ``core_bands [B, k_c, T] -> PatchEmbedding`` with ``h [B, C, T/hop]``."""
        if core_bands.shape[-1] % self.hop:
            raise ValueError(
                f"sub-band length {core_bands.shape[-1]} is not a multiple of {self.hop}"
            )
        h = self.core_unit(self.core_in(log_energy(core_bands, self.hop)))
        return PatchEmbedding(h=h, core_bands=core_bands)

    def _params(self, h: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        """Log-gains and noise-share logits ``[B, G, T / hop]`` each."""
        x = h
        if cond is not None:
            x = torch.cat(
                [h, cond.repeat_interleave(self.frame_hops, dim=-1)[..., : h.shape[-1]]], 1
            )
        raw = self.head_out(F.elu(self.head_units(self.head_in(x))))
        log_gain = raw[:, : self.num_out].clamp(-20.0, 5.0)
        return log_gain, raw[:, self.num_out :]

    def generate(
        self, embedding: PatchEmbedding, cond: Tensor | None = None, offset: int = 0
    ) -> Tensor:
        """Generated bands ``[B, G, T]``; ``offset`` is the absolute sub-band time of sample 0
        (the noise is a function of absolute time, so windows of a stream match the whole)."""
        core = embedding.core_bands
        length = core.shape[-1]
        log_gain, share_logit = self._params(embedding.h, cond)
        # sqrt(share) and sqrt(1 - share) of share = sigmoid(logit), in the log domain: finite
        # gradients even where the sigmoid saturates to 0 or 1 in float32
        log_gain = log_gain.repeat_interleave(self.hop, dim=-1)
        share_logit = share_logit.repeat_interleave(self.hop, dim=-1)
        patch_gain = torch.exp(log_gain + 0.5 * F.logsigmoid(-share_logit))
        noise_gain = torch.exp(log_gain + 0.5 * F.logsigmoid(share_logit))
        patch = core.index_select(1, self.sources)
        source_power = F.avg_pool1d(core[:, 1:].square().mean(1, keepdim=True), self.hop, self.hop)
        envelope = source_power.sqrt().repeat_interleave(self.hop, dim=-1)
        index = (torch.arange(length, device=core.device) + offset) % NOISE_PERIOD
        noise = self.noise[:, index][None] * envelope
        return patch_gain * patch + noise_gain * noise

    def random_offset(self) -> int:
        """A random noise offset for training (drawn from the global torch RNG)."""
        return int(torch.randint(NOISE_PERIOD, ()).item())


class EnvelopeEncoder(nn.Module):
    """Side-info encoder of the patch generator: target envelope and flatness -> latents.

    Args:
        num_bands: generated bands ``G``.
        cond_channels: channels of the core features ``h``.
        channels: width.
        latent_dim: output size ``D`` per frame.
        hop: sub-band samples per step of ``h`` (8).
        frame_hops: steps per side-info frame (8).

    Shape:
        ``forward(target_bands [B, G, T], flatness [B, G, N], h [B, C, T / hop])
        -> latents [B, D, N]`` with ``N = T / (hop * frame_hops)``. Causal per frame: frame
        ``n`` sees its own and :attr:`past_frames` previous frames (plus the hop-rate reach of
        its first layers and of ``h``).
    """

    past_frames = 3
    """Frames before its own that a latent frame sees: 1 (``down``) + 2 (``mid``, kernel 3)."""

    def __init__(
        self,
        *,
        num_bands: int,
        cond_channels: int,
        channels: int = 64,
        latent_dim: int = 64,
        hop: int = 8,
        frame_hops: int = 8,
    ) -> None:
        super().__init__()
        self.hop, self.frame_hops = hop, frame_hops
        self.inp = CausalConv1d(num_bands + cond_channels, channels, 3)
        self.unit = ResidualUnit(channels, 1)
        self.down = CausalConv1d(channels, channels, 2 * frame_hops, stride=frame_hops)
        self.mid = CausalConv1d(channels + num_bands, channels, 3)
        self.out = CausalConv1d(channels, latent_dim, 1)

    def forward(self, target_bands: Tensor, flatness: Tensor, h: Tensor) -> Tensor:
        """``target_bands [B, G, T]``, ``flatness [B, G, N]``, ``h`` -> ``latents [B, D, N]``."""
        energy = log_energy(target_bands, self.hop)
        x = self.down(F.elu(self.unit(self.inp(torch.cat([energy, h], 1)))))
        x = self.mid(F.elu(torch.cat([x, flatness], 1)))
        return self.out(F.elu(x))


def band_flatness(power: Tensor, k_c: int, k_h: int, bins_per_band: int) -> Tensor:
    """Spectral flatness per PQMF band: ``power [B, F, N] -> [B, k_h - k_c + 1, N]`` in ``[-1, 0]``.

    ``log(geometric mean / arithmetic mean)`` of the bins of each band, divided by 5 and clipped.
    """
    lo = 1 + bins_per_band * k_c
    bins = power[:, lo : lo + bins_per_band * (k_h - k_c + 1)] + LOG_FLOOR
    bins = bins.unflatten(1, (k_h - k_c + 1, bins_per_band))
    flat = bins.log().mean(2) - bins.mean(2).log()
    return (flat / 5.0).clamp(-1.0, 0.0)
