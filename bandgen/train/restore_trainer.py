"""Training of the MP3 restoration model (paper ``002`` §3.3): Adam on pixel + 0.5 SSIM.

Each step takes a batch of aligned ``(original, MP3 decode)`` segments from the core-coded
cache (:mod:`bandgen.data.cache` with the recipe's core, libmp3lame at 32 kbps), maps both to
stacked re/im STFT images, runs the model on the decode and minimises
``pixel * PixelLoss(out, target) + ssim * SSIMLoss(|out|, |target|)``. The target is the
original audio, not a 128 kbps MP3 as in the paper.

Everything else is :class:`~bandgen.train.base.BaseTrainer`, as for n-SBG: ``bandgen train
RECIPE`` or ``torchrun --nproc_per_node N -m bandgen.cli train RECIPE`` (one model replica per
process, gradients all-reduced by DDP, rank 0 logs, validates and checkpoints). Outputs in
``OUT``: ``resume.safetensors`` (+ ``.json``, written every ``ckpt_every`` steps or
``ckpt_minutes``, and at the end), ``best.safetensors`` + ``best.json`` (released weights of
the best dev-clip LSD), ``log.jsonl``, ``tb/``.

Validation restores whole dev clips (coded once into ``<cache_root>/dev``) and reports the
LSD (:func:`bandgen.metrics.basic.lsd`, full band and above the core's cut-off) and SNR of
the restored signal against the original, next to the same numbers for the plain decode.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from bandgen.data.dataset import Segment
from bandgen.losses.image import PixelLoss, SSIMLoss, magnitude
from bandgen.metrics.basic import lsd, snr
from bandgen.models.mp3restore import MP3Restore
from bandgen.train.base import BaseTrainer, Example
from bandgen.train.restore_recipe import KIND, RestoreRecipe
from bandgen.train.steps import adam, clip_grad_norm
from bandgen.train.validate import ValClip

__all__ = ["RestoreTrainer"]

SAMPLE_RATE = 48_000


class RestoreTrainer(BaseTrainer[RestoreRecipe]):
    """Trains an :class:`~bandgen.models.mp3restore.MP3Restore` model (module docstring).

    Takes the arguments of :class:`~bandgen.train.base.BaseTrainer` (recipe, out_dir, resume,
    device, progress).
    """

    kind: ClassVar[str] = KIND
    best_metric: ClassVar[str] = "val/lsd"
    best_key: ClassVar[str] = "best_lsd"
    bar_losses: ClassVar[dict[str, str]] = {"pixel": "loss/pixel", "ssim": "loss/ssim"}

    # ------------------------------------------------------------------ setup

    def _build(self) -> None:
        self.model = MP3Restore(self.recipe.model).to(self.device)
        self.net = self._wrap(self.model)
        self.pixel_loss = PixelLoss()
        self.ssim_loss = SSIMLoss().to(self.device)
        opt = self.recipe.optim
        self.opt = adam(self.model.parameters(), lr=opt.lr, betas=opt.betas)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=opt.lr_gamma)

    # ------------------------------------------------------------------ steps

    def losses(self, decoded: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Paper ``002`` eq. 3 on waveforms ``[B, T]``: ``loss/pixel``, ``loss/ssim``,
        ``loss/total`` (the model runs in whatever mode it is in)."""
        w = self.recipe.loss
        target_image = self.model.analyze(target)
        restored = self.net(self.model.analyze(decoded))
        pixel = self.pixel_loss(restored, target_image)
        ssim = self.ssim_loss(magnitude(restored), magnitude(target_image))
        total = w.pixel * pixel + w.ssim * ssim
        return {"loss/total": total, "loss/pixel": pixel, "loss/ssim": ssim}

    def train_step(self, batch: Segment) -> dict[str, torch.Tensor]:
        """One Adam step on a batch; returns the losses and gradient norm (device tensors)."""
        self.net.train()
        decoded = batch.core.to(self.device, non_blocking=True)[:, 0]
        target = batch.target.to(self.device, non_blocking=True)[:, 0]
        with self.autocast():
            losses = self.losses(decoded, target)
        self.opt.zero_grad(set_to_none=True)
        losses["loss/total"].backward()
        grad = clip_grad_norm(self.model, self.recipe.optim.grad_clip)
        self.opt.step()
        self.sched.step()
        return {**{k: v.detach() for k, v in losses.items()}, "grad_norm": grad}

    def _lr(self) -> float:
        return float(self.sched.get_last_lr()[0])

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def _validate(self, clips: list[ValClip]) -> tuple[dict[str, float], Example]:
        """LSD (full band and above the core's cut-off) and SNR of the restored dev clips and
        of their plain decodes (``_decode``)."""
        was_training = self.model.training
        self.model.eval()
        cutoff = self.core.cutoff_hz
        rows: dict[str, list[float]] = {}
        example: Example | None = None
        try:
            for clip in clips:
                decoded = clip.core[0, 0].numpy()
                target = clip.target[0, 0].numpy()
                restored_t = self.model.restore(clip.core[0].to(self.device))
                restored = restored_t[0].float().cpu().numpy()
                for name, test in (("", restored), ("_decode", decoded)):
                    rows.setdefault(f"val/lsd{name}", []).append(lsd(target, test, SAMPLE_RATE))
                    rows.setdefault(f"val/lsd_high{name}", []).append(
                        lsd(target, test, SAMPLE_RATE, min_hz=cutoff)
                    )
                    rows.setdefault(f"val/snr{name}", []).append(snr(target, test, SAMPLE_RATE))
                if example is None:
                    example = (target, restored, decoded)
        finally:
            self.model.train(was_training)
        if example is None:
            raise ValueError("no validation clips")
        return {k: float(np.mean(v)) for k, v in rows.items()}, example

    def _released(self) -> nn.Module:
        return self.model

    # ------------------------------------------------------------------ checkpoints

    def _objects(self) -> dict[str, Any]:
        return {
            "modules": {"model": self.model},
            "optimizers": {"opt": self.opt},
            "schedulers": {"sched": self.sched},
        }
