"""Residual VQ with EMA (k-means) codebooks, biased quantiser dropout and full bypass.

The quantiser of SpectroStream (paper ``003``; ``HYPERPARAMETERS.md`` §2): ``num_levels`` stages
(64) of ``codebook_size`` (1024) entries in the full latent dimension, not shared. Each stage
codes the running residual by its nearest entry (Euclidean); gradients pass straight through,
the encoder is held to its codes by a commitment loss, and the entries follow the encodings
assigned to them by exponential moving averages (k-means), so they need no gradient.

Training-time rate scalability, per batch item:

- **full bypass** with probability ``bypass_rate`` (0.5): the latents reach the decoder
  unquantised;
- otherwise the item keeps ``n`` stages, ``n`` drawn uniformly from :func:`biased_levels`
  (1..16 step 1, 18..32 step 2, 36..64 step 4 for 64 levels): the first 16 stages are kept
  4 times, the middle ones 2 times as often as the last ones, so the low rates train most.

Stages start from encodings of the first training batch (data-dependent init) and entries
whose usage decays below ``dead_threshold`` are re-seeded from the current batch, so that a
1024-entry codebook is used even when a step sees a few hundred encodings.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.errors import ConfigError
from bandgen.quantization.base import BaseQuantizer, QuantizedResult

__all__ = ["EMACodebook", "EMAResidualVQ", "biased_levels"]


def biased_levels(num_levels: int) -> tuple[int, ...]:
    """The stage counts quantiser dropout draws from, uniformly (paper ``003`` §3.3).

    For 64 levels: 1..16, 18..32 step 2, 36..64 step 4 (density 4:2:1 over the three
    quarters-of-range). Scaled to other ``num_levels`` by the same breakpoints (1/4, 1/2).
    """
    quarter, half = max(1, num_levels // 4), max(1, num_levels // 2)
    levels = list(range(1, quarter + 1))
    levels += list(range(quarter + 2, half + 1, 2))
    levels += list(range(half + 4, num_levels + 1, 4))
    if levels[-1] != num_levels:
        levels.append(num_levels)
    return tuple(levels)


class EMACodebook(nn.Module):
    """One RVQ stage: ``codebook_size`` entries of size ``dim`` learned by EMA k-means.

    Args:
        dim: latent size ``D``.
        codebook_size: entries ``K``.
        decay: EMA decay of the entry statistics.
        dead_threshold: EMA usage under which an entry is re-seeded from the batch.
        eps: Laplace smoothing of the usage counts.
    """

    embed: Tensor
    usage: Tensor
    embed_sum: Tensor
    initialized: Tensor

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        *,
        decay: float = 0.99,
        dead_threshold: float = 0.02,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.decay = decay
        self.dead_threshold = dead_threshold
        self.eps = eps
        self.register_buffer("embed", torch.randn(codebook_size, dim) * 0.01)
        self.register_buffer("usage", torch.ones(codebook_size))
        self.register_buffer("embed_sum", self.embed.clone())
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        """Released weights keep only ``embed``: the EMA statistics restart from it."""
        embed = state_dict.get(prefix + "embed")
        if embed is not None and prefix + "embed_sum" not in state_dict:
            state_dict[prefix + "usage"] = torch.ones(embed.shape[0])
            state_dict[prefix + "embed_sum"] = embed.float().clone()
            state_dict[prefix + "initialized"] = torch.ones((), dtype=torch.bool)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def nearest(self, vectors: Tensor) -> Tensor:
        """Indices ``[M]`` of the entries nearest to ``vectors [M, D]`` (squared Euclidean)."""
        embed = self.embed.to(vectors.dtype)
        dist_sq = (
            vectors.pow(2).sum(1, keepdim=True)
            - 2 * vectors @ embed.t()
            + embed.pow(2).sum(1)[None, :]
        )
        return dist_sq.argmin(dim=1)

    def lookup(self, indices: Tensor) -> Tensor:
        """Entries for ``indices [...]``: ``[..., D]``."""
        return F.embedding(indices, self.embed)

    @torch.no_grad()
    def update(self, vectors: Tensor, indices: Tensor) -> None:
        """EMA step towards the mean of the ``vectors [M, D]`` assigned to each entry."""
        vectors = vectors.float()
        if not bool(self.initialized):
            if vectors.shape[0]:  # a step whose items all skip this level seeds nothing
                self._seed(vectors, torch.ones_like(self.usage, dtype=torch.bool))
                self.initialized.fill_(True)
            return
        onehot = F.one_hot(indices, self.embed.shape[0]).to(vectors.dtype)  # [M, K]
        counts = onehot.sum(0)
        sums = onehot.t() @ vectors
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.usage.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.usage.sum()
        smoothed = (self.usage + self.eps) / (total + self.embed.shape[0] * self.eps) * total
        self.embed.copy_(self.embed_sum / smoothed[:, None])
        self._seed(vectors, self.usage < self.dead_threshold)

    def _seed(self, vectors: Tensor, which: Tensor) -> None:
        """Re-seed the entries ``which [K]`` from random batch vectors (rank 0's, if DDP)."""
        count = int(which.sum())
        if count == 0 or vectors.shape[0] == 0:
            return
        picks = torch.randint(0, vectors.shape[0], (count,), device=vectors.device)
        fresh = vectors[picks] + 1e-4 * torch.randn_like(vectors[picks])
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(fresh, 0)
        self.embed[which] = fresh
        self.embed_sum[which] = fresh
        self.usage[which] = 1.0


class EMAResidualVQ(BaseQuantizer):
    """Residual VQ of ``z [B, D, N]`` with EMA codebooks (SpectroStream, HP §2).

    Args:
        dim: latent size ``D`` (256 in the paper).
        num_levels: stages (64: 16 kbps at 25 frames/s and 10-bit codes).
        codebook_size: entries per stage (1024).
        bypass_rate: fraction of training items that skip quantisation (0.5).
        commitment: weight of the commitment loss folded into ``commitment_loss`` (1.0).
        decay: EMA decay of the codebooks.

    Shape:
        ``forward``: ``z [B, D, N] -> QuantizedResult`` (``codes [B, n_q, N]``).
        ``encode``: ``z -> codes [B, n_q, N]``; ``decode``: ``codes [B, K, N] -> z_q [B, D, N]``.
    """

    def __init__(
        self,
        dim: int,
        num_levels: int,
        *,
        codebook_size: int = 1024,
        bypass_rate: float = 0.5,
        commitment: float = 1.0,
        decay: float = 0.99,
    ) -> None:
        super().__init__()
        if num_levels < 1 or codebook_size < 2 or not 0.0 <= bypass_rate < 1.0:
            raise ConfigError(
                "EMA RVQ needs num_levels >= 1, codebook_size >= 2 and 0 <= bypass_rate < 1;"
                f" got {num_levels}, {codebook_size}, {bypass_rate}"
            )
        self.dim = dim
        self.num_levels = num_levels
        self.codebook_size = codebook_size
        self.bypass_rate = bypass_rate
        self.commitment = commitment
        self.dropout_levels = biased_levels(num_levels)
        self.levels = nn.ModuleList(
            EMACodebook(dim, codebook_size, decay=decay) for _ in range(num_levels)
        )

    @property
    def stages(self) -> list[EMACodebook]:
        """The codebooks, first (coarsest) first."""
        return [level for level in self.levels if isinstance(level, EMACodebook)]

    def _check_n_q(self, n_q: int | None) -> int:
        n_q = self.num_levels if n_q is None else n_q
        if not 0 <= n_q <= self.num_levels:
            raise ValueError(f"n_q must be in 0..{self.num_levels}, got {n_q}")
        return n_q

    def _levels_per_item(self, batch: int, n_q: int, device: torch.device) -> Tensor:
        """Stages kept per item: ``n_q`` in eval; drawn (or bypassed: -1) in training."""
        if not self.training or n_q < self.num_levels:
            return torch.full((batch,), n_q, device=device)
        choices = torch.tensor(self.dropout_levels, device=device)
        levels = choices[torch.randint(0, len(choices), (batch,), device=device)]
        bypass = torch.rand(batch, device=device) < self.bypass_rate
        return torch.where(bypass, torch.full_like(levels, -1), levels)

    def forward(self, z: Tensor, n_q: int | None = None) -> QuantizedResult:
        """Quantise ``z [B, D, N]``; training applies bypass/dropout and updates the codebooks.

        ``n_q`` below ``num_levels`` fixes the stages for every item (no dropout, no bypass).
        """
        n_q = self._check_n_q(n_q)
        batch, dim, frames = z.shape
        kept = self._levels_per_item(batch, n_q, z.device)
        flat = z.transpose(1, 2).reshape(-1, dim)  # [B*N, D]
        item = torch.arange(batch, device=z.device).repeat_interleave(frames)
        residual = flat
        z_q = torch.zeros_like(flat)
        codes = []
        depth = int(kept.max()) if batch else 0
        for i, stage in enumerate(self.stages[: max(depth, 0)]):
            indices = stage.nearest(residual.detach())
            active = kept[item] > i
            if self.training:
                stage.update(residual.detach()[active], indices[active])
            code = stage.lookup(indices).to(flat.dtype)
            z_q = z_q + code * active[:, None].to(flat.dtype)
            residual = residual - code
            codes.append(indices.view(batch, frames))
        bypassed = (kept < 0)[item][:, None]
        quantized = kept[item] > 0
        commitment = F.mse_loss(flat, z_q.detach(), reduction="none").mean(1)
        weight = quantized.to(flat.dtype)
        commit = (commitment * weight).sum() / weight.sum().clamp_min(1.0) * self.commitment
        z_st = flat + (z_q - flat).detach()  # straight-through
        z_out = torch.where(bypassed, flat, z_st)
        stacked = (
            torch.stack(codes, dim=1)
            if codes
            else torch.zeros(batch, 0, frames, dtype=torch.long, device=z.device)
        )
        return QuantizedResult(
            z_q=z_out.view(batch, frames, dim).transpose(1, 2),
            codes=stacked,
            latents=z,
            commitment_loss=commit,
            codebook_loss=z.new_zeros(()),
        )

    @torch.no_grad()
    def encode(self, z: Tensor, n_q: int | None = None) -> Tensor:
        """``z [B, D, N] -> codes [B, n_q, N]`` (int64)."""
        n_q = self._check_n_q(n_q)
        batch, dim, frames = z.shape
        residual = z.transpose(1, 2).reshape(-1, dim)
        codes = []
        for stage in self.stages[:n_q]:
            indices = stage.nearest(residual)
            residual = residual - stage.lookup(indices).to(residual.dtype)
            codes.append(indices.view(batch, frames))
        if not codes:
            return torch.zeros(batch, 0, frames, dtype=torch.long, device=z.device)
        return torch.stack(codes, dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """``codes [B, K, N] -> z_q [B, D, N]``, the sum of the first ``K`` stages' entries."""
        if codes.dim() != 3 or codes.shape[1] > self.num_levels:
            raise ValueError(
                f"codes must be [B, K <= {self.num_levels}, N], got {tuple(codes.shape)}"
            )
        batch, levels, frames = codes.shape
        z_q = self.stages[0].embed.new_zeros(batch, frames, self.dim)
        for k, stage in enumerate(self.stages[:levels]):
            z_q = z_q + stage.lookup(codes[:, k])
        return z_q.transpose(1, 2)
