"""HP-codecX's transformers: per RVQ section, one that predicts an HP-codec's 48 kHz-branch
tokens from its 16 kHz-branch tokens (paper ``004`` §3.2; ``HYPERPARAMETERS.md`` §4, "HP-codecX
LM"). :mod:`bandgen.models.hpcodecx` joins them to the frozen codec.

Per RVQ section (harmonic, percussive: the released code's layout, 3 codebooks per section and
branch) one :class:`SectionTransformer`:

```
x_n = sum_j E_low_j(low_j[n]) + sum_{k < s} E_high_k(high_k[n]) + E_step(s)   (5 tables + step;
                                                     tables initialised with std d^-1/2)
h   = TransformerEncoder(x * sqrt(d) + PE_n)        non-causal, no mask: every frame sees all
logits_s[n] = Head_s(h_n)                             one head per predicted codebook s
```

The three high codebooks are predicted in sequence (VALL-E's non-autoregressive stages, paper
§3.2.1): step ``s`` reads the low codebooks and the high codebooks ``< s`` only, so codebook
``s``'s own input can never reach its logits. **Masking**: the released code runs
``nn.TransformerEncoder`` with no attention mask and no padding mask (the paper's "autoregressive
decoder" is autoregressive over codebooks, not over time): attention is bidirectional over the
whole window, and as every training excerpt has the same length nothing is padded; inference
windows are run at their true length, never padded, so no padding can leak into a frame.

Training (§3.2.2): one step ``s`` drawn uniformly per iteration, cross-entropy of head ``s``
against the true high codebook ``s``, the earlier high codebooks teacher-forced from the truth,
summed over the sections. Inference: greedy (argmax) per step, each step reading the previous
steps' predictions.

Tokens are ``[B, K, N]`` section-major as :class:`~bandgen.models.hpcodec.HPCodec` gives them:
codebooks ``0..2`` harmonic, ``3..5`` percussive.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.config import Config
from bandgen.errors import ConfigError

__all__ = ["HPCodecXLM", "HPCodecXOutput", "LMConfig", "SectionTransformer", "sinusoidal_positions"]

SECTIONS = ("harmonic", "percussive")
"""The HP-codec's RVQ sections, in token order."""


