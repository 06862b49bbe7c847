"""Training of the n-SBG models: YAML recipes, the GAN loop, resumable checkpoints.

Nothing in the package imports this; the ``bandgen train`` subcommand loads it lazily.
Entry point: :func:`bandgen.train.run.train`.
"""

from __future__ import annotations

__all__ = ["checkpoint", "recipe", "run", "trainer", "validate"]
