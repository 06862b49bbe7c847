"""The ``bandgen train`` entry point: load a recipe, build its family's trainer, fit.

The recipe's ``model.kind`` names the family (:mod:`bandgen.families`; none: n-SBG), whose
entry gives the recipe dataclass and the trainer (its training task): ``nsbg`` gets
:class:`~bandgen.train.trainer.NSBGTrainer`, ``mp3restore``
:class:`~bandgen.train.restore_trainer.RestoreTrainer`, and so on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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

    from bandgen import families
    from bandgen.train.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    out = Path(out_dir) if out_dir is not None else default_out_dir(recipe_path)
    task = families.get(recipe.kind).task_class()
    trainer: Any = task(
        recipe,
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
