"""Resumable training checkpoints and released weights, all safetensors (never pickle).

A resume checkpoint is ONE file, ``resume.safetensors``, replaced atomically each time:

- tensors: every module's ``state_dict`` under ``<module name>/...``, every optimiser's
  per-parameter state under ``<optimiser name>/state/<param id>/<field>``, and the RNG
  states (``rng/torch``, ``rng/cuda/<i>``, ``rng/numpy``);
- metadata key ``bandgen``: a JSON string with the step, the optimisers' param groups, the
  schedulers' state, the Python/numpy RNG scalars and whatever the trainer adds (recipe,
  best metric).

A readable copy of that JSON is written beside it (``resume.json``) for people; loading uses
the safetensors file only.

A *compact* resume file (:class:`ResumeFormat`) is smaller: ``half`` stores the modules'
parameters as float16 (those whose values fit its range; buffers stay float32) and the
optimisers' per-parameter moments as bfloat16 (float32's range, so Adam's tiny second moments
do not underflow; scalar state such as Adam's ``step`` stays float32); ``omit`` leaves named
modules and optimisers out (e.g. an idle discriminator), which a resume then keeps at their
fresh initialisation. Loading accepts both, and the full float32 files of older runs: a
compact file resumes close to, not exactly at, the saved state. Released weights (:func:`export_weights`) are a separate
``<name>.safetensors`` holding the generator alone, with ``<name>.json`` (config, sha256,
training facts), the format ``bandgen/pretrained`` loads with ``strict=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from bandgen.audio.io import AtomicFile
from bandgen.errors import ConfigError

__all__ = ["ResumeFormat", "export_weights", "load_checkpoint", "save_checkpoint", "warm_start"]

_META_KEY = "bandgen"
_FORMAT = 2
"""1: float32 only; 2: adds ``omitted`` and half-precision tensors (loading reads both)."""
_FLOAT16_MAX = 65_504.0


@dataclass(frozen=True)
class ResumeFormat:
    """How small a resume checkpoint is (module docstring).

    Attributes:
        half: parameters as float16 where they fit, optimiser moments as bfloat16.
        omit: names of modules and optimisers (as :func:`save_checkpoint` gets them) to leave out.
    """

    half: bool = False
    omit: tuple[str, ...] = ()


def _cpu(t: torch.Tensor) -> torch.Tensor:
    # clone: safetensors refuses tensors that share storage (e.g. tied or sliced buffers)
    return t.detach().to("cpu").contiguous().clone()


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    meta = {
        "python": _plain_rng(random.getstate()),
        "numpy": [kind, int(pos), int(has_gauss), float(gauss)],
    }
    return tensors, meta


def _plain_rng(state: Any) -> Any:
    if isinstance(state, tuple):
        return [_plain_rng(s) for s in state]
    return state


def _tuple_rng(state: Any) -> Any:
    if isinstance(state, list):
        return tuple(_tuple_rng(s) for s in state)
    return state


def _set_rng_state(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda/")]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    kind, pos, has_gauss, gauss = meta["numpy"]
    keys = tensors["rng/numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, gauss))
    random.setstate(_tuple_rng(meta["python"]))


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    schedulers: Mapping[str, torch.optim.lr_scheduler.LRScheduler],
    meta: Mapping[str, Any],
    fmt: ResumeFormat = ResumeFormat(),
) -> None:
    """Write a resume checkpoint atomically (see module docstring).

    Args:
        path: the ``.safetensors`` file to (over)write; ``<path>.json`` gets a readable copy.
        modules: e.g. ``{"generator": G, "discriminator": D}`` (unwrapped from DDP).
        optimizers: e.g. ``{"opt_g": ..., "opt_d": ...}``.
        schedulers: e.g. ``{"sched_g": ..., "sched_d": ...}``.
        meta: JSON-able facts to keep (step, recipe, best metric, ...).
        fmt: full float32 (default) or compact (:class:`ResumeFormat`).
    """
    unknown = sorted(set(fmt.omit) - set(modules) - set(optimizers))
    if unknown:
        raise ConfigError(f"cannot leave {unknown} out of the checkpoint: no such module/optimiser")
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        if name in fmt.omit:
            continue
        params = {key for key, _ in module.named_parameters()}
        for key, value in module.state_dict().items():
            value = _cpu(value)
            if fmt.half and key in params and _fits_float16(value):
                value = value.half()
            tensors[f"{name}/{key}"] = value
    opt_meta: dict[str, Any] = {}
    for name, opt in optimizers.items():
        if name in fmt.omit:
            continue
        state = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, fields in state["state"].items():
            for field, value in fields.items():
                if isinstance(value, torch.Tensor):
                    value = _cpu(value)
                    if fmt.half and value.is_floating_point() and value.numel() > 1:
                        value = value.bfloat16()  # moments: float32's range, 8-bit mantissa
                    tensors[f"{name}/state/{pid}/{field}"] = value
                else:
                    scalars.setdefault(str(pid), {})[field] = value
        opt_meta[name] = {"param_groups": state["param_groups"], "scalars": scalars}
    rng_tensors, rng_meta = _rng_state()
    tensors.update(rng_tensors)
    payload = {
        "format": _FORMAT,
        "omitted": sorted(fmt.omit),
        "meta": dict(meta),
        "optimizers": opt_meta,
        "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
        "rng": rng_meta,
    }
    text = json.dumps(payload)
    path = Path(path)
    with AtomicFile(path) as out:
        save_file(tensors, str(out.tmp_path), metadata={_META_KEY: text})
    with AtomicFile(path.with_suffix(".json")) as out:
        out.tmp_path.write_text(json.dumps(payload, indent=1))


def _fits_float16(t: torch.Tensor) -> bool:
    """A floating tensor whose values float16 holds (finite, below its maximum)."""
    if not t.is_floating_point() or t.numel() == 0:
        return False
    return bool(torch.isfinite(t).all()) and float(t.abs().max()) < _FLOAT16_MAX


def _read(path: Path, action: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The JSON payload and the tensors of a resume checkpoint (float16/bfloat16 tensors back
    in float32); ``action`` ("resume", "warm-start") words the errors.

    Raises:
        ConfigError: no such file, not a safetensors file, or not a bandgen checkpoint.
    """
    if not path.is_file():
        raise ConfigError(f"no checkpoint to {action} from at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            text = (f.metadata() or {}).get(_META_KEY)
        if text is None:
            raise ConfigError(
                f"{path} is not a bandgen resume checkpoint (no '{_META_KEY}' metadata)"
            )
        payload = json.loads(text)
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ConfigError(
            f"cannot {action} from {path}: not a readable checkpoint ({exc}); give the "
            "resume.safetensors a bandgen training run wrote"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") not in (1, _FORMAT):
        raise ConfigError(
            f"{path} is a bandgen checkpoint of an unknown format "
            f"{payload.get('format') if isinstance(payload, dict) else payload!r}; "
            f"this version reads formats 1 and {_FORMAT}"
        )
    tensors = {
        k: v.float() if v.dtype in (torch.float16, torch.bfloat16) else v
        for k, v in tensors.items()
    }
    return payload, tensors


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    schedulers: Mapping[str, torch.optim.lr_scheduler.LRScheduler],
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote into live objects; returns its ``meta``
    plus ``omitted``: the modules/optimisers the file left out (they keep their state here).

    Modules load with ``strict=True``. Raises :class:`ConfigError` if the file is not a
    bandgen checkpoint or does not match the modules.
    """
    path = Path(path)
    payload, tensors = _read(path, "resume")
    omitted = list(payload.get("omitted", []))
    for name, module in modules.items():
        if name in omitted:
            continue
        prefix = f"{name}/"
        sub = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(sub, strict=True)
        except RuntimeError as exc:
            raise ConfigError(f"checkpoint {path} does not fit {name}: {exc}") from None
    for name, opt in optimizers.items():
        if name in omitted:
            continue
        info = payload["optimizers"][name]
        state: dict[int, dict[str, Any]] = {}
        prefix = f"{name}/state/"
        for key, value in tensors.items():
            if key.startswith(prefix):
                pid, field = key[len(prefix) :].split("/", 1)
                state.setdefault(int(pid), {})[field] = value
        for pid, fields in info["scalars"].items():
            state.setdefault(int(pid), {}).update(fields)
        opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    for name, sched in schedulers.items():
        sched.load_state_dict(payload["schedulers"][name])
    if restore_rng:
        _set_rng_state(tensors, payload["rng"])
    return {**payload["meta"], "omitted": omitted}


def warm_start(
    path: str | os.PathLike[str],
    modules: Mapping[str, nn.Module],
    only: Sequence[str] | None = None,
) -> dict[str, int]:
    """Initialise ``modules`` from another run's resume checkpoint, as far as they match.

    For each module ``name``, every tensor ``name/<key>`` of the checkpoint whose ``key`` the
    module also has is copied in: whole when the shapes agree, else the overlapping leading
    part of every dimension (one more output band or RVQ stage keeps its fresh initialisation
    there). Tensors the checkpoint lacks keep theirs, and so do those whose ``name/<key>``
    starts with none of the prefixes ``only`` (when given). Optimiser state, schedulers, RNG
    and step are not read: the warm-started run starts at step 0.

    Returns:
        Counts ``{"copied": ..., "partial": ..., "fresh": ...}`` over all module tensors.

    Raises:
        ConfigError: no such file, not a bandgen checkpoint, or no tensor in common.
    """
    path = Path(path)
    _, tensors = _read(path, "warm-start")
    counts = {"copied": 0, "partial": 0, "fresh": 0}
    with torch.no_grad():
        for name, module in modules.items():
            for key, target in module.state_dict().items():
                full = f"{name}/{key}"
                source = tensors.get(full)
                if only is not None and not full.startswith(tuple(only)):
                    source = None
                if source is None or source.dim() != target.dim():
                    counts["fresh"] += 1
                    continue
                if source.shape == target.shape:
                    target.copy_(source)
                    counts["copied"] += 1
                else:
                    region = tuple(
                        slice(0, min(a, b)) for a, b in zip(source.shape, target.shape, strict=True)
                    )
                    target[region] = source[region]
                    counts["partial"] += 1
    if counts["copied"] + counts["partial"] == 0:
        raise ConfigError(f"{path} has no tensor in common with the models being trained")
    return counts


def export_weights(
    path: str | os.PathLike[str], module: nn.Module, info: Mapping[str, Any]
) -> Path:
    """Write released weights: ``path`` (safetensors, the module alone) + ``path.json``.

    Args:
        path: the ``.safetensors`` file.
        module: the generator (unwrapped).
        info: JSON-able facts; should hold ``config`` (the model config dict).

    Returns:
        The JSON path. Its ``sha256`` is that of the safetensors file.
    """
    path = Path(path)
    tensors = {k: _cpu(v) for k, v in module.state_dict().items()}
    with AtomicFile(path) as out:
        save_file(tensors, str(out.tmp_path), metadata={"format": "bandgen-weights"})
        digest = hashlib.sha256(out.tmp_path.read_bytes()).hexdigest()
    json_path = path.with_suffix(".json")
    with AtomicFile(json_path) as out:
        out.tmp_path.write_text(json.dumps({**info, "sha256": digest}, indent=1, sort_keys=True))
    return json_path
