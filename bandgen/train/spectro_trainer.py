"""Training of SpectroStream (paper ``003``): recipe sections and the training loop.

One step: a batch of stereo segments ``[B, 2, T]`` is coded by the model (quantiser bypass and
biased dropout per item, EMA codebook updates inside the forward), decoded, and scored by the
SoundStream spectral reconstruction loss plus the commitment loss; with ``loss.adversarial > 0``
the multi-scale STFT discriminator of :mod:`bandgen.discriminators.spectro_stft` adds hinge
adversarial and feature-matching terms (the paper's GAN; the CPU recipe trains without it).

Validation codes fixed clips of the corpus's ``valid`` split at the rates of
``data.val_kbps`` (per channel, so twice that for the pair) and reports the mel distance
(:func:`bandgen.metrics.basic.mel_distance`) at each; the mean over the rates
(``val/mel``) picks the released weights.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from bandgen.config import Config
from bandgen.data.manifest import scan_corpus
from bandgen.data.stereo import StereoSegmentDataset, read_stereo
from bandgen.discriminators.spectro_stft import MultiScaleSpectroDiscriminator
from bandgen.errors import ConfigError
from bandgen.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from bandgen.losses.spectral_energy import SpectralEnergyDistance
from bandgen.metrics.basic import mel_distance
from bandgen.models.spectrostream import SpectroStream, SpectroStreamConfig
from bandgen.train.checkpoint import (
    ResumeFormat,
    export_weights,
    load_checkpoint,
    save_checkpoint,
    warm_start,
)
from bandgen.train.recipe import BaseRecipe

__all__ = ["KIND", "SpectroRecipe", "SpectroTrainer", "load_spectro_recipe"]

KIND = "spectrostream"
RESUME_FILE = "resume.safetensors"
BEST_FILE = "best.safetensors"


@dataclass(frozen=True)
class SpectroData(Config):
    """Where the segments come from and how many."""

    corpus_dir: str = "../corpus/train48k"
    segment_seconds: float = 1.28
    batch_size: int = 128
    valid_fraction: float = 0.04
    split_seed: int = 0
    balance_categories: bool = False
    gain_db: tuple[float, float] = (-12.0, 0.0)
    num_workers: int = 0
    val_clips: int = 8
    val_seconds: float = 4.0
    val_kbps: tuple[float, ...] = (2.7, 8.0)


@dataclass(frozen=True)
class SpectroOptim(Config):
    """Adam (the paper's optimiser; lr and betas are guesses marked [G] in HP §2)."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    grad_clip: float | None = 1.0


@dataclass(frozen=True)
class SpectroLoss(Config):
    """Loss weights (the paper: reconstruction 1, adversarial 1, feature matching 100 [G])."""

    reconstruction: float = 1.0
    adversarial: float = 0.0
    feature: float = 0.0


@dataclass(frozen=True)
class SpectroSchedule(Config):
    """Steps, time limit, logging, validation and checkpoint cadence."""

    steps: int = 2_000_000
    max_minutes: float | None = None
    log_every: int = 10
    val_minutes: float = 10.0
    ckpt_minutes: float = 5.0
    seed: int = 0
    init_from: str | None = None


@dataclass(frozen=True)
class SpectroRecipe(BaseRecipe):
    """A SpectroStream training recipe: ``model`` (``kind: spectrostream``, ``preset``:
    paper, cpu or debug), ``data``, ``optim``, ``loss``, ``schedule``."""

    kind: ClassVar[str] = KIND

    model: SpectroStreamConfig = field(default_factory=SpectroStreamConfig)
    data: SpectroData = field(default_factory=SpectroData)
    optim: SpectroOptim = field(default_factory=SpectroOptim)
    loss: SpectroLoss = field(default_factory=SpectroLoss)
    schedule: SpectroSchedule = field(default_factory=SpectroSchedule)


def load_spectro_recipe(path: str | Path) -> SpectroRecipe:
    """Read a SpectroStream recipe from YAML."""
    return SpectroRecipe.load(path)


class SpectroTrainer:
    """Trains a :class:`SpectroStream` from a :class:`SpectroRecipe` (single process).

    Args:
        recipe: the recipe.
        out_dir: checkpoints (``resume.safetensors``), released weights (``best.safetensors``)
            and ``log.jsonl``.
        resume: continue from ``out_dir/resume.safetensors``.
        progress: accepted for the family task contract (progress goes to ``log.jsonl``).
        resume_half: write the resume checkpoint in half precision.
        resume_omit: ``discriminator`` leaves it and its optimiser out of the resume file.
        device: torch device (default CUDA if available).
    """

    def __init__(
        self,
        recipe: SpectroRecipe,
        out_dir: str | Path,
        *,
        resume: bool = False,
        progress: bool = True,
        resume_half: bool = False,
        resume_omit: Sequence[str] = (),
        device: str | None = None,
    ) -> None:
        del progress
        unknown = sorted(set(resume_omit) - {"discriminator"})
        if unknown:
            raise ConfigError(f"resume_omit may name 'discriminator' only, got {unknown}")
        omit = ("discriminator", "opt_d") if resume_omit else ()
        self.resume_format = ResumeFormat(half=resume_half, omit=omit)
        self.recipe = recipe
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch.manual_seed(recipe.schedule.seed)
        self.model = SpectroStream(recipe.model).to(self.device)
        self.loss = SpectralEnergyDistance().to(self.device)
        opt = recipe.optim
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=opt.lr, betas=opt.betas)
        self.gan = recipe.loss.adversarial > 0 or recipe.loss.feature > 0
        self.disc: MultiScaleSpectroDiscriminator | None = None
        self.opt_d: torch.optim.Optimizer | None = None
        if self.gan:
            self.disc = MultiScaleSpectroDiscriminator().to(self.device)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=opt.lr, betas=opt.betas)
        self.step, self.best = 0, math.inf
        if resume:
            meta = load_checkpoint(self.out_dir / RESUME_FILE, **self._objects())
            self.step, best = int(meta["step"]), meta.get("best_mel")
            self.best = math.inf if best is None else float(best)
        elif recipe.schedule.init_from is not None:
            self._warm_start(Path(recipe.schedule.init_from))
        data = recipe.data
        entries = scan_corpus(
            data.corpus_dir, seed=data.split_seed, valid_fraction=data.valid_fraction
        )
        self.train_entries = [e for e in entries if e.split == "train"]
        self.valid_entries = [e for e in entries if e.split == "valid"]
        self.segment = round(data.segment_seconds * 48_000)
        self.dataset = StereoSegmentDataset(
            data.corpus_dir,
            self.train_entries,
            segment_length=self.segment,
            length=1_000 * data.batch_size,
            seed=recipe.schedule.seed,
            gain_db=data.gain_db,
            balance_categories=data.balance_categories,
        )
        self._val: list[np.ndarray] | None = None
        self._validated_at = -1
        self.log_path = self.out_dir / "log.jsonl"

    def _warm_start(self, path: Path) -> None:
        """Start from a resume checkpoint's model, or from released weights (``.safetensors``
        with a ``spectrostream`` JSON beside it: entries only, the EMA statistics restart)."""
        if path.with_suffix(".json").exists() and not path.name.startswith("resume"):
            from bandgen.pretrained.registry import load_weights

            released, _ = load_weights(path, kind=KIND)
            self.model.load_state_dict(released.state_dict())
        else:
            warm_start(path, {"model": self.model})

    def _objects(self) -> dict[str, Any]:
        modules: dict[str, nn.Module] = {"model": self.model}
        optimizers: dict[str, torch.optim.Optimizer] = {"opt": self.optimizer}
        if self.disc is not None and self.opt_d is not None:
            modules["discriminator"] = self.disc
            optimizers["opt_d"] = self.opt_d
        return {"modules": modules, "optimizers": optimizers, "schedulers": {}}

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        """One step on ``batch [B, 2, T]``; returns the losses."""
        self.model.train()
        target = batch.to(self.device)
        out = self.model(target)
        weights = self.recipe.loss
        recon = self.loss(out.wav, target)
        total = weights.reconstruction * recon + out.commitment_loss
        extra: dict[str, float] = {}
        if self.disc is not None and self.opt_d is not None:
            d_loss = hinge_discriminator_loss(
                self.disc(target).logits, self.disc(out.wav.detach()).logits
            )
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            real, fake = self.disc(target), self.disc(out.wav)
            adv = hinge_generator_loss(fake.logits)
            feat = feature_matching_loss(real.fmaps, fake.fmaps)
            total = total + weights.adversarial * adv + weights.feature * feat
            extra = {
                "disc": float(d_loss.detach()),
                "adv": float(adv.detach()),
                "feat": float(feat.detach()),
            }
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        clip = self.recipe.optim.grad_clip
        norm = nn.utils.clip_grad_norm_(
            self.model.parameters(), clip if clip is not None else math.inf
        )
        if torch.isfinite(norm):
            self.optimizer.step()
        return {
            "loss": float(total.detach()),
            "recon": float(recon.detach()),
            "commit": float(out.commitment_loss.detach()),
            "grad_norm": float(norm),
            **extra,
        }

    def _val_clips(self) -> list[np.ndarray]:
        if self._val is None:
            data = self.recipe.data
            frames = int(data.val_seconds * 48_000)
            picked = sorted(self.valid_entries, key=lambda e: (e.category, e.path))
            picked = [e for e in picked if e.duration_s * 48_000 >= frames]
            step = max(1, len(picked) // max(1, data.val_clips))
            self._val = []
            for entry in picked[::step][: data.val_clips]:
                start = int((entry.duration_s * 48_000 - frames) / 2)
                clip = read_stereo(Path(data.corpus_dir) / entry.path, start, frames)
                self._val.append(clip)
        return self._val

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mel distance of the valid clips at each of ``data.val_kbps`` (per channel)."""
        self.model.eval()
        metrics: dict[str, float] = {}
        for kbps in self.recipe.data.val_kbps:
            levels = self.recipe.model.levels_for_kbps(2 * kbps)
            scores = []
            for clip in self._val_clips():
                wav = torch.from_numpy(clip)[None].to(self.device)
                decoded = self.model.decode(self.model.encode(wav, levels), wav.shape[-1])
                scores.append(mel_distance(clip, decoded[0].cpu().numpy(), 48_000))
            metrics[f"val/mel@{kbps:g}"] = float(np.mean(scores))
        metrics["val/mel"] = float(np.mean(list(metrics.values())))
        return metrics

    def save(self) -> None:
        """Write the resume checkpoint."""
        meta = {
            "step": self.step,
            "best_mel": None if math.isinf(self.best) else self.best,
            "recipe": self.recipe.to_dict(),
        }
        save_checkpoint(
            self.out_dir / RESUME_FILE, meta=meta, fmt=self.resume_format, **self._objects()
        )

    def _log(self, record: dict[str, Any]) -> None:
        record = {"step": self.step, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
        with self.log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def _check_validation(self) -> None:
        self._validated_at = self.step
        metrics = self.validate()
        self._log(metrics)
        if metrics["val/mel"] < self.best:
            self.best = metrics["val/mel"]
            export_weights(
                self.out_dir / BEST_FILE,
                self.model,
                {
                    "model": KIND,
                    "config": self.recipe.model.to_dict(),
                    "step": self.step,
                    "val": metrics,
                },
            )

    def fit(self, until: int | None = None) -> dict[str, float]:
        """Train to ``until`` (default ``schedule.steps``) or ``schedule.max_minutes``."""
        sched = self.recipe.schedule
        until = sched.steps if until is None else min(until, sched.steps)
        start = time.monotonic()
        last_val = last_ckpt = start
        losses: dict[str, float] = {}
        sums: dict[str, float] = {}
        epoch = self.step // 1_000
        while self.step < until:
            self.dataset.set_epoch(epoch)
            loader = DataLoader(
                self.dataset,
                batch_size=self.recipe.data.batch_size,
                shuffle=False,
                num_workers=self.recipe.data.num_workers,
                drop_last=True,
            )
            for batch in loader:
                tic = time.perf_counter()
                losses = self.train_step(batch)
                self.step += 1
                for k, v in {**losses, "step_s": time.perf_counter() - tic}.items():
                    sums[k] = sums.get(k, 0.0) + v
                if self.step % sched.log_every == 0:
                    self._log({k: v / sched.log_every for k, v in sums.items()})
                    sums = {}
                now = time.monotonic()
                out_of_time = (
                    sched.max_minutes is not None and now - start >= 60 * sched.max_minutes
                )
                if now - last_val >= 60 * sched.val_minutes or out_of_time:
                    self._check_validation()
                    last_val = time.monotonic()
                if now - last_ckpt >= 60 * sched.ckpt_minutes or out_of_time:
                    self.save()
                    last_ckpt = time.monotonic()
                if out_of_time or self.step >= until:
                    until = self.step
                    break
            epoch += 1
        if self._validated_at != self.step:
            self._check_validation()
        self.save()
        return losses
