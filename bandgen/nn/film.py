"""Feature-wise linear modulation: FiLM for the SBG encoder, TFiLM for the SBG decoder.

n-SBG (paper ``000`` §3.3, eq. 1; HP §1.2 and §1.4) conditions in both directions:

- the decoder's bottleneck features, brought to the STFT frame rate, modulate the 2-D feature
  maps of the SBG encoder before each residual stage (:class:`FiLM`, one ``gamma, beta`` pair per
  frame and channel, broadcast over frequency);
- the quantised SBG parameters (one vector per STFT frame) modulate the 1-D feature maps of the
  decoder, which run at 8-64 samples per STFT frame (:class:`TFiLM`: each frame's ``gamma, beta``
  is replicated over the samples of that frame).

Both map the conditioning vector of each frame through one point-wise linear layer to ``2 C``
values and split them into a scale ``gamma`` and a shift ``beta``, which are distinct outputs
(the reference code sliced ``beta`` from the same half as ``gamma``, HP §1.2; not here). As in the
paper (no LSTM, unlike Birnbaum et al.'s TFiLM), the modulation is ``x * gamma + beta``.

Both start as the identity: the ``gamma`` half of the projection has bias 1 and the ``beta``
half is zero. With PyTorch's default initialisation ``gamma`` would start near 0 and ``beta``
as a random per-frame constant, so an untrained decoder would replace its features by
piecewise-constant offsets; in the PQMF sub-band domain a constant is a steady tone at the
band's frequency, which is what the first CPU run (step 1800) produced on a 750 Hz grid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FiLM", "TFiLM"]


class _FrameAffine(nn.Module):
    """Per-frame ``gamma, beta [B, C, N]`` from a conditioning sequence ``cond [B, D, N]``."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.proj = nn.Linear(cond_dim, 2 * channels)
        with torch.no_grad():  # identity at initialisation: gamma = 1, beta = 0
            self.proj.bias[:channels].fill_(1.0)
            self.proj.bias[channels:].zero_()
            self.proj.weight[channels:].zero_()

    def gamma_beta(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """Scale and shift for every frame: ``cond [B, D, N] -> (gamma, beta)``, each ``[B, C, N]``."""
        params = self.proj(cond.transpose(1, 2)).transpose(1, 2)  # [B, 2C, N]
        gamma, beta = params.split(self.channels, dim=1)
        return gamma, beta


class FiLM(_FrameAffine):
    """FiLM of a 2-D map, per time frame and broadcast over frequency (HP §1.2).

    Args:
        cond_dim: size ``D`` of the conditioning vector of each frame.
        channels: channels ``C`` of the modulated map.

    Shape:
        ``x [B, C, F, N]``, ``cond [B, D, N] -> [B, C, F, N]``.
    """

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """Modulate ``x [B, C, F, N]`` by ``cond [B, D, N]`` (same number of frames ``N``)."""
        if cond.shape[-1] != x.shape[-1]:
            raise ValueError(f"FiLM: {cond.shape[-1]} conditioning frames for {x.shape[-1]} frames")
        gamma, beta = self.gamma_beta(cond)
        return x * gamma[:, :, None, :] + beta[:, :, None, :]


class TFiLM(_FrameAffine):
    """Temporal FiLM of a 1-D map whose rate is an integer multiple of the conditioning rate.

    The feature map ``x [B, C, T]`` is cut into ``N`` blocks of ``T / N`` samples, and block ``n``
    is modulated by the ``gamma, beta`` of conditioning frame ``n`` (paper ``000`` §3.3:
    "replicate each timestep" of the conditioning sequence). A conditioning frame covers the same
    stretch of audio as its block, so the modulation is causal at frame granularity.

    Args:
        cond_dim: size ``D`` of the conditioning vector of each frame (the SBG parameter size).
        channels: channels ``C`` of the modulated map.

    Shape:
        ``x [B, C, T]``, ``cond [B, D, N] -> [B, C, T]`` with ``T`` a multiple of ``N``.
    """

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """Modulate ``x [B, C, T]`` block-wise by ``cond [B, D, N]``."""
        batch, channels, length = x.shape
        frames = cond.shape[-1]
        if frames == 0 or length % frames:
            raise ValueError(f"TFiLM: {length} samples are not a whole number of {frames} frames")
        gamma, beta = self.gamma_beta(cond)
        blocks = x.reshape(batch, channels, frames, length // frames)
        out = blocks * gamma[..., None] + beta[..., None]
        return out.reshape(batch, channels, length)
