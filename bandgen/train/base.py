"""What every bandgen trainer shares: processes, data, the step loop, validation, checkpoints.

:class:`BaseTrainer` is the skeleton of the n-SBG :class:`~bandgen.train.trainer.Trainer` and
the MP3-restoration :class:`~bandgen.train.restore_trainer.RestoreTrainer`; a subclass builds
its models, optimisers and losses (:meth:`BaseTrainer._build`), takes one step
(:meth:`BaseTrainer.train_step`), validates (:meth:`BaseTrainer._validate`) and names what its
checkpoint holds (:meth:`BaseTrainer._objects`).

Run with ``bandgen train RECIPE`` or, on several processes/GPUs/nodes,
``torchrun --nproc_per_node N -m bandgen.cli train RECIPE``: the backend is NCCL on GPUs and
gloo on CPU; each process draws its own batches (DistributedSampler); only rank 0 logs,
validates and writes checkpoints. Outputs in ``OUT``: ``resume.safetensors`` (+ ``.json``;
compact with ``resume_half``/``resume_omit``, see :class:`~bandgen.train.checkpoint.ResumeFormat`),
``best.safetensors`` + ``best.json`` (released weights of the best validation score),
``log.jsonl``, ``tb/``.

Resumes are exact: the resume checkpoint carries the RNG states, the sampler starts part-way
through its epoch, and building a data loader does not touch the global RNG.

Keeping a GPU busy (:mod:`bandgen.train.steps`): ``schedule.precision: bf16`` runs the forward
passes under bfloat16 autocast; cuDNN autotuning and TF32 are on for CUDA; steps return their
losses as device tensors, summed on the device and read once per ``log_every`` steps (the
logged values are the means over that interval); the data loader is built once, its workers
persist across epochs (the sampler hands each worker ``(epoch, index)``), with pinned memory
on CUDA; under ``torchrun`` each process binds its GPU (``LOCAL_RANK``) before NCCL starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from bandgen.core import make_core
from bandgen.data.cache import build_cache, cache_dir_for
from bandgen.data.dataset import Segment, SegmentDataset, collate_segments
from bandgen.data.manifest import scan_corpus, select_hours
from bandgen.errors import ConfigError
from bandgen.train.checkpoint import (
    ResumeFormat,
    export_weights,
    load_checkpoint,
    save_checkpoint,
    warm_start,
)
from bandgen.train.logger import TrainLogger
from bandgen.train.recipe import DataConfig, ScheduleConfig
from bandgen.train.steps import LossMeans, autocast, configure_backends
from bandgen.train.validate import ValClip, load_dev_clips

__all__ = [
    "BEST_FILE",
    "RESUME_FILE",
    "BaseTrainer",
    "ResumableSampler",
    "TrainRecipe",
    "init_distributed",
]

RESUME_FILE = "resume.safetensors"
BEST_FILE = "best.safetensors"

Example = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One validation clip for the logger: ``(target, output, input)``, each ``[T]``."""


