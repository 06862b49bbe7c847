"""HP-codec (paper ``004``) models by name or file: the loader of the ``hpcodec`` family.

:func:`load_hp_model` gives a trained :class:`~bandgen.models.hpcodec.HPCodec` in eval mode:
a shipped model (:data:`DEFAULT_MODEL`, ``hpcodec-cpu``, once its weights are in
``bandgen/pretrained/``) or a ``.safetensors`` file written by the trainer (its ``.json``
beside it). Models are cached per file (path and modification time), so repeated loads share
one instance; treat it as read-only.
"""

from __future__ import annotations

import os
from typing import Any

from bandgen.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "HP_KIND", "load_hp_model"]

HP_KIND = "hpcodec"
"""The family name (:mod:`bandgen.families`) of HP-codec weights."""

DEFAULT_MODEL = "hpcodec-cpu"
"""The shipped model used when neither ``model`` nor ``weights`` is given."""


def load_hp_model(
    model: str | None = None, *, weights: str | os.PathLike[str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """``(HPCodec in eval mode, its description with name)`` of a shipped model or a file.

    Args:
        model: a shipped HP-codec model (default :data:`DEFAULT_MODEL`).
        weights: a ``.safetensors`` file (its ``.json`` beside it) instead.

    Raises:
        ConfigError: both or a bad name given, the model is not shipped (the message lists the
            shipped ones), the files are missing or corrupt, or they hold another family.
    """
    from bandgen.pretrained.registry import load_family_shared

    if model is not None and weights is not None:
        raise ConfigError("pass either a shipped HP-codec model or weights, not both")
    if model is None and weights is None:
        model = DEFAULT_MODEL
    return load_family_shared(HP_KIND, model, weights)
