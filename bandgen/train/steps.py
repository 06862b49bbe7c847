"""What a training step needs to keep a GPU busy: mixed precision, fast kernels, and no
host synchronisation between log intervals.

A CUDA step runs ahead of the host as long as nothing asks for a value: ``float(loss)``,
``.item()`` or ``if torch.isfinite(norm)`` each wait for the GPU to finish everything queued.
So the step functions here return tensors: :func:`clip_grad_norm` returns the norm on the
device, :func:`step_if_finite` skips a non-finite step on the device (fused Adam's ``found_inf``
input, the mechanism :class:`torch.amp.GradScaler` uses), and :class:`LossMeans` sums the
per-step losses on the device, read once per log interval.

Mixed precision (:func:`autocast`): ``schedule.precision: bf16`` runs the forward passes and
losses under ``torch.autocast`` with bfloat16 (float32's range: no loss scaling needed);
parameters, gradients and optimiser state stay float32. On CPU it is allowed (it exercises
the same code) but is only faster on processors with native bfloat16.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "PRECISIONS",
    "LossMeans",
    "adam",
    "autocast",
    "clip_grad_norm",
    "configure_backends",
    "step_if_finite",
]

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
"""Values of ``schedule.precision``."""


def configure_backends(device: torch.device) -> None:
    """On CUDA: cuDNN autotuning (fixed segment shapes make it pay off) and TF32 matmuls and
    convolutions (Ampere and later; 10-bit mantissa products, float32 accumulation)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The mixed-precision context of ``precision`` (:data:`PRECISIONS`) on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def adam(
    params: Iterable[nn.Parameter], *, lr: float, betas: tuple[float, float]
) -> torch.optim.Adam:
    """Adam with the fused kernel (one launch per step, and :func:`step_if_finite` needs it)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def clip_grad_norm(module: nn.Module, max_norm: float | None) -> Tensor:
    """Clip the gradients of ``module`` to ``max_norm`` (``None``: no clipping); returns their
    total norm before clipping, a 0-dim tensor on the device (reading it syncs)."""
    params = [p for p in module.parameters() if p.grad is not None]
    if max_norm is None:
        grads = [p.grad for p in params if p.grad is not None]
        return torch.nn.utils.get_total_norm(grads, foreach=True)
    return torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)


def step_if_finite(optimizer: torch.optim.Optimizer, grad_norm: Tensor) -> Tensor:
    """``optimizer.step()`` unless ``grad_norm`` is NaN or infinite, decided on the device.

    A skipped step leaves parameters and optimiser state (moments, step count) exactly as
    they were. ``optimizer`` must be fused (:func:`adam`). Returns the skip flag, a float
    0-dim tensor (1.0: skipped).
    """
    skipped = (~torch.isfinite(grad_norm)).float()
    optimizer.found_inf = skipped  # type: ignore[attr-defined]
    try:
        optimizer.step()
    finally:
        del optimizer.found_inf  # type: ignore[attr-defined]
    return skipped


class LossMeans:
    """Per-step losses summed on the device; :meth:`pop` reads their means (one host sync).

    Steps may report different keys (each key's mean is over the steps that reported it).
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[str, ...], Tensor] = {}
        self._counts: dict[tuple[str, ...], int] = {}

    def add(self, losses: Mapping[str, Tensor]) -> None:
        """Add one step's losses (0-dim tensors, any float dtype)."""
        if not losses:
            return
        keys = tuple(losses)
        vec = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        self._sums[keys] = self._sums[keys] + vec if keys in self._sums else vec
        self._counts[keys] = self._counts.get(keys, 0) + 1

    def pop(self) -> dict[str, float]:
        """The means since the last :meth:`pop` (empty if no step was added); resets."""
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        if self._sums:
            flat = torch.cat(list(self._sums.values())).tolist()  # the one sync
            pos = 0
            for keys, count in self._counts.items():
                for key, value in zip(keys, flat[pos : pos + len(keys)], strict=True):
                    totals[key] = totals.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + count
                pos += len(keys)
        self._sums, self._counts = {}, {}
        return {k: totals[k] / counts[k] for k in totals}
