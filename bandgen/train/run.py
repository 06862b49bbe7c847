"""The ``bandgen train`` entry point: load a recipe, build its trainer, fit.

The recipe's ``model.kind`` picks the trainer: ``mp3restore`` (paper ``002``) gets
:class:`~bandgen.train.restore_trainer.RestoreTrainer`, anything else (no ``kind``) the n-SBG
:class:`~bandgen.train.trainer.Trainer`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_out_dir", "train"]


def default_out_dir(recipe_path: str | os.PathLike[str]) -> Path:
    """``out/train/<recipe file stem>`` (``out/`` is git-ignored)."""
    return Path("out") / "train" / Path(recipe_path).stem


def train(
    recipe_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    resume_half: bool = False,
    resume_omit: tuple[str, ...] = (),
) -> dict[str, float]:
    """Train from a YAML recipe; returns the last step's losses.

    Under ``torchrun`` each process calls this; the process group is set up from the
    environment and torn down at the end. ``resume_half`` and ``resume_omit`` make the resume
    checkpoint compact (:class:`~bandgen.train.base.BaseTrainer`).
    """
    import torch.distributed as dist

    from bandgen.train.recipe import load_recipe
    from bandgen.train.restore_recipe import KIND, load_restore_recipe, recipe_kind
    from bandgen.train.restore_trainer import RestoreTrainer
    from bandgen.train.trainer import Trainer

    out = Path(out_dir) if out_dir is not None else default_out_dir(recipe_path)
    trainer: Trainer | RestoreTrainer
    cls: type[Trainer] | type[RestoreTrainer] = Trainer
    if recipe_kind(recipe_path) == KIND:
        cls = RestoreTrainer
    trainer = cls(
        load_restore_recipe(recipe_path) if cls is RestoreTrainer else load_recipe(recipe_path),  # type: ignore[arg-type]
        out,
        resume=resume,
        progress=progress,
        resume_half=resume_half,
        resume_omit=resume_omit,
    )
    try:
        return trainer.fit()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
