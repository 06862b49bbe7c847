"""What keeps a GPU busy, checked on CPU: bf16 autocast, no per-step host syncs, non-finite
steps skipped on the device, persistent loader workers, DDP set-up."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from bandgen.data.dataset import Segment
from bandgen.errors import ConfigError
from bandgen.nn.patch_envelope import PatchEnvelopeGenerator
from bandgen.train import base
from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
from bandgen.train.recipe import ScheduleConfig
from bandgen.train.steps import LossMeans, adam, configure_backends, step_if_finite
from bandgen.train.trainer import Trainer


def _with(recipe: Recipe, **schedule: Any) -> Recipe:
    return dataclasses.replace(recipe, schedule=dataclasses.replace(recipe.schedule, **schedule))


def _spectral(recipe: Recipe) -> Recipe:
    """The patch generator's spectral phase (a generator-only step)."""
    model = dataclasses.replace(recipe.model, generator="patch", patch_channels=8, latent_dim=8)
    return dataclasses.replace(
        recipe, model=model, loss=dataclasses.replace(recipe.loss, adv=0.0, fm=0.0)
    )


def test_precision_is_checked() -> None:
    assert ScheduleConfig().precision == "fp32"
    with pytest.raises(ConfigError, match="fp32 or bf16"):
        ScheduleConfig(precision="fp16")


def test_bf16_step_runs_under_autocast_on_cpu(debug_recipe: Recipe, tmp_path: Path) -> None:
    trainer = Trainer(_with(debug_recipe, precision="bf16"), tmp_path, progress=False)
    dtypes: list[torch.dtype] = []
    conv = next(m for m in trainer.generator.modules() if isinstance(m, nn.Conv1d))
    conv.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    losses = trainer.train_step(next(iter(trainer._loader(0, 0))))
    assert dtypes and all(d == torch.bfloat16 for d in dtypes)
    assert all(math.isfinite(float(v)) for v in losses.values()), losses
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())
    assert trainer.opt_g.state[next(trainer.generator.parameters())]["exp_avg"].dtype == (
        torch.float32
    )


@pytest.mark.parametrize("phase", ["gan", "spectral"])
def test_every_generator_parameter_gets_a_gradient(
    phase: str, debug_recipe: Recipe, tmp_path: Path
) -> None:
    """Why DDP runs without ``find_unused_parameters`` (it would fail on an unused one)."""
    recipe = debug_recipe if phase == "gan" else _spectral(debug_recipe)
    trainer = Trainer(recipe, tmp_path, progress=False)
    trainer.train_step(next(iter(trainer._loader(0, 0))))
    missing = [n for n, p in trainer.generator.named_parameters() if p.grad is None]
    assert not missing


def test_a_non_finite_step_is_skipped_on_the_device(debug_recipe: Recipe, tmp_path: Path) -> None:
    trainer = Trainer(_spectral(debug_recipe), tmp_path, progress=False)
    batch = next(iter(trainer._loader(0, 0)))
    assert float(trainer.train_step(batch)["skipped"]) == 0.0
    params = {k: v.detach().clone() for k, v in trainer.generator.named_parameters()}
    state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in trainer.opt_g.state.items()}
    bad = Segment(target=batch.target.clone(), core=batch.core.clone())
    bad.target[0, 0, 100] = math.nan
    losses = trainer.train_step(bad)
    assert float(losses["skipped"]) == 1.0 and not math.isfinite(float(losses["grad_norm/g"]))
    for k, v in trainer.generator.named_parameters():
        assert torch.equal(v, params[k]), k
    for p, s in trainer.opt_g.state.items():
        assert all(torch.equal(s[k], state[id(p)][k]) for k in s)
    assert float(trainer.train_step(batch)["skipped"]) == 0.0  # and training goes on


def test_step_if_finite_steps_a_finite_gradient() -> None:
    p = nn.Parameter(torch.ones(3))
    opt = adam([p], lr=0.1, betas=(0.5, 0.9))
    p.grad = torch.ones(3)
    assert float(step_if_finite(opt, p.grad.norm())) == 0.0
    assert not torch.equal(p.detach(), torch.ones(3)) and not hasattr(opt, "found_inf")


def test_loss_means_over_steps_with_different_keys() -> None:
    means = LossMeans()
    means.add({"a": torch.tensor(1.0), "b": torch.tensor(4.0, dtype=torch.bfloat16)})
    means.add({"a": torch.tensor(3.0)})
    assert means.pop() == {"a": 2.0, "b": 4.0}
    assert means.pop() == {}


@pytest.mark.parametrize("phase", ["gan", "spectral"])
def test_fit_reads_the_device_only_at_log_steps(
    phase: str, debug_recipe: Recipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host reads of tensors (``item``, ``float``, ``int``, ``bool``, ``tolist``) do not grow
    with the number of steps between log intervals: none per step. (The patch generator's
    noise offset is drawn from torch's CPU generator each step: a read, but never of a device
    tensor, so it is not counted.)"""
    recipe = debug_recipe if phase == "gan" else _spectral(debug_recipe)
    recipe = _with(recipe, steps=100, log_every=100, val_every=100, ckpt_every=100)
    reads = {"n": 0, "paused": 0}
    for name in ("item", "__float__", "__int__", "__bool__", "tolist"):
        original = getattr(torch.Tensor, name)

        def counted(self: torch.Tensor, *args: Any, _f: Any = original) -> Any:
            reads["n"] += not reads["paused"]
            return _f(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counted)
    draw = PatchEnvelopeGenerator.random_offset

    def cpu_draw(self: PatchEnvelopeGenerator) -> int:
        reads["paused"] += 1
        try:
            return draw(self)
        finally:
            reads["paused"] -= 1

    monkeypatch.setattr(PatchEnvelopeGenerator, "random_offset", cpu_draw)

    def reads_in(steps: int, out: Path) -> int:
        trainer = Trainer(recipe, out, progress=False)
        trainer.save = lambda: None  # type: ignore[method-assign]
        start = reads["n"]
        trainer.fit(until=steps)
        return reads["n"] - start

    assert reads_in(2, tmp_path / "a") == reads_in(5, tmp_path / "b")


def test_persistent_workers_draw_each_epochs_segments(debug_recipe: Recipe, tmp_path: Path) -> None:
    def batches(workers: int) -> list[torch.Tensor]:
        data = dataclasses.replace(debug_recipe.data, num_workers=workers)
        trainer = Trainer(dataclasses.replace(debug_recipe, data=data), tmp_path, progress=False)
        got = []
        for epoch, start in ((0, 0), (1, 0), (1, 3)):
            loader = trainer._loader(epoch, start)
            assert loader is trainer._loader(epoch, start)  # built once
            got.append(next(iter(loader)).target)
        return got

    in_process, in_worker = batches(0), batches(1)
    assert not torch.equal(in_process[0], in_process[1])
    for a, b in zip(in_process, in_worker, strict=True):
        assert torch.equal(a, b)


def test_each_process_binds_its_gpu_before_nccl(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: calls.append(("set_device", i)))
    monkeypatch.setattr(
        base.dist, "init_process_group", lambda backend: calls.append(("init", backend))
    )
    assert base.init_distributed() == (0, 1)  # the mock joined no group
    assert calls == [("set_device", 1), ("init", "nccl")]


def test_cuda_backends_are_tuned() -> None:
    flags = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    try:
        torch.backends.cudnn.benchmark = False
        configure_backends(torch.device("cpu"))
        assert not torch.backends.cudnn.benchmark
        configure_backends(torch.device("cuda", 0))
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    finally:
        (
            torch.backends.cudnn.benchmark,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
        ) = flags