class _ModelConfig(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class TrainRecipe(Protocol):
    """What :class:`BaseTrainer` reads of a recipe (n-SBG or restoration)."""

    @property
    def model(self) -> _ModelConfig: ...

    @property
    def data(self) -> DataConfig: ...

    @property
    def schedule(self) -> ScheduleConfig: ...

    def to_dict(self) -> dict[str, Any]: ...


RecipeT = TypeVar("RecipeT", bound=TrainRecipe)


class ResumableSampler(Sampler[tuple[int, int]]):
    """This process's share of a :class:`DistributedSampler`'s shuffled indices as
    ``(epoch, index)`` pairs, optionally from ``start`` on (for exact resumes).

    The epoch travels with each index so that persistent data-loader workers, whose copies of
    the dataset never see :meth:`SegmentDataset.set_epoch`, draw that epoch's segments.
    """

    def __init__(self, dataset: SegmentDataset, *, num_replicas: int, rank: int, seed: int):
        self._inner: DistributedSampler[int] = DistributedSampler(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed
        )
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for ``epoch``."""
        self._inner.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self._inner.epoch
        return ((epoch, i) for i in itertools.islice(iter(self._inner), self.start, None))

    def __len__(self) -> int:
        return len(self._inner) - self.start


def init_distributed() -> tuple[int, int]:
    """``(rank, world_size)``; joins the process group when ``WORLD_SIZE`` > 1 (torchrun).

    On CUDA the process first binds its GPU (``LOCAL_RANK``): NCCL would otherwise create
    every rank's context on GPU 0.
    """
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class BaseTrainer(ABC, Generic[RecipeT]):
    """The training skeleton (module docstring); subclasses fill in the model-specific parts.

    Args:
        recipe: the training recipe.
        out_dir: where checkpoints, released weights and logs go.
        resume: continue from ``out_dir/resume.safetensors`` (error if it is missing).
        device: torch device; default CUDA (``LOCAL_RANK``) if available, else CPU.
        progress: show a tqdm bar (rank 0).
        resume_half: write the resume checkpoint in half precision (parameters float16,
            optimiser moments bfloat16): about half the size; a resume from it is close to,
            not exactly at, the saved state.
        resume_omit: parts (:attr:`resume_omittable`) to leave out of the resume checkpoint;
            a resume re-initialises them (for parts that are idle, e.g. the discriminator of
            a spectral-loss phase).
    """

    kind: ClassVar[str]
    """``model`` field of the released weights' JSON."""
    best_metric: ClassVar[str]
    """Validation metric that picks the released weights (lower is better)."""
    best_key: ClassVar[str]
    """Key of that metric's best value in the resume checkpoint's metadata."""
    bar_losses: ClassVar[dict[str, str]]
    """Progress-bar label -> loss name."""
    resume_omittable: ClassVar[dict[str, tuple[str, ...]]] = {}
    """What ``resume_omit`` may name -> the modules and optimisers (of :meth:`_objects`) it
    stands for."""

    def __init__(
        self,
        recipe: RecipeT,
        out_dir: str | os.PathLike[str],
        *,
        resume: bool = False,
        device: str | torch.device | None = None,
        progress: bool = True,
        resume_half: bool = False,
        resume_omit: Sequence[str] = (),
    ) -> None:
        self.recipe = recipe
        self.out_dir = Path(out_dir)
        self.resume_format = self._resume_format(resume_half, resume_omit)
        self.rank, self.world_size = init_distributed()
        if device is None:
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        configure_backends(self.device)
        self.is_main = self.rank == 0
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)

        seed = recipe.schedule.seed
        torch.manual_seed(seed)
        self._build()

        self.step = 0
        self.best_lsd = math.inf
        if resume:
            self._load()
        elif recipe.schedule.init_from is not None:
            counts = warm_start(
                recipe.schedule.init_from,
                self._objects()["modules"],
                only=recipe.schedule.init_only,
            )
            if self.is_main:
                print(f"warm start from {recipe.schedule.init_from}: {counts}", flush=True)
        self._seed_rank()

        data = recipe.data
        self.core = make_core(data.core, data.core_kbps, sample_rate=data.core_rate)
        self.cache_dir = self._prepare_cache()
        self.dataset = SegmentDataset(
            self.cache_dir,
            "train",
            segment_length=data.segment_length,
            seed=seed,
            gain_db=data.gain_db,
            silence_db=data.silence_db,
            balance_categories=data.balance_categories,
        )
        self.sampler = ResumableSampler(
            self.dataset, num_replicas=self.world_size, rank=self.rank, seed=seed
        )
        self._data: DataLoader[Segment] | None = None
        self.steps_per_epoch = len(self.sampler) // data.batch_size
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{len(self.dataset)} segments per epoch are fewer than one batch of "
                f"{data.batch_size} per process; use more data or a smaller batch"
            )
        self.logger = TrainLogger(
            self.out_dir, enabled=self.is_main, progress=progress, bar_losses=self.bar_losses
        )
        self._val_clips: list[ValClip] | None = None
        self._last_save = time.monotonic()  # set-up or last checkpoint, for _checkpoint_due
        self.last_losses: dict[str, float] = {}

    # ------------------------------------------------------------------ what subclasses add

    @abstractmethod
    def _build(self) -> None:
        """Build models, losses, optimisers and schedulers on ``self.device`` (seeded)."""

    @abstractmethod
    def _objects(self) -> dict[str, Any]:
        """``modules``, ``optimizers`` and ``schedulers`` by name, as the checkpoint holds them
        (``modules`` also name what a warm start initialises)."""

    @abstractmethod
    def _released(self) -> nn.Module:
        """The module whose weights ``best.safetensors`` holds."""

    @abstractmethod
    def _lr(self) -> float:
        """The current learning rate, for the log."""

    @abstractmethod
    def train_step(self, batch: Segment) -> dict[str, Tensor]:
        """One optimisation step on a batch; returns the losses (and gradient norms, ...) as
        0-dim tensors on the device: reading them would stall a GPU (module docstring)."""

    @abstractmethod
    def _validate(self, clips: list[ValClip]) -> tuple[dict[str, float], Example]:
        """Metrics over the dev clips (``val/...``, :attr:`best_metric` among them) and one
        clip to log."""

    def _seed_rank(self) -> None:
        """Called once the state is restored, before the data is set up (default: nothing)."""

    def _checkpoint_due(self) -> bool:
        """Whether to write the resume checkpoint now besides every ``ckpt_every`` steps
        (asked every ``log_every`` steps): when the recipe's schedule has ``ckpt_minutes``
        (:class:`~bandgen.train.restore_recipe.RestoreScheduleConfig`) and that many minutes
        have passed since the last checkpoint."""
        minutes = getattr(self.recipe.schedule, "ckpt_minutes", None)
        if minutes is None:
            return False
        # every rank must take the same branch: rank 0's clock decides
        return self._agree(time.monotonic() - self._last_save >= 60 * minutes)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The mixed-precision context of ``schedule.precision`` for forward passes and losses
        (:func:`bandgen.train.steps.autocast`)."""
        return autocast(self.device, self.recipe.schedule.precision)

    # ------------------------------------------------------------------ setup

    @classmethod
    def _resume_format(cls, half: bool, omit: Sequence[str]) -> ResumeFormat:
        unknown = sorted(set(omit) - set(cls.resume_omittable))
        if unknown:
            allowed = ", ".join(sorted(cls.resume_omittable)) or "nothing"
            raise ConfigError(
                f"cannot leave {', '.join(unknown)} out of a {cls.kind} resume file "
                f"(it may omit: {allowed})"
            )
        names = tuple(n for part in sorted(set(omit)) for n in cls.resume_omittable[part])
        return ResumeFormat(half=half, omit=names)

    def _barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def _wrap(self, module: nn.Module, **ddp_kwargs: Any) -> nn.Module:
        """``module`` in DistributedDataParallel when there are several processes."""
        if self.world_size == 1:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp_kwargs.setdefault("gradient_as_bucket_view", True)  # no copy into the buckets
        return DistributedDataParallel(module, device_ids=ids, **ddp_kwargs)

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
        """The data loader, set to epoch ``epoch`` from batch ``start_batch`` on (built once:
        its workers persist; the sampler is read when an iterator starts)."""
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        self.sampler.start = start_batch * self.recipe.data.batch_size
        if self._data is None:
            workers = self.recipe.data.num_workers
            self._data = DataLoader(
                self.dataset,
                batch_size=self.recipe.data.batch_size,
                sampler=self.sampler,
                drop_last=True,
                num_workers=workers,
                collate_fn=collate_segments,
                # own generator: starting an iterator must not draw from the global RNG
                generator=torch.Generator().manual_seed(self.recipe.schedule.seed),
                pin_memory=self.device.type == "cuda",
                persistent_workers=workers > 0,
                prefetch_factor=4 if workers > 0 else None,
            )
        return self._data

    # ------------------------------------------------------------------ loop

    def fit(self, until: int | None = None) -> dict[str, float]:
        """Train up to step ``until`` (default ``schedule.steps``); returns the last step's
        losses as floats.

        Logs the means of the losses over each ``log_every`` steps (read from the device then
        and only then); writes the resume checkpoint every ``ckpt_every`` steps (and when
        :meth:`_checkpoint_due`), and at the end. With ``schedule.max_minutes``, stops once
        that much time has passed (under DDP, as rank 0's clock says at a log step).
        """
        sched = self.recipe.schedule
        until = sched.steps if until is None else min(until, sched.steps)
        deadline = (
            math.inf if sched.max_minutes is None else time.monotonic() + 60 * sched.max_minutes
        )
        self.logger.start(self.step, until)
        means = LossMeans()
        losses: dict[str, Tensor] = {}
        while self.step < until:
            epoch, pos = divmod(self.step, self.steps_per_epoch)
            for batch in self._loader(epoch, pos):
                losses = self.train_step(batch)
                self.step += 1
                means.add(losses)
                at_log = self.step % sched.log_every == 0
                shown = None
                if at_log:
                    shown = means.pop()
                    self.logger.scalars(self.step, {**shown, "lr": self._lr()})
                self.logger.step(self.step, shown)
                if self.step % sched.val_every == 0:
                    self.run_validation()
                if self.step % sched.ckpt_every == 0 or (at_log and self._checkpoint_due()):
                    self.save()
                if (self.world_size == 1 or at_log) and self._agree(time.monotonic() >= deadline):
                    until = self.step  # out of time: validate, checkpoint below and stop
                    if self.step % sched.val_every:
                        self.run_validation()
                if self.step >= until:
                    break
        if self.step % sched.ckpt_every:
            self.save()
        self.logger.close()
        self.last_losses = {k: float(v) for k, v in losses.items()} or self.last_losses
        return self.last_losses

    def _agree(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (so that all take the same branch)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def run_validation(self) -> dict[str, float]:
        """Validate on rank 0; export released weights when :attr:`best_metric` improves."""
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
        metrics, example = self._validate(self._val_clips)
        self.logger.scalars(self.step, metrics)
        self.logger.example(self.step, *example)
        if metrics[self.best_metric] < self.best_lsd:
            self.best_lsd = metrics[self.best_metric]
            export_weights(
                self.out_dir / BEST_FILE,
                self._released(),
                {
                    "model": self.kind,
                    "config": self.recipe.model.to_dict(),
                    "core": dataclasses.asdict(self.core.params),
                    "step": self.step,
                    "val": metrics,
                },
            )
        return metrics

    # ------------------------------------------------------------------ checkpoints

    def save(self) -> None:
        """Write ``out_dir/resume.safetensors`` (rank 0 only)."""
        self._last_save = time.monotonic()
        if not self.is_main:
            return
        meta = {
            "step": self.step,
            self.best_key: None if math.isinf(self.best_lsd) else self.best_lsd,
            "world_size": self.world_size,
            "recipe": self.recipe.to_dict(),
        }
        save_checkpoint(
            self.out_dir / RESUME_FILE, meta=meta, fmt=self.resume_format, **self._objects()
        )

    def _load(self) -> None:
        meta = load_checkpoint(self.out_dir / RESUME_FILE, **self._objects())
        if meta["omitted"] and self.is_main:
            print(f"resume: {', '.join(meta['omitted'])} not in the checkpoint, start afresh")
        self.step = int(meta["step"])
        best = meta.get(self.best_key)
        self.best_lsd = math.inf if best is None else float(best)
