"""The quantiser contract every bandgen model codes its latents through.

A quantiser maps continuous ``latents [B, D, N]`` (one ``D``-vector per frame) to integer
``codes [B, K, N]`` (``K`` codebooks) and back. ``forward`` is the training path (straight-through
gradients, auxiliary losses, quantiser dropout); ``encode``/``decode`` are the inference path, and
in eval mode ``decode(encode(z, n_q)) == forward(z, n_q).z_q``. :class:`DummyQuantizer` passes the
latents through untouched, for tiny tests and for ablations without a bottleneck (as AudioCraft's).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["BaseQuantizer", "DummyQuantizer", "QuantizedResult"]


@dataclass
class QuantizedResult:
    """What a quantiser's training forward returns.

    Attributes:
        z_q: quantised latents ``[B, D, N]`` (straight-through: gradients reach the input).
        codes: code indices ``[B, K, N]`` (``int64``), ``K`` the codebooks used.
        latents: the pre-quantisation encodings the codebooks see, ``[B, K * d, N]``.
        commitment_loss: scalar, pulls the encoder towards its codes (weight 0.5 in n-SBG, HP §1.5).
        codebook_loss: scalar, pulls the codes towards the encoder (weight 1 in n-SBG).
    """

    z_q: Tensor
    codes: Tensor
    latents: Tensor
    commitment_loss: Tensor
    codebook_loss: Tensor


class BaseQuantizer(nn.Module, ABC):
    """Abstract quantiser of ``latents [B, D, N]`` into ``codes [B, K, N]``.

    Attributes:
        dim: latent size ``D``.
        num_codebooks: the most codebooks ``K`` (``N_q``) one frame may use.
        codebook_size: entries per codebook; each code costs ``log2(codebook_size)`` bits.
    """

    dim: int
    num_codebooks: int
    codebook_size: int

    @property
    def bits_per_code(self) -> float:
        """Bits per code index, ``log2(codebook_size)`` (10 for n-SBG's 1024 entries)."""
        return math.log2(self.codebook_size) if self.codebook_size > 1 else 0.0

    def bits_per_frame(self, n_q: int | None = None) -> float:
        """Bits one frame costs with ``n_q`` codebooks (default all)."""
        return (self.num_codebooks if n_q is None else n_q) * self.bits_per_code

    @abstractmethod
    def forward(self, z: Tensor, n_q: int | None = None) -> QuantizedResult:
        """Quantise ``z [B, D, N]`` with ``n_q`` codebooks (default all; dropout in training)."""

    @abstractmethod
    def encode(self, z: Tensor, n_q: int | None = None) -> Tensor:
        """``z [B, D, N] -> codes [B, n_q, N]``."""

    @abstractmethod
    def decode(self, codes: Tensor) -> Tensor:
        """``codes [B, K, N] -> z_q [B, D, N]`` for any ``K <= num_codebooks``."""


class DummyQuantizer(BaseQuantizer):
    """Identity "quantiser": ``z_q = z``, zero losses; the codes are the latents themselves.

    ``encode`` returns the float latents as ``[B, 1, D, N]`` (one pseudo-codebook) and ``decode``
    undoes that, so the contract's round trip holds; there is no bit cost to report.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.num_codebooks = 1
        self.codebook_size = 1

    def forward(self, z: Tensor, n_q: int | None = None) -> QuantizedResult:
        """Pass ``z [B, D, N]`` through; ``codes [B, 1, D, N]`` are ``z`` itself."""
        zero = torch.zeros((), device=z.device, dtype=z.dtype)
        return QuantizedResult(
            z_q=z, codes=self.encode(z), latents=z, commitment_loss=zero, codebook_loss=zero
        )

    def encode(self, z: Tensor, n_q: int | None = None) -> Tensor:
        """``z [B, D, N] -> [B, 1, D, N]``."""
        return z[:, None]

    def decode(self, codes: Tensor) -> Tensor:
        """``[B, 1, D, N] -> z [B, D, N]``."""
        return codes[:, 0]
