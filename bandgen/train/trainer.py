"""The n-SBG GAN training loop (paper ``000`` §3.3; HP §1.5).

Each step: the generator step (mel + feature matching + hinge adversarial + RVQ commitment and
codebook losses, weighted by :class:`bandgen.losses.LossWeights`; grad-norm clip; Adam;
ExponentialLR), then the discriminator step (hinge loss on ``y`` vs detached ``y_hat``).
In the D step real and fake go through the discriminator as one concatenated batch (one
forward per backward, which keeps DDP simple). During the G step the discriminator is frozen
(``requires_grad_(False)``: no weight gradients are computed), its real-signal pass runs under
``no_grad``, and under DDP it does not all-reduce (``no_sync``).

Run with ``bandgen train RECIPE`` or, on several processes/GPUs/nodes,
``torchrun --nproc_per_node N -m bandgen.cli train RECIPE``: the backend is NCCL on GPUs and
gloo on CPU; each process draws its own batches (DistributedSampler); only rank 0 logs,
validates and writes checkpoints. Outputs in ``OUT``: ``resume.safetensors`` (+ ``.json``),
``best.safetensors`` + ``best.json`` (released weights of the best high-band LSD), ``tb/``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from bandgen.core import make_core
from bandgen.data.cache import build_cache, cache_dir_for
from bandgen.data.dataset import Segment, SegmentDataset, collate_segments
from bandgen.data.manifest import scan_corpus, select_hours
from bandgen.discriminators import build_discriminator
from bandgen.errors import ConfigError
from bandgen.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from bandgen.losses.mel import MultiScaleMelLoss
from bandgen.losses.psychoacoustic import PSYCHOACOUSTIC_LOSSES
from bandgen.models.nsbg import NSBG
from bandgen.train.checkpoint import export_weights, load_checkpoint, save_checkpoint, warm_start
from bandgen.train.logger import TrainLogger
from bandgen.train.recipe import Recipe
from bandgen.train.validate import ValClip, load_dev_clips, validate

__all__ = ["Trainer"]

RESUME_FILE = "resume.safetensors"
BEST_FILE = "best.safetensors"


class _ResumableSampler(DistributedSampler[int]):
    """A DistributedSampler that can start part-way through an epoch (for exact resumes)."""

    start = 0

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return super().__len__() - self.start


def _split(out: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    halves = [t.chunk(2, dim=0) for t in out]
    return [h[0] for h in halves], [h[1] for h in halves]


class Trainer:
    """Trains an :class:`~bandgen.models.nsbg.NSBG` generator against a discriminator ensemble.

    Args:
        recipe: the training recipe.
        out_dir: where checkpoints, released weights and logs go.
        resume: continue from ``out_dir/resume.safetensors`` (error if it is missing).
        device: torch device; default CUDA (``LOCAL_RANK``) if available, else CPU.
        progress: show a tqdm bar (rank 0).
    """

    def __init__(
        self,
        recipe: Recipe,
        out_dir: str | os.PathLike[str],
        *,
        resume: bool = False,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> None:
        self.recipe = recipe
        self.out_dir = Path(out_dir)
        self.rank, self.world_size = self._init_distributed()
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        if device is None:
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.is_main = self.rank == 0
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)

        seed = recipe.schedule.seed
        torch.manual_seed(seed)
        self.generator = NSBG(recipe.model).to(self.device)
        disc = recipe.discriminator
        self.discriminator = build_discriminator(
            disc.kind, bands=disc.resolved_bands(recipe.model), scale=disc.scale
        ).to(self.device)
        self.mel_loss = MultiScaleMelLoss(sample_rate=48_000).to(self.device)
        # optional psychoacoustic terms (paper 001 §6.1), built only when weighted
        self.psy_losses = nn.ModuleDict(
            {
                name: cls(sample_rate=48_000).to(self.device)
                for name, cls in PSYCHOACOUSTIC_LOSSES.items()
                if getattr(recipe.loss, name, 0.0) > 0
            }
        )
        opt = recipe.optim
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=opt.lr, betas=opt.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=opt.lr, betas=opt.betas)
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma=opt.lr_gamma)
        self.sched_d = torch.optim.lr_scheduler.ExponentialLR(self.opt_d, gamma=opt.lr_gamma)
        self.g_model: nn.Module = self.generator
        self.d_model: nn.Module = self.discriminator
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_model = DistributedDataParallel(
                self.generator, device_ids=ids, find_unused_parameters=True
            )
            self.d_model = DistributedDataParallel(self.discriminator, device_ids=ids)

        self.step = 0
        self.best_lsd = math.inf
        if resume:
            self._load()
        elif recipe.schedule.init_from is not None:
            counts = warm_start(
                recipe.schedule.init_from,
                {"generator": self.generator, "discriminator": self.discriminator},
            )
            if self.is_main:
                print(f"warm start from {recipe.schedule.init_from}: {counts}", flush=True)
        # per-rank stream for quantiser dropout; rank 0 keeps the (restored) global stream
        if self.rank > 0:
            torch.manual_seed(seed + 7919 * self.rank + self.step)

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
        self.logger = TrainLogger(self.out_dir, enabled=self.is_main, progress=progress)
        self._val_clips: list[ValClip] | None = None
        self.last_losses: dict[str, float] = {}

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _init_distributed() -> tuple[int, int]:
        world = int(os.environ.get("WORLD_SIZE", 1))
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

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
        self._barrier()
        return cache_dir

    def _loader(self, epoch: int, start_batch: int) -> DataLoader[Segment]:
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        self.sampler.start = start_batch * self.recipe.data.batch_size
        # own generator: creating the iterator must not consume the global RNG (exact resume)
        gen = torch.Generator().manual_seed(self.recipe.schedule.seed + epoch)
        workers = self.recipe.data.num_workers
        return DataLoader(
            self.dataset,
            batch_size=self.recipe.data.batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=workers,
            collate_fn=collate_segments,
            generator=gen,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    # ------------------------------------------------------------------ steps

    def train_step(self, batch: Segment) -> dict[str, float]:
        """One G step then one D step on a batch; returns the losses as floats."""
        w = self.recipe.loss
        core = batch.core.to(self.device, non_blocking=True)
        target = batch.target.to(self.device, non_blocking=True)
        self.g_model.train()
        self.d_model.train()

        # G step: D is frozen (no weight gradients to compute) and does not all-reduce
        no_sync = self.d_model.no_sync if self.world_size > 1 else nullcontext
        self.discriminator.requires_grad_(False)
        with no_sync():  # type: ignore[operator]
            out = self.g_model(core, target)
            with torch.no_grad():
                real_fmaps = self.d_model(out.y).fmaps
            d_fake = self.d_model(out.y_hat)
            fake_logits, fake_fmaps = d_fake.logits, d_fake.fmaps
            loss_mel = self.mel_loss(out.y_hat, out.y)
            loss_adv = hinge_generator_loss(fake_logits)
            loss_fm = feature_matching_loss(real_fmaps, fake_fmaps)
            loss_g = (
                w.mel * loss_mel
                + w.fm * loss_fm
                + w.adv * loss_adv
                + w.commit * out.commitment_loss
                + w.codebook * out.codebook_loss
            )
            psy = {f"g/{n}": loss(out.y_hat, out.y) for n, loss in self.psy_losses.items()}
            for name, value in psy.items():
                loss_g = loss_g + getattr(w, name[2:]) * value
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        self.discriminator.requires_grad_(True)
        grad_g = self._clip(self.generator, self.recipe.optim.grad_clip_g)
        self.opt_g.step()
        self.sched_g.step()

        self.opt_d.zero_grad(set_to_none=True)
        d_out = self.d_model(torch.cat([out.y.detach(), out.y_hat.detach()]))
        real_logits, fake_logits = _split(d_out.logits)
        loss_d = hinge_discriminator_loss(real_logits, fake_logits)
        loss_d.backward()
        grad_d = self._clip(self.discriminator, self.recipe.optim.grad_clip_d)
        self.opt_d.step()
        self.sched_d.step()

        losses = {
            "g/total": loss_g,
            "g/mel": loss_mel,
            "g/fm": loss_fm,
            "g/adv": loss_adv,
            "g/commit": out.commitment_loss,
            "g/codebook": out.codebook_loss,
            "d/hinge": loss_d,
            **psy,
        }
        values = {k: float(v.detach()) for k, v in losses.items()}
        values.update({"grad_norm/g": grad_g, "grad_norm/d": grad_d})
        return values

    @staticmethod
    def _clip(module: nn.Module, max_norm: float | None) -> float:
        params = [p for p in module.parameters() if p.grad is not None]
        limit = math.inf if max_norm is None else max_norm
        return float(torch.nn.utils.clip_grad_norm_(params, limit))

    # ------------------------------------------------------------------ loop

    def fit(self, until: int | None = None) -> dict[str, float]:
        """Train up to step ``until`` (default ``schedule.steps``); returns the last losses.

        Writes the resume checkpoint every ``ckpt_every`` steps and at the end.
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
                    lr = float(self.sched_g.get_last_lr()[0])
                    self.logger.scalars(self.step, {**self.last_losses, "lr": lr})
                if self.step % sched.val_every == 0:
                    self.run_validation()
                if self.step % sched.ckpt_every == 0:
                    self.save()
                if self.step >= until:
                    break
        if self.step % sched.ckpt_every:
            self.save()
        self.logger.close()
        return self.last_losses

    def run_validation(self) -> dict[str, float]:
        """Validate on rank 0; export released weights when high-band LSD improves."""
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
        res = validate(self.generator, self._val_clips, self.device)
        metrics = {"val/lsd_high": res.lsd_high, "val/mel": res.mel}
        self.logger.scalars(self.step, metrics)
        self.logger.example(self.step, *res.example)
        if res.lsd_high < self.best_lsd:
            self.best_lsd = res.lsd_high
            export_weights(
                self.out_dir / BEST_FILE,
                self.generator,
                {
                    "model": "nsbg",
                    "config": self.recipe.model.to_dict(),
                    "core": dataclasses.asdict(self.core.params),
                    "step": self.step,
                    "val": metrics,
                },
            )
        return metrics

    # ------------------------------------------------------------------ checkpoints

    def _objects(self) -> dict[str, Any]:
        return {
            "modules": {"generator": self.generator, "discriminator": self.discriminator},
            "optimizers": {"opt_g": self.opt_g, "opt_d": self.opt_d},
            "schedulers": {"sched_g": self.sched_g, "sched_d": self.sched_d},
        }

    def save(self) -> None:
        """Write ``out_dir/resume.safetensors`` (rank 0 only)."""
        if not self.is_main:
            return
        best = None if math.isinf(self.best_lsd) else self.best_lsd
        meta = {
            "step": self.step,
            "best_lsd_high": best,
            "world_size": self.world_size,
            "recipe": self.recipe.to_dict(),
        }
        save_checkpoint(self.out_dir / RESUME_FILE, meta=meta, **self._objects())

    def _load(self) -> None:
        meta = load_checkpoint(self.out_dir / RESUME_FILE, **self._objects())
        self.step = int(meta["step"])
        best = meta.get("best_lsd_high")
        self.best_lsd = math.inf if best is None else float(best)
