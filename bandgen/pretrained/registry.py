"""The models shipped inside the package, loaded with no download, and the one weight loader.

A model ``<name>`` is two files, as written by :func:`bandgen.train.checkpoint.export_weights`
(shipped ones in this folder):

- ``<name>.safetensors``: the model's ``state_dict`` (safetensors; never pickle);
- ``<name>.json``: ``model`` (its family, :mod:`bandgen.families`: ``"nsbg"``, the default for
  descriptions older than the families, or ``"mp3restore"``, ...), ``config`` (the family's
  config, :func:`bandgen.config.from_dict`), ``sha256`` (of the safetensors file), and training
  facts (recipe, data, steps, wall time, validation metrics, ``bitrate_kbps`` of its mode).

:func:`load_weights` serves every family: it reads the family from the JSON, checks the sha256
before reading a tensor, builds the family's model from the config and loads with
``strict=True``, so a corrupted, truncated or mismatched file is refused with a
:class:`ConfigError` that names the file. torch and safetensors are imported only when a model
is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bandgen import families
from bandgen.config import from_dict
from bandgen.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from bandgen.models.nsbg import NSBG

__all__ = [
    "PRETRAINED_DIR",
    "file_sha256",
    "list_models",
    "load_family_shared",
    "load_model",
    "load_model_from_files",
    "load_weights",
    "model_info",
    "model_kind",
    "model_paths",
    "read_info",
    "resolve_weights",
    "verify_sha256",
]

PRETRAINED_DIR = Path(__file__).resolve().parent
"""Folder holding the shipped ``<name>.safetensors`` + ``<name>.json`` pairs."""

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""A shipped model's name: no path separators, so it cannot lead out of the package."""


def model_kind(info: dict[str, Any]) -> str:
    """The family of a model's JSON description (its ``model``; n-SBG if absent)."""
    return str(info.get("model", families.DEFAULT_KIND))


def list_models(kind: str | None = None) -> list[str]:
    """Names of the shipped models (those with both a ``.json`` and a ``.safetensors`` file),
    only those of ``kind`` (``"nsbg"``, ``"mp3restore"``) if given."""
    names = sorted(
        p.stem for p in PRETRAINED_DIR.glob("*.json") if p.with_suffix(".safetensors").is_file()
    )
    if kind is None:
        return names
    return [n for n in names if model_kind(read_info(PRETRAINED_DIR / f"{n}.json")) == kind]


def model_paths(name: str, *, kind: str | None = None) -> tuple[Path, Path]:
    """``(weights, json)`` paths of the shipped model ``name`` (of family ``kind`` if given).

    Raises:
        ConfigError: ``name`` is not a name (a path, say) or no such model is shipped.
    """
    if not _MODEL_NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a model name (letters, digits, '-', '_' and '.'); "
            "to load a weights file, pass it as weights=PATH.safetensors (--weights)"
        )
    if name not in list_models(kind):
        what = f"{kind} model" if kind else "model"
        shipped = ", ".join(list_models(kind)) or "none yet"
        raise ConfigError(
            f"no shipped {what} named {name!r} (shipped: {shipped}); "
            "pass your own weights with weights=PATH.safetensors"
        )
    weights = PRETRAINED_DIR / f"{name}.safetensors"
    return weights, weights.with_suffix(".json")


def resolve_weights(
    name: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    *,
    kind: str | None = None,
) -> tuple[Path, Path]:
    """``(weights, json)`` of a ``weights`` file (its JSON beside it) or else of the shipped
    model ``name`` (see :func:`model_paths`).

    Raises:
        ConfigError: neither is given, or the name is bad or not shipped.
    """
    if weights is not None:
        path = Path(weights)
        return path, path.with_suffix(".json")
    if name is None:
        raise ConfigError("name a shipped model or pass weights=PATH.safetensors")
    return model_paths(name, kind=kind)


def read_info(json_path: str | os.PathLike[str], *, kind: str | None = None) -> dict[str, Any]:
    """Read and check a model's JSON description (module docstring).

    Args:
        json_path: the ``.json`` file.
        kind: the family the caller loads (``"nsbg"``, ``"mp3restore"``, ...); ``None``: any
            registered family. A description without ``model`` is an n-SBG one.

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
    actual = model_kind(info)
    try:
        families.get(actual)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if kind is not None and actual != kind:
        raise ConfigError(
            f"{path} describes a {actual!r} model, not a {kind!r} one; "
            "load it with bandgen.load or bandgen.pretrained.registry.load_weights"
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


def load_weights(
    weights_path: str | os.PathLike[str],
    json_path: str | os.PathLike[str] | None = None,
    *,
    kind: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model of any family from a ``.safetensors`` file and its JSON description.

    Args:
        weights_path: the safetensors file.
        json_path: its description (default: ``weights_path`` with a ``.json`` suffix).
        kind: refuse a model of another family than this one (``None``: any).

    Returns:
        ``(model, info)``: the family's model in eval mode on the CPU, and the description with
        ``name`` (the file stem unless the JSON names it) added.

    Raises:
        ConfigError: a file is missing, the description is of an unknown family (or not of
            ``kind``), its config is refused, the sha256 differs from the description's, the
            file is not safetensors, or the tensors do not fit the model (``strict=True``).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = Path(weights_path)
    meta = weights.with_suffix(".json") if json_path is None else Path(json_path)
    info = read_info(meta, kind=kind)
    verify_sha256(weights, meta, info)
    family = families.get(model_kind(info))
    config = from_dict(family.config_class(), info["config"], where=f"{meta} config")
    model = family.model_class()(config)
    try:
        state = load_file(str(weights), device="cpu")
    except SafetensorError as exc:
        raise ConfigError(f"{weights} is not a readable safetensors file: {exc}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ConfigError(
            f"weights {weights} do not fit the model {meta} describes: {exc}"
        ) from None
    return model.eval(), {"name": weights.stem, **info}


def load_model(name: str) -> tuple[nn.Module, dict[str, Any]]:
    """Load the shipped model ``name`` of any family: ``(model in eval mode, info dict)``; see
    :func:`list_models`."""
    return load_weights(*model_paths(name))


def load_model_from_files(
    weights_path: str | os.PathLike[str], json_path: str | os.PathLike[str] | None = None
) -> tuple[NSBG, dict[str, Any]]:
    """:func:`load_weights` of an n-SBG model (another family is a :class:`ConfigError`)."""
    model, info = load_weights(weights_path, json_path, kind="nsbg")
    return model, info  # type: ignore[return-value]


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
    path, json_path = resolve_weights(name, weights, kind="nsbg")
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _cached(str(path.resolve()), str(json_path.resolve()), mtime)


@functools.lru_cache(maxsize=8)
def _cached_family(
    weights: str, json_path: str, mtime_ns: int, kind: str
) -> tuple[nn.Module, dict[str, Any]]:
    return load_weights(weights, json_path, kind=kind)


def load_family_shared(
    kind: str, name: str | None = None, weights: str | os.PathLike[str] | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """:func:`load_weights` of the shipped model ``name`` or the file ``weights`` of family
    ``kind``, cached per file (path and modification time): codecs built repeatedly share one
    instance, for inference only. The description's ``name`` is ``name`` or the file's stem.

    Raises:
        ConfigError: as :func:`resolve_weights` and :func:`load_weights`.
    """
    path, json_path = resolve_weights(name, weights, kind=kind)
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    net, info = _cached_family(str(path.resolve()), str(json_path.resolve()), mtime, kind)
    return net, {**info, "name": name or path.stem}
