"""Training of the n-SBG and MP3 restoration models: YAML recipes, the training loops,
resumable checkpoints.

Nothing in the package imports this; the ``bandgen train`` subcommand loads it lazily.
Entry point: :func:`bandgen.train.run.train` (dispatches on the recipe's ``model.kind``).
"""

from __future__ import annotations

__all__ = [
    "base",
    "checkpoint",
    "recipe",
    "restore_recipe",
    "restore_trainer",
    "run",
    "trainer",
    "validate",
]
