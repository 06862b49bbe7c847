"""Models shipped with the package (safetensors + JSON); see :mod:`bandgen.pretrained.registry`."""

from __future__ import annotations

from bandgen.pretrained.registry import (
    list_models,
    load_model,
    load_model_from_files,
    model_info,
)

__all__ = ["list_models", "load_model", "load_model_from_files", "model_info"]
