"""The SBG encoder's feature extractor: a causal 2-D ResNet-18-style net (paper ``000`` §3.1).

Layout (HP §1.2; widths ``(64, 128, 256, 512)`` in the paper):

```
spec [B, 1, F, N]  (normalised log power, F = 32 bins per generated PQMF band)
  -> stem: causal conv 7x7, stride (2 freq, 1 time), 1 -> w0; ReLU           F / 2
  -> max-pool 3x3, stride (2, 1)                                             F / 4
  -> 4 stages of 2 BasicBlocks; widths w0..w3; stages 2-4 stride 2 in freq   F / 32
     FiLM(cond) before each stage (per frame, broadcast over frequency)
  -> per-frequency-patch Linear w3 -> patch_dim, concatenated               [B, P * patch_dim, N]
```

with ``P = F / 32`` patches (10 at 12 kbps, so 320-d SBG parameters per frame, as in the
reference code; the paper text says 512). The conditioning is the generator's bottleneck feature
``h [B, C_h, N * cond_stride]`` (8 samples per STFT frame), brought to the frame rate by a strided
Conv1d (kernel = stride = ``cond_stride``, no bias), §3.3.

Causality: every conv is time-causal (left padding). The reference max-pool pads one frame on
each side and so looks one frame ahead (HP §1.2) although the paper says all layers are causal;
with ``causal_pool=True`` (default) the pooling window is the current and two previous frames
instead, which keeps the whole encoder causal at frame granularity. ``causal_pool=False``
reproduces the reference look-ahead. BatchNorm is absent, as in the reference code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.nn.conv import CausalConv1d, CausalConv2d
from bandgen.nn.film import FiLM

__all__ = ["BasicBlock2d", "PatchProjection", "ResNet2dEncoder"]


class BasicBlock2d(nn.Module):
    """ResNet basic block with causal 3x3 convs, no BatchNorm (HP §1.2).

    ``ReLU(conv(ReLU(conv_s(x))) + shortcut(x))``; the shortcut is a strided 1x1 conv when the
    shape changes. ``final_relu=False`` drops the last ReLU (the network's very last block).

    Shape: ``x [B, C_in, F, N] -> [B, C_out, ceil(F / stride), N]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int = 1, final_relu: bool = True
    ) -> None:
        super().__init__()
        self.conv1 = CausalConv2d(in_channels, out_channels, 3, stride=(stride, 1))
        self.conv2 = CausalConv2d(out_channels, out_channels, 3)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = CausalConv2d(in_channels, out_channels, 1, stride=(stride, 1))
        self.final_relu = final_relu

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C_in, F, N] -> [B, C_out, F', N]``."""
        y = self.conv2(F.relu(self.conv1(x))) + self.shortcut(x)
        return F.relu(y) if self.final_relu else y


class PatchProjection(nn.Module):
    """A separate Linear ``C -> patch_dim`` for each frequency patch, outputs concatenated.

    Shape: ``x [B, C, P, N] -> [B, P * patch_dim, N]`` (patch-major: patch 0's dims come first).
    """

    def __init__(self, num_patches: int, in_channels: int, patch_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_channels)  # nn.Linear's default init range
        self.weight = nn.Parameter(
            torch.empty(num_patches, in_channels, patch_dim).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(num_patches, patch_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, C, P, N] -> [B, P * patch_dim, N]``."""
        out = torch.einsum("bcpn,pcd->bpdn", x, self.weight) + self.bias[None, :, :, None]
        return out.flatten(1, 2)


class ResNet2dEncoder(nn.Module):
    """Causal 2-D ResNet feature encoder with FiLM conditioning (paper ``000`` §3.1, §3.3).

    Args:
        num_bins: frequency bins ``F`` of the input (320 at 12 kbps, 352 at 16 kbps).
        widths: channels of the 4 stages (the stem has ``widths[0]``).
        blocks: BasicBlocks per stage.
        patch_dim: output size per frequency patch (32).
        cond_channels: channels of the conditioning feature ``h``; ``None`` disables FiLM.
        cond_stride: samples of ``h`` per STFT frame (8).
        causal_pool: time-causal max-pool (see the module docstring).

    Shape:
        ``spec [B, 1, F, N]``, ``h [B, cond_channels, N * cond_stride]`` ->
        ``latents [B, out_dim, N]`` with ``out_dim = P * patch_dim``, ``P = ceil(F / 32)``.
    """

    def __init__(
        self,
        *,
        num_bins: int,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        patch_dim: int = 32,
        cond_channels: int | None = None,
        cond_stride: int = 8,
        causal_pool: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError(f"{len(widths)} widths for {len(blocks)} stages")
        self.causal_pool = causal_pool
        self.stem = CausalConv2d(1, widths[0], 7, stride=(2, 1))
        stages = []
        in_ch = widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            layers = []
            for j in range(count):
                last = i == len(widths) - 1 and j == count - 1
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock2d(in_ch, width, stride=stride, final_relu=not last))
                in_ch = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.num_patches = num_bins
        for _ in range(2 + len(widths) - 1):  # stem, pool, strided stages
            self.num_patches = math.ceil(self.num_patches / 2)
        self.out_dim = self.num_patches * patch_dim
        self.project = PatchProjection(self.num_patches, widths[-1], patch_dim)
        self.cond_proj: CausalConv1d | None = None
        self.films: nn.ModuleList | None = None
        if cond_channels is not None:
            self.cond_proj = CausalConv1d(
                cond_channels, cond_channels, cond_stride, stride=cond_stride, bias=False
            )
            stage_inputs = [widths[0], *widths[:-1]]
            self.films = nn.ModuleList(FiLM(cond_channels, w) for w in stage_inputs)

    def _pool(self, x: Tensor) -> Tensor:
        """Max-pool 3x3 with stride (2, 1): ``[B, C, F, N] -> [B, C, ceil(F / 2), N]``."""
        time_pad = (2, 0) if self.causal_pool else (1, 1)
        padded = F.pad(x, (*time_pad, 1, 1), value=float("-inf"))
        return F.max_pool2d(padded, kernel_size=3, stride=(2, 1))

    def forward(self, spec: Tensor, h: Tensor | None = None) -> Tensor:
        """``spec [B, 1, F, N]``, ``h [B, C_h, N * cond_stride] | None -> latents [B, D, N]``."""
        if (h is None) != (self.films is None):
            raise ValueError("h must be given exactly when the encoder was built with FiLM")
        x = self._pool(F.relu(self.stem(spec)))
        cond = self.cond_proj(h) if self.cond_proj is not None and h is not None else None
        films = list(self.films) if self.films is not None else []
        for i, stage in enumerate(self.stages):
            if cond is not None:
                x = films[i](x, cond)
            x = stage(x)
        return self.project(x)
