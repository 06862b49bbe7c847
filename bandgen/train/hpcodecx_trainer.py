"""Training of HP-codecX's transformers (paper ``004`` §3.2.2) on a frozen HP-codec's tokens.

Data: the band-limit cache (``data.core: bandlimit``, ``data.core_rate: 16000``): each segment
pairs the 48 kHz original (``target``) with its 16 kHz version upsampled to 48 kHz (``core``).
Per batch, with the frozen codec (loaded from ``codec_weights``, its sha256 checked; its
config becomes ``model.codec``):

- ``x16`` = the core brought back to 16 kHz (soxr, as the cache made it);
- low tokens = ``codec.encode_low(x16)``;
- high targets = ``codec.encode_high(x48 - up3(codec.decode_low(low)))``: the 48 kHz branch's
  tokens of the residual the codec itself would code (:meth:`HPCodecX.tokens`).

One step: a step ``s`` of the three high codebooks drawn uniformly, cross-entropy of head ``s``
with teacher-forced earlier codebooks, summed over the sections (:class:`HPCodecXLM`); AdamW
(HP §4 "LM training": lr 1e-4, betas (0.8, 0.99)), cosine annealing over ``optim.t_max``
steps. Only the transformers train; the codec stays frozen in eval mode.

Validation on the corpus's ``valid`` split (``data.dev_dir: null``): cross-entropy and token
accuracy of every step, teacher-forced (``val/ce``, ``val/acc``, ``val/acc{s}``), and the
accuracy of the greedy step-by-step prediction (``val/acc_greedy``); ``val/ce`` picks the
released weights (transformers and codec in one file).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from bandgen.config import Config, check_lr
from bandgen.data.dataset import Segment
from bandgen.errors import ConfigError
from bandgen.models.hpcodec import HPCodec
from bandgen.models.hpcodecx import HPCodecX, HPCodecXConfig
from bandgen.train.base import BaseTrainer, Example
from bandgen.train.recipe import BaseRecipe, DataConfig, ScheduleConfig
from bandgen.train.validate import ValClip

__all__ = ["KIND", "HPCodecXOptim", "HPCodecXRecipe", "HPCodecXTrainer"]

KIND = "hpcodecx"
"""``model.kind`` of an HP-codecX recipe."""

LOW_RATE = 16_000
_DATA_DEFAULTS: dict[str, Any] = {
    "core": "bandlimit",
    "core_rate": LOW_RATE,
    "cache_root": "../corpus/cache_bl",
    "segment_length": 120_000,
    "batch_size": 32,
    "dev_dir": None,
}
"""Where an HP-codecX recipe's ``data`` defaults differ from :class:`DataConfig`: the band-limit
cache at 16 kHz, 2.5 s excerpts in batches of 32 (HP §4 "LM training"), validation on the
``valid`` split."""


@dataclass(frozen=True)
class HPCodecXOptim(Config):
    """AdamW with cosine annealing (HP §4 "LM training").

    Attributes:
        lr: initial learning rate (1e-4).
        betas: AdamW betas ((0.8, 0.99)).
        weight_decay: AdamW weight decay (torch's default, 0.01).
        t_max: cosine annealing period in steps (44 k).
        grad_clip: max gradient norm (``None``: none).
    """

    lr: float = 1e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    t_max: int = 44_000
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        check_lr(self.lr)
        if self.t_max < 1:
            raise ConfigError(f"optim.t_max must be >= 1, got {self.t_max}")


@dataclass(frozen=True)
class HPCodecXRecipe(BaseRecipe):
    """An HP-codecX recipe: ``model`` (``kind: hpcodecx``, ``preset``: paper, cpu or debug),
    ``codec_weights`` (the frozen HP-codec: ``FILE.safetensors`` with ``FILE.json`` beside
    it, relative to the working directory), ``data``, ``optim``, ``schedule``."""

    kind: ClassVar[str] = KIND

    model: HPCodecXConfig = field(default_factory=HPCodecXConfig)
    codec_weights: str | None = None
    data: DataConfig = field(default_factory=lambda: DataConfig(**_DATA_DEFAULTS))
    optim: HPCodecXOptim = field(default_factory=HPCodecXOptim)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


def _to_16k(core48: Tensor) -> Tensor:
    """``[B, 1, T]`` at 48 kHz (content below 8 kHz) -> ``[B, 1, T / 3]`` at 16 kHz (soxr)."""
    from bandgen.audio.resample import resample

    wav = resample(core48[:, 0].numpy(), 48_000, LOW_RATE)
    return torch.from_numpy(wav)[:, None]


class HPCodecXTrainer(BaseTrainer[HPCodecXRecipe]):
    """Trains the transformers of an :class:`~bandgen.models.hpcodecx.HPCodecX` on a frozen
    HP-codec's tokens (module docstring). Arguments as
    :class:`~bandgen.train.base.BaseTrainer`."""

    kind: ClassVar[str] = KIND
    best_metric: ClassVar[str] = "val/ce"
    best_key: ClassVar[str] = "best_ce"
    bar_losses: ClassVar[dict[str, str]] = {"ce": "loss/ce", "acc": "acc"}

    def _build(self) -> None:
        from bandgen.pretrained.registry import load_weights, resolve_weights

        recipe = self.recipe
        if recipe.codec_weights is None:
            raise ConfigError(
                "an HP-codecX recipe needs codec_weights: the frozen HP-codec's "
                "FILE.safetensors (FILE.json beside it)"
            )
        codec, info = load_weights(*resolve_weights(weights=recipe.codec_weights), kind="hpcodec")
        assert isinstance(codec, HPCodec)
        model_cfg = dataclasses.replace(recipe.model, codec=codec.config)
        self.recipe = dataclasses.replace(recipe, model=model_cfg)
        self.codec_info = {k: info[k] for k in ("name", "sha256") if k in info}
        self.model = HPCodecX(model_cfg)
        self.model.codec.load_state_dict(codec.state_dict())
        self.model.to(self.device)
        self.net = self._wrap(self.model.lm)
        opt = recipe.optim
        self.opt = torch.optim.AdamW(
            self.model.lm.parameters(), lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay
        )
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=opt.t_max)
        self.step_rng = torch.Generator().manual_seed(recipe.schedule.seed)

    def _objects(self) -> dict[str, Any]:
        return {
            "modules": {"lm": self.model.lm},
            "optimizers": {"opt": self.opt},
            "schedulers": {"sched": self.sched},
        }

    def _released(self) -> nn.Module:
        return self.model

    def _lr(self) -> float:
        return float(self.sched.get_last_lr()[0])

    def tokens(self, target48: Tensor, core48: Tensor) -> tuple[Tensor, Tensor]:
        """``(low [B, 6, N], high [B, 6, N])`` of a batch (CPU tensors ``[B, 1, T]``)."""
        x16 = _to_16k(core48).to(self.device)
        return self.model.tokens(x16, target48.to(self.device))

    def train_step(self, batch: Segment) -> dict[str, Tensor]:
        """One AdamW step at a uniformly drawn codebook step; returns loss and accuracy."""
        from bandgen.train.steps import clip_grad_norm

        low, high = self.tokens(batch.target, batch.core)
        step = int(
            torch.randint(self.model.config.lm.high_codebooks, (1,), generator=self.step_rng)
        )
        self.model.lm.train()
        with self.autocast():
            out = self.net(low, high, step)
        self.opt.zero_grad(set_to_none=True)
        out.loss.backward()
        grad = clip_grad_norm(self.model.lm, self.recipe.optim.grad_clip)
        self.opt.step()
        self.sched.step()
        return {"loss/ce": out.loss.detach(), "acc": out.accuracy.detach(), "grad_norm": grad}

    @torch.no_grad()
    def _validate(self, clips: list[ValClip]) -> tuple[dict[str, float], Example]:
        """Teacher-forced CE and accuracy per step, and greedy accuracy, over the clips."""
        lm = self.model.lm
        was_training = lm.training
        lm.eval()
        rows: dict[str, list[float]] = {}
        example: Example | None = None
        try:
            for clip in clips:
                low, high = self.tokens(clip.target, clip.core)
                for s in range(self.model.config.lm.high_codebooks):
                    out = lm(low, high, s)
                    rows.setdefault("val/ce", []).append(float(out.loss))
                    rows.setdefault(f"val/acc{s}", []).append(float(out.accuracy))
                pred = lm.predict(low)
                rows.setdefault("val/acc_greedy", []).append(float((pred == high).float().mean()))
                if example is None:
                    x16 = _to_16k(clip.core).to(self.device)
                    extended = self.model.extend_high(x16)[..., : clip.core.shape[-1]].cpu()
                    output = (clip.core + extended)[0, 0].numpy()
                    example = (clip.target[0, 0].numpy(), output, clip.core[0, 0].numpy())
        finally:
            lm.train(was_training)
        if example is None:
            raise ValueError("no validation clips")
        metrics = {k: float(np.mean(v)) for k, v in rows.items()}
        steps = self.model.config.lm.high_codebooks
        metrics["val/acc"] = float(np.mean([metrics[f"val/acc{s}"] for s in range(steps)]))
        return metrics, example
