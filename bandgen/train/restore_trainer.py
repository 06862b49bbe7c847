"""Training of the MP3 restoration model (paper ``002`` §3.3): Adam on pixel + 0.5 SSIM.

Each step takes a batch of aligned ``(original, MP3 decode)`` segments from the core-coded
cache (:mod:`bandgen.data.cache` with the recipe's core, libmp3lame at 32 kbps), maps both to
stacked re/im STFT images, runs the model on the decode and minimises
``pixel * PixelLoss(out, target) + ssim * SSIMLoss(|out|, |target|)``. The target is the
original audio, not a 128 kbps MP3 as in the paper.

Everything else follows the n-SBG :class:`~bandgen.train.trainer.Trainer`, whose sampler and
process-group set-up are reused: ``bandgen train RECIPE`` or ``torchrun --nproc_per_node N -m
bandgen.cli train RECIPE`` (one model replica per process, gradients all-reduced by DDP,
rank 0 logs, validates and checkpoints). Outputs in ``OUT``: ``resume.safetensors`` (+
``.json``, written every ``ckpt_every`` steps or ``ckpt_minutes``, and at the end),
``best.safetensors`` + ``best.json`` (released weights of the best dev-clip LSD),
``log.jsonl``, ``tb/``.

Validation restores whole dev clips (coded once into ``<cache_root>/dev``) and reports the
LSD (:func:`bandgen.metrics.basic.lsd`, full band and above the core's cut-off) and SNR of
the restored signal against the original, next to the same numbers for the plain decode.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from bandgen.core import make_core
from bandgen.data.cache import build_cache, cache_dir_for
from bandgen.data.dataset import Segment, SegmentDataset, collate_segments
from bandgen.data.manifest import scan_corpus, select_hours
from bandgen.errors import ConfigError
from bandgen.losses.image import PixelLoss, SSIMLoss, magnitude
from bandgen.metrics.basic import lsd, snr
from bandgen.models.mp3restore import MP3Restore
from bandgen.train.checkpoint import export_weights, load_checkpoint, save_checkpoint, warm_start
from bandgen.train.logger import TrainLogger
from bandgen.train.restore_recipe import KIND, RestoreRecipe
from bandgen.train.trainer import BEST_FILE, RESUME_FILE, Trainer, _ResumableSampler
from bandgen.train.validate import ValClip, load_dev_clips

__all__ = ["RestoreTrainer"]

SAMPLE_RATE = 48_000


class _RestoreLogger(TrainLogger):
    """The trainer's logger with this model's losses on the progress bar."""

    def step(self, step: int, losses: dict[str, float], seconds: float) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(
                pixel=f"{losses['loss/pixel']:.3f}",
                ssim=f"{losses['loss/ssim']:.3f}",
                s=f"{seconds:.2f}",
            )


class RestoreTrainer:
    """Trains an :class:`~bandgen.models.mp3restore.MP3Restore` model (module docstring).

    Args:
        recipe: the restoration recipe.
        out_dir: where checkpoints, released weights and logs go.
        resume: continue from ``out_dir/resume.safetensors`` (error if it is missing).
        device: torch device; default CUDA (``LOCAL_RANK``) if available, else CPU.
        progress: show a tqdm bar (rank 0).
    """

    def __init__(
        self,
        recipe: RestoreRecipe,
        out_dir: str | os.PathLike[str],
        *,
        resume: bool = False,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        self.recipe = recipe
        self.out_dir = Path(out_dir)
        self.rank, self.world_size = Trainer._init_distributed()
        if device is None:
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.is_main = self.rank == 0
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)

        seed = recipe.schedule.seed
        torch.manual_seed(seed)
        self.model = MP3Restore(recipe.model).to(self.device)
        self.net: nn.Module = self.model
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.pixel_loss = PixelLoss()
        self.ssim_loss = SSIMLoss().to(self.device)
        opt = recipe.optim
        self.opt = torch.optim.Adam(self.model.parameters(), lr=opt.lr, betas=opt.betas)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=opt.lr_gamma)

        self.step = 0
        self.best_lsd = math.inf
        if resume:
            self._load()
        elif recipe.schedule.init_from is not None:
            counts = warm_start(recipe.schedule.init_from, {"model": self.model})
            if self.is_main:
                print(f"warm start from {recipe.schedule.init_from}: {counts}", flush=True)

        self.core = make_core(recipe.data.core, recipe.data.core_kbps)
        self.cache_dir = self._prepare_cache()
        data = recipe.data
        self.dataset = SegmentDataset(
            self.cache_dir,
            "train",
            segment_length=data.segment_length,
            seed=seed,
            gain_db=data.gain_db,
            silence_db=data.silence_db,
        )
        self.sampler = _ResumableSampler(
            self.dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=seed
        )
        self.steps_per_epoch = len(self.sampler) // data.batch_size
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{len(self.dataset)} segments per epoch are fewer than one batch of "
                f"{data.batch_size} per process; use more data or a smaller batch"
            )
        self.logger = _RestoreLogger(self.out_dir, enabled=self.is_main, progress=progress)
        self._val_clips: list[ValClip] | None = None
        self._last_save = time.monotonic()
        self.last_losses: dict[str, float] = {}

    # ------------------------------------------------------------------ setup

    def _prepare_cache(self) -> Path:
        data = self.recipe.data
        cache_dir = cache_dir_for(data.cache_root, self.core)
        if self.is_main and not (cache_dir / "index.jsonl").exists():
            entries = scan_corpus(
                data.corpus_dir, seed=data.split_seed, valid_fraction=data.valid_fraction
            )
            build_cache(
                data.corpus_dir, select_hours(entries, data.max_hours), data.cache_root, self.core
            )
        if self.world_size > 1:
            torch.distributed.barrier()
        return cache_dir

    def _loader(self, epoch: int, start_batch: int) -> DataLoader[Segment]:
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        self.sampler.start = start_batch * self.recipe.data.batch_size
        # own generator: creating the iterator must not consume the global RNG (exact resume)
        gen = torch.Generator().manual_seed(self.recipe.schedule.seed + epoch)
        return DataLoader(
            self.dataset,
            batch_size=self.recipe.data.batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=self.recipe.data.num_workers,
            collate_fn=collate_segments,
            generator=gen,
            pin_memory=self.device.type == "cuda",
        )

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

    def train_step(self, batch: Segment) -> dict[str, float]:
        """One Adam step on a batch; returns the losses (and gradient norm) as floats."""
        self.net.train()
        decoded = batch.core.to(self.device, non_blocking=True)[:, 0]
        target = batch.target.to(self.device, non_blocking=True)[:, 0]
        losses = self.losses(decoded, target)
        self.opt.zero_grad(set_to_none=True)
        losses["loss/total"].backward()
        clip = self.recipe.optim.grad_clip
        grad = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), math.inf if clip is None else clip
        )
        self.opt.step()
        self.sched.step()
        values = {k: float(v.detach()) for k, v in losses.items()}
        values["grad_norm"] = float(grad)
        return values

    # ------------------------------------------------------------------ loop

    def fit(self, until: int | None = None) -> dict[str, float]:
        """Train up to step ``until`` (default ``schedule.steps``); returns the last losses.

        Writes the resume checkpoint every ``ckpt_every`` steps or ``ckpt_minutes``, and at the
        end.
        """
        sched = self.recipe.schedule
        until = sched.steps if until is None else min(until, sched.steps)
        self.logger.start(self.step, until)
        while self.step < until:
            epoch, pos = divmod(self.step, self.steps_per_epoch)
            for batch in self._loader(epoch, pos):
                tic = time.perf_counter()
                self.last_losses = self.train_step(batch)
                self.step += 1
                self.logger.step(self.step, self.last_losses, time.perf_counter() - tic)
                if self.step % sched.log_every == 0:
                    lr = float(self.sched.get_last_lr()[0])
                    self.logger.scalars(self.step, {**self.last_losses, "lr": lr})
                if self.step % sched.val_every == 0:
                    self.run_validation()
                if self.step % sched.ckpt_every == 0 or self._checkpoint_due():
                    self.save()
                if self.step >= until:
                    break
        if self.step % sched.ckpt_every:
            self.save()
        self.logger.close()
        return self.last_losses

    def _checkpoint_due(self) -> bool:
        minutes = self.recipe.schedule.ckpt_minutes
        if minutes is None:
            return False
        due = time.monotonic() - self._last_save >= 60 * minutes
        if self.world_size > 1:  # every rank must take the same branch (rank 0's clock)
            flag = torch.tensor([float(due)], device=self.device)
            torch.distributed.broadcast(flag, src=0)
            due = bool(flag.item())
        return due

    @torch.no_grad()
    def run_validation(self) -> dict[str, float]:
        """Restore the dev clips on rank 0; export released weights when their LSD improves."""
        if not self.is_main:
            return {}
        data = self.recipe.data
        if self._val_clips is None:
            self._val_clips = load_dev_clips(
                data.dev_dir,
                data.cache_root,
                self.core,
                train_cache=self.cache_dir,
                max_clips=data.dev_max_clips,
                seconds=data.dev_seconds,
            )
        if not self._val_clips:
            return {}
        metrics = self._validate(self._val_clips)
        self.logger.scalars(self.step, metrics)
        if metrics["val/lsd"] < self.best_lsd:
            self.best_lsd = metrics["val/lsd"]
            export_weights(
                self.out_dir / BEST_FILE,
                self.model,
                {
                    "model": KIND,
                    "config": self.recipe.model.to_dict(),
                    "core": dataclasses.asdict(self.core.params),
                    "step": self.step,
                    "val": metrics,
                },
            )
        return metrics

    def _validate(self, clips: list[ValClip]) -> dict[str, float]:
        was_training = self.model.training
        self.model.eval()
        cutoff = self.core.cutoff_hz
        rows: dict[str, list[float]] = {}
        example: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
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
        if example is not None:
            self.logger.example(self.step, *example)
        return {k: float(np.mean(v)) for k, v in rows.items()}

    # ------------------------------------------------------------------ checkpoints

    def _objects(self) -> dict[str, Any]:
        return {
            "modules": {"model": self.model},
            "optimizers": {"opt": self.opt},
            "schedulers": {"sched": self.sched},
        }

    def save(self) -> None:
        """Write ``out_dir/resume.safetensors`` (rank 0 only)."""
        self._last_save = time.monotonic()
        if not self.is_main:
            return
        meta = {
            "step": self.step,
            "best_lsd": None if math.isinf(self.best_lsd) else self.best_lsd,
            "world_size": self.world_size,
            "recipe": self.recipe.to_dict(),
        }
        save_checkpoint(self.out_dir / RESUME_FILE, meta=meta, **self._objects())

    def _load(self) -> None:
        meta = load_checkpoint(self.out_dir / RESUME_FILE, **self._objects())
        self.step = int(meta["step"])
        best = meta.get("best_lsd")
        self.best_lsd = math.inf if best is None else float(best)
