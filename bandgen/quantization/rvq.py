"""DAC-style residual vector quantisation with factorised, L2-normalised codes.

n-SBG quantises its SBG parameters with the RVQ of DAC (paper ``000`` §3.1; HP §1.3 and §6;
Kumar et al. 2023): each of the ``N_q`` stages projects the running residual ``[B, D, N]`` to a
low-dimensional space (weight-normed 1x1 conv ``D -> 8``), picks the codebook entry with the
highest cosine similarity (encodings and the ``1024 x 8`` codebook are L2-normalised for the
search), and projects the *unnormalised* entry back (1x1 conv ``8 -> D``). Gradients pass
straight through the rounding; the codebook learns from ``MSE(z_q, sg(z_e))`` and the encoder is
held to its codes by ``MSE(z_e, sg(z_q))``.

Quantiser dropout (DAC): in training, a fraction ``quantizer_dropout`` of the batch items (the
first ones) use only ``n ~ U{1..N_q}`` stages, the rest all of them, so that dropping the last
stages at inference (lower side-info bit-rate, paper §4.2) still decodes sensibly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from bandgen.errors import ConfigError
from bandgen.quantization.base import BaseQuantizer, QuantizedResult

__all__ = ["USAGE_DECAY", "FactorizedVQ", "ResidualVectorQuantizer"]

USAGE_DECAY = 0.95
"""Per-step decay of a codebook entry's usage average (``reseed_dead``): an entry no frame
picks falls below the threshold after ~45 steps."""


class FactorizedVQ(nn.Module):
    """One RVQ stage: in_proj ``D -> d``, cosine nearest neighbour, out_proj ``d -> D`` (DAC).

    Args:
        dim: latent size ``D``.
        codebook_size: entries in the codebook (1024).
        codebook_dim: size ``d`` of the factorised code space (8).
        reseed_dead: in training, replace entries whose usage (an exponential average of the
            share of frames that pick them, decay :data:`USAGE_DECAY` per step) falls below
            ``1 / (10 K)`` by encodings drawn from the batch. Not in DAC: a quantiser whose
            encodings all point one way (a fresh DAC encoder's latent is ~98 % one constant
            vector) otherwise keeps one entry for every frame for good. Training-only state;
            the weights are unchanged in meaning.
    """

    usage: Tensor

    def __init__(
        self, dim: int, codebook_size: int, codebook_dim: int, *, reseed_dead: bool = False
    ) -> None:
        super().__init__()
        self.in_proj = weight_norm(nn.Conv1d(dim, codebook_dim, 1))
        self.out_proj = weight_norm(nn.Conv1d(codebook_dim, dim, 1))
        self.codebook = nn.Embedding(codebook_size, codebook_dim)
        self.reseed_dead = reseed_dead
        self.register_buffer(
            "usage", torch.full((codebook_size,), 1.0 / codebook_size), persistent=False
        )

    @torch.no_grad()
    def _reseed(self, z_e: Tensor, indices: Tensor) -> None:
        """Update the usage average and re-seed the dead entries from ``z_e [B, d, N]``."""
        size = self.usage.numel()
        counts = torch.bincount(indices.reshape(-1), minlength=size).to(self.usage.dtype)
        self.usage.mul_(USAGE_DECAY).add_(counts / counts.sum(), alpha=1.0 - USAGE_DECAY)
        dead = (self.usage < 0.1 / size).nonzero().squeeze(1)
        if dead.numel() == 0:
            return
        pool = z_e.transpose(1, 2).reshape(-1, z_e.shape[1])
        pick = torch.randint(0, pool.shape[0], (dead.numel(),), device=pool.device)
        self.codebook.weight.data[dead] = pool[pick].to(self.codebook.weight.dtype)
        self.usage[dead] = 1.0 / size

    def nearest(self, z_e: Tensor) -> Tensor:
        """Indices ``[B, N]`` of the entries most cosine-similar to ``z_e [B, d, N]``."""
        encodings = F.normalize(z_e.transpose(1, 2), dim=-1)  # [B, N, d]
        codebook = F.normalize(self.codebook.weight, dim=-1)  # [K, d]
        return (encodings @ codebook.t()).argmax(dim=-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """Codebook entries for ``indices [B, N]``: ``[B, d, N]``."""
        return self.codebook(indices).transpose(1, 2)

    def decode(self, indices: Tensor) -> Tensor:
        """``indices [B, N] -> [B, D, N]``: the stage's contribution to ``z_q``."""
        return self.out_proj(self.lookup(indices))

    def forward(self, residual: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Quantise ``residual [B, D, N]``.

        Returns ``(z_q [B, D, N], indices [B, N], z_e [B, d, N], commitment [B], codebook [B])``
        with per-item losses (mean over ``d`` and ``N``).
        """
        z_e = self.in_proj(residual)
        indices = self.nearest(z_e)
        if self.reseed_dead and self.training:
            self._reseed(z_e.detach(), indices)
        code = self.lookup(indices)
        commitment = F.mse_loss(z_e, code.detach(), reduction="none").mean(dim=(1, 2))
        codebook = F.mse_loss(code, z_e.detach(), reduction="none").mean(dim=(1, 2))
        code = z_e + (code - z_e).detach()  # straight-through estimator
        return self.out_proj(code), indices, z_e, commitment, codebook


class ResidualVectorQuantizer(BaseQuantizer):
    """Residual VQ of ``latents [B, D, N]`` with ``num_codebooks`` factorised stages (HP §1.3).

    Args:
        dim: latent size ``D`` (320 for 12 kbps n-SBG).
        num_codebooks: stages ``N_q`` (11 at 12 kbps, 13 at 16 kbps).
        codebook_size: entries per codebook (1024 -> 10 bits per code).
        codebook_dim: factorised code size (8).
        quantizer_dropout: fraction of batch items trained with a random number of stages (0.5).
        reseed_dead: re-seed unused entries in training (:class:`FactorizedVQ`; default off).

    Shape:
        ``forward``: ``z [B, D, N] -> QuantizedResult`` (``z_q [B, D, N]``, ``codes [B, K, N]``).
        ``encode``: ``z [B, D, N] -> codes [B, n_q, N]``; ``decode``: ``codes -> z_q [B, D, N]``.
    """

    def __init__(
        self,
        dim: int,
        num_codebooks: int,
        *,
        codebook_size: int = 1024,
        codebook_dim: int = 8,
        quantizer_dropout: float = 0.0,
        reseed_dead: bool = False,
    ) -> None:
        super().__init__()
        if num_codebooks < 1 or codebook_size < 2 or not 0.0 <= quantizer_dropout <= 1.0:
            raise ConfigError(
                "RVQ needs num_codebooks >= 1, codebook_size >= 2 and 0 <= quantizer_dropout <= 1;"
                f" got {num_codebooks}, {codebook_size}, {quantizer_dropout}"
            )
        self.dim = dim
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.quantizer_dropout = quantizer_dropout
        self.layers = nn.ModuleList(
            FactorizedVQ(dim, codebook_size, codebook_dim, reseed_dead=reseed_dead)
            for _ in range(num_codebooks)
        )

    @property
    def stages(self) -> list[FactorizedVQ]:
        """The RVQ stages, first (coarsest) first."""
        return [layer for layer in self.layers if isinstance(layer, FactorizedVQ)]

    def _check_n_q(self, n_q: int | None) -> int:
        n_q = self.num_codebooks if n_q is None else n_q
        if not 0 <= n_q <= self.num_codebooks:
            raise ValueError(f"n_q must be in 0..{self.num_codebooks}, got {n_q}")
        return n_q

    def _stages_per_item(self, batch: int, n_q: int, device: torch.device) -> Tensor:
        """Stages each batch item uses: ``n_q``, or ``U{1..n_q}`` for the dropout fraction."""
        stages = torch.full((batch,), n_q, device=device)
        if self.training and self.quantizer_dropout > 0 and n_q > 0:
            dropped = int(batch * self.quantizer_dropout)
            stages[:dropped] = torch.randint(1, n_q + 1, (dropped,), device=device)
        return stages

    def forward(self, z: Tensor, n_q: int | None = None) -> QuantizedResult:
        """Quantise ``z [B, D, N]`` with ``n_q`` stages (default all), dropout in training.

        ``codes`` hold the indices of all ``n_q`` stages; for items that dropout cut short, the
        later stages' indices are computed but do not contribute to ``z_q`` or the losses.
        """
        n_q = self._check_n_q(n_q)
        batch, _, frames = z.shape
        stages = self._stages_per_item(batch, n_q, z.device)
        z_q = torch.zeros_like(z)
        residual = z
        commitment = codebook = torch.zeros((), device=z.device, dtype=z.dtype)
        codes, latents = [], []
        for i, layer in enumerate(self.stages[:n_q]):
            out, indices, z_e, commit_i, codebook_i = layer(residual)
            mask = (stages > i).to(z.dtype)
            z_q = z_q + out * mask[:, None, None]
            residual = residual - out
            commitment = commitment + (commit_i * mask).mean()
            codebook = codebook + (codebook_i * mask).mean()
            codes.append(indices)
            latents.append(z_e)
        return QuantizedResult(
            z_q=z_q,
            codes=self._stack(codes, batch, frames, z.device),
            latents=torch.cat(latents, dim=1) if latents else z.new_zeros(batch, 0, frames),
            commitment_loss=commitment,
            codebook_loss=codebook,
        )

    @staticmethod
    def _stack(codes: list[Tensor], batch: int, frames: int, device: torch.device) -> Tensor:
        if not codes:
            return torch.zeros(batch, 0, frames, dtype=torch.long, device=device)
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def encode(self, z: Tensor, n_q: int | None = None) -> Tensor:
        """``z [B, D, N] -> codes [B, n_q, N]`` (int64), the first ``n_q`` stages (default all)."""
        n_q = self._check_n_q(n_q)
        residual = z
        codes = []
        for layer in self.stages[:n_q]:
            indices = layer.nearest(layer.in_proj(residual))
            codes.append(indices)
            residual = residual - layer.decode(indices)
        return self._stack(codes, z.shape[0], z.shape[-1], z.device)

    def decode(self, codes: Tensor) -> Tensor:
        """``codes [B, K, N] -> z_q [B, D, N]``: the sum of the first ``K`` stages' outputs."""
        if codes.dim() != 3 or codes.shape[1] > self.num_codebooks:
            raise ValueError(
                f"codes must be [B, K <= {self.num_codebooks}, N], got {tuple(codes.shape)}"
            )
        weight = self.stages[0].codebook.weight
        z_q = weight.new_zeros(codes.shape[0], self.dim, codes.shape[-1])
        for k, layer in enumerate(self.stages[: codes.shape[1]]):
            z_q = z_q + layer.decode(codes[:, k])
        return z_q
