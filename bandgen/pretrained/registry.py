"""Registry of the models shipped inside the package, loaded with no download.

A shipped model ``<name>`` is two files in this folder, as written by
:func:`bandgen.train.checkpoint.export_weights`:

- ``<name>.safetensors``: the model's ``state_dict`` (safetensors; never pickle);
- ``<name>.json``: ``model`` (``"nsbg"``, the default, or ``"mp3restore"``), ``config`` (for
  :meth:`NSBGConfig.from_dict` or :meth:`MP3RestoreConfig.from_dict`),
  ``sha256`` (of the safetensors file), and training facts (recipe, data, steps, wall time,
  dev metrics, ``bitrate_kbps`` of the mode it was trained for).

Loading checks the sha256 before reading a tensor and loads with ``strict=True``, so a
corrupted, truncated or mismatched file is refused with a :class:`ConfigError` that names the
file. torch and safetensors are imported only when a model is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bandgen.errors import ConfigError

if TYPE_CHECKING:
    from bandgen.models.nsbg import NSBG

__all__ = [
    "PRETRAINED_DIR",
    "file_sha256",
    "list_models",
    "load_model",
    "load_model_from_files",
    "model_info",
    "model_paths",
    "read_info",
    "verify_sha256",
]

PRETRAINED_DIR = Path(__file__).resolve().parent
"""Folder holding the shipped ``<name>.safetensors`` + ``<name>.json`` pairs."""

_LOADERS = {
    "nsbg": "bandgen.pretrained.load_model_from_files",
    "mp3restore": "bandgen.restore.load_restore_model",
}
"""Kinds of shipped model (the JSON's ``model``: n-SBG / Blind SBG, and MP3 restoration) and
the function that loads each."""


def list_models(kind: str | None = None) -> list[str]:
    """Names of the shipped models (those with both a ``.json`` and a ``.safetensors`` file),
    only those of ``kind`` (``"nsbg"``, ``"mp3restore"``) if given."""
    names = sorted(
        p.stem for p in PRETRAINED_DIR.glob("*.json") if p.with_suffix(".safetensors").is_file()
    )
    if kind is None:
        return names
    return [
        n for n in names if read_info(PRETRAINED_DIR / f"{n}.json").get("model", "nsbg") == kind
    ]


def model_paths(name: str) -> tuple[Path, Path]:
    """``(weights, json)`` paths of the shipped model ``name``.

    Raises:
        ConfigError: no such model is shipped.
    """
    if name not in list_models():
        shipped = ", ".join(list_models()) or "none yet"
        raise ConfigError(
            f"no shipped model named {name!r} (shipped: {shipped}); "
            "pass your own weights with weights=PATH.safetensors"
        )
    weights = PRETRAINED_DIR / f"{name}.safetensors"
    return weights, weights.with_suffix(".json")


def read_info(json_path: str | os.PathLike[str], *, kind: str | None = None) -> dict[str, Any]:
    """Read and check a model's JSON description (module docstring).

    Args:
        json_path: the ``.json`` file.
        kind: the model kind the caller loads (``"nsbg"``, ``"mp3restore"``); ``None``: any
            known kind. A description without ``model`` is an n-SBG one.

    Raises:
        ConfigError: the file is missing or not JSON, lacks ``config`` or ``sha256``, or
            describes an unknown kind or another kind than ``kind``.
    """
    path = Path(json_path)
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"model description {path} not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"model description {path} is not valid JSON: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ConfigError(f"model description {path} lacks a 'config' object")
    if not isinstance(info.get("sha256"), str):
        raise ConfigError(f"model description {path} lacks the weights' 'sha256'")
    actual = info.get("model", "nsbg")
    if actual not in _LOADERS:
        raise ConfigError(f"{path}: unknown model kind {actual!r}; known: {tuple(_LOADERS)}")
    if kind is not None and actual != kind:
        raise ConfigError(
            f"{path} describes a {actual!r} model, not a {kind!r} one; "
            f"load it with {_LOADERS[actual]}"
        )
    return info


def verify_sha256(weights: Path, json_path: Path, info: dict[str, Any]) -> None:
    """Refuse ``weights`` unless its sha256 is the one its description ``info`` states.

    Raises:
        ConfigError: the weights file is missing or its sha256 differs.
    """
    if not weights.is_file():
        raise ConfigError(f"model weights {weights} not found")
    actual = file_sha256(weights)
    if actual != info["sha256"]:
        raise ConfigError(
            f"sha256 of {weights} is {actual}, but {json_path} says {info['sha256']}: the weights "
            "file is corrupted or belongs to another model; re-export or reinstall it"
        )


def model_info(name: str) -> dict[str, Any]:
    """The JSON description of the shipped model ``name`` (config, sha256, training facts)."""
    return read_info(model_paths(name)[1])


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model_from_files(
    weights_path: str | os.PathLike[str], json_path: str | os.PathLike[str] | None = None
) -> tuple[NSBG, dict[str, Any]]:
    """Load a model from a ``.safetensors`` file and its JSON description.

    Args:
        weights_path: the safetensors file.
        json_path: its description (default: ``weights_path`` with a ``.json`` suffix).

    Returns:
        ``(model, info)``: the model in eval mode on the CPU, and the description with
        ``name`` (the file stem unless the JSON names it) added.

    Raises:
        ConfigError: a file is missing, the description is not an n-SBG one, the sha256
            differs from the description's, or the tensors do not fit the configured model
            (``strict=True``).
    """
    weights = Path(weights_path)
    meta = weights.with_suffix(".json") if json_path is None else Path(json_path)
    info = read_info(meta, kind="nsbg")
    verify_sha256(weights, meta, info)
    return _build(weights, info), {"name": weights.stem, **info}


def _build(weights: Path, info: dict[str, Any]) -> NSBG:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from bandgen.models.config import NSBGConfig
    from bandgen.models.nsbg import NSBG

    model = NSBG(NSBGConfig.from_dict(info["config"]))
    try:
        state = load_file(str(weights), device="cpu")
    except SafetensorError as exc:
        raise ConfigError(f"{weights} is not a readable safetensors file: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ConfigError(
            f"weights {weights} do not fit the model its JSON describes: {exc}"
        ) from None
    return model.eval()


def load_model(name: str) -> tuple[NSBG, dict[str, Any]]:
    """Load the shipped model ``name``: ``(NSBG in eval mode, info dict)``; see :func:`list_models`."""
    return load_model_from_files(*model_paths(name))


@functools.lru_cache(maxsize=4)
def _cached(weights: str, json_path: str, mtime_ns: int) -> tuple[NSBG, dict[str, Any]]:
    return load_model_from_files(weights, json_path)


def load_shared(
    name: str | None = None, weights: str | os.PathLike[str] | None = None
) -> tuple[NSBG, dict[str, Any]]:
    """Like :func:`load_model` (by ``name``) or :func:`load_model_from_files` (by ``weights``),
    but cached: coders built repeatedly (encoder set-up, header rebuild) share one instance.

    The returned model is shared; use it for inference only.
    """
    if weights is not None:
        path = Path(weights)
        json_path = path.with_suffix(".json")
    elif name is not None:
        path, json_path = model_paths(name)
    else:
        raise ConfigError("name a shipped model or pass weights=PATH.safetensors")
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _cached(str(path.resolve()), str(json_path.resolve()), mtime)