@dataclass(frozen=True)
class LMConfig(Config):
    """HP-codecX's transformers (HP §4 "HP-codecX LM"; presets :meth:`paper`, :meth:`cpu`,
    :meth:`debug`).

    Attributes:
        d_model: embedding and model width (paper 1024).
        num_heads: attention heads (8).
        ffn_dim: feed-forward width (4096).
        num_layers: encoder layers per section (6).
        dropout: dropout in the encoder layers (0).
        codebook_size: entries per codebook of the HP-codec (1024).
        low_codebooks: 16 kHz-branch codebooks per section (3), all inputs.
        high_codebooks: 48 kHz-branch codebooks per section (3), predicted in sequence.
        num_sections: RVQ sections (2: harmonic, percussive).
    """

    d_model: int = 1024
    num_heads: int = 8
    ffn_dim: int = 4096
    num_layers: int = 6
    dropout: float = 0.0
    codebook_size: int = 1024
    low_codebooks: int = 3
    high_codebooks: int = 3
    num_sections: int = 2

    def __post_init__(self) -> None:
        if self.d_model % self.num_heads:
            raise ConfigError(
                f"d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})"
            )
        if min(self.num_layers, self.low_codebooks, self.high_codebooks, self.num_sections) < 1:
            raise ConfigError("num_layers, low/high_codebooks and num_sections must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def paper(cls) -> LMConfig:
        """The paper's size: d 1024, 8 heads, FFN 4096, 6 layers (about 2 x 76 M parameters)."""
        return cls()

    @classmethod
    def cpu(cls) -> LMConfig:
        """CPU size: d 192, 4 heads, FFN 768, 3 layers (about 2 x 2.6 M parameters)."""
        return dataclasses.replace(cls(), d_model=192, num_heads=4, ffn_dim=768, num_layers=3)

    @classmethod
    def debug(cls) -> LMConfig:
        """Toy size for tests: d 16, 2 heads, 1 layer, 16-entry codebooks."""
        return cls(d_model=16, num_heads=2, ffn_dim=32, num_layers=1, codebook_size=16)


def sinusoidal_positions(length: int, dim: int, *, device: torch.device | None = None) -> Tensor:
    """Transformer sinusoidal positional encoding ``[length, dim]`` (Vaswani et al. 2017):
    ``sin`` on even, ``cos`` on odd features, wavelengths ``2 pi .. 10000 * 2 pi``."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim)
    )
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


class SectionTransformer(nn.Module):
    """The transformer of one RVQ section (module docstring).

    Shape:
        ``forward(low [B, L, N], high [B, H, N] or None, step) -> logits [B, N, V]`` with
        ``L = low_codebooks``, ``H >= step`` (only codebooks ``< step`` are read),
        ``V = codebook_size``.
    """

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        cfg = self.config = config
        self.low_embed = nn.ModuleList(
            nn.Embedding(cfg.codebook_size, cfg.d_model) for _ in range(cfg.low_codebooks)
        )
        # the last high codebook is never an input: high_codebooks - 1 tables
        self.high_embed = nn.ModuleList(
            nn.Embedding(cfg.codebook_size, cfg.d_model) for _ in range(cfg.high_codebooks - 1)
        )
        self.step_embed = nn.Embedding(cfg.high_codebooks, cfg.d_model)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model,
            cfg.num_heads,
            cfg.ffn_dim,
            cfg.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.num_layers, enable_nested_tensor=False)
        self.heads = nn.ModuleList(
            nn.Linear(cfg.d_model, cfg.codebook_size) for _ in range(cfg.high_codebooks)
        )
        # tables of std d^-1/2, so that the sqrt(d) scaling gives unit-scale inputs, as the
        # positional encoding (torch's default N(0, 1) tables would give std sqrt(d) = 32 at
        # the paper's size and saturate the first layer's attention)
        for table in (*self.low_embed, *self.high_embed, self.step_embed):
            nn.init.normal_(table.weight, std=cfg.d_model**-0.5)

    def forward(self, low: Tensor, high: Tensor | None, step: int) -> Tensor:
        cfg = self.config
        if not 0 <= step < cfg.high_codebooks:
            raise ValueError(f"step must be in 0..{cfg.high_codebooks - 1}, got {step}")
        if low.dim() != 3 or low.shape[1] != cfg.low_codebooks:
            raise ValueError(f"low must be [B, {cfg.low_codebooks}, N], got {tuple(low.shape)}")
        if step and (high is None or high.shape[1] < step or high.shape[2] != low.shape[2]):
            got = None if high is None else tuple(high.shape)
            raise ValueError(f"step {step} needs high [B, >= {step}, {low.shape[2]}], got {got}")
        x = self.step_embed.weight[step].expand(low.shape[0], low.shape[2], -1)
        for j, embed in enumerate(self.low_embed):
            x = x + embed(low[:, j])
        for k in range(step):
            assert high is not None
            x = x + self.high_embed[k](high[:, k])
        pe = sinusoidal_positions(x.shape[1], cfg.d_model, device=x.device)
        x = x * math.sqrt(cfg.d_model) + pe
        return self.heads[step](self.encoder(x))


@dataclass
class HPCodecXOutput:
    """What :meth:`HPCodecXLM.forward` returns for one training batch at one step.

    Attributes:
        logits: ``[B, S, N, V]`` of the step's codebook, per section.
        loss: cross-entropy summed over sections (mean over frames and batch), scalar.
        accuracy: share of the step's tokens whose argmax is the target, scalar.
    """

    logits: Tensor
    loss: Tensor
    accuracy: Tensor


class HPCodecXLM(nn.Module):
    """All sections' transformers: 16 kHz-branch tokens -> 48 kHz-branch tokens.

    Shape:
        ``forward(low [B, S L, N], high [B, S H, N], step) -> HPCodecXOutput``;
        ``predict(low [B, S L, N]) -> high [B, S H, N]`` (section-major token layout).
    """

    def __init__(self, config: LMConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = LMConfig() if config is None else config
        self.sections = nn.ModuleList(SectionTransformer(cfg) for _ in range(cfg.num_sections))

    def _split(self, tokens: Tensor, per: int, name: str) -> list[Tensor]:
        count = self.config.num_sections * per
        if tokens.dim() != 3 or tokens.shape[1] != count:
            raise ValueError(f"{name} must be [B, {count}, N], got {tuple(tokens.shape)}")
        return list(tokens.split(per, dim=1))

    def logits(self, low: Tensor, high: Tensor | None, step: int) -> Tensor:
        """``[B, S, N, V]``: every section's logits of high codebook ``step``, reading the low
        tokens and the high codebooks ``< step`` of ``high`` (may be ``None`` at step 0)."""
        cfg = self.config
        lows = self._split(low, cfg.low_codebooks, "low")
        highs = (
            [None] * cfg.num_sections
            if high is None
            else self._split(high, cfg.high_codebooks, "high")
        )
        return torch.stack(
            [net(lo, hi, step) for net, lo, hi in zip(self.sections, lows, highs, strict=True)],
            dim=1,
        )

    def forward(self, low: Tensor, high: Tensor, step: int) -> HPCodecXOutput:
        """Training pass at ``step`` with teacher forcing: the true ``high`` feeds the earlier
        codebooks and gives the targets (module docstring)."""
        logits = self.logits(low, high, step)
        cfg = self.config
        target = high.view(high.shape[0], cfg.num_sections, cfg.high_codebooks, -1)[:, :, step]
        loss = sum(
            F.cross_entropy(logits[:, s].transpose(1, 2), target[:, s])
            for s in range(cfg.num_sections)
        )
        accuracy = (logits.argmax(-1) == target).float().mean()
        return HPCodecXOutput(logits, torch.as_tensor(loss), accuracy)

    @torch.no_grad()
    def predict(self, low: Tensor) -> Tensor:
        """Greedy prediction of every high codebook, step by step: ``[B, S L, N] -> [B, S H, N]``."""
        cfg = self.config
        batch, frames = low.shape[0], low.shape[-1]
        high = low.new_zeros(batch, cfg.num_sections, cfg.high_codebooks, frames)
        for step in range(cfg.high_codebooks):
            flat = high.view(batch, -1, frames)
            high[:, :, step] = self.logits(low, flat, step).argmax(-1)
        return high.view(batch, -1, frames)
