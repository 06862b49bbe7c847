"""One real GAN step of the debug recipe; exact resume; released weights."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bandgen.errors import ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.train import checkpoint
from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
from bandgen.train.recipe import ScheduleConfig
from bandgen.train.trainer import NSBGTrainer as Trainer


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_one_gan_step_updates_g_and_d(debug_recipe: Recipe, tmp_path: Path) -> None:
    trainer = Trainer(debug_recipe, tmp_path, progress=False)
    g0, d0 = _params(trainer.generator), _params(trainer.discriminator)
    batch = next(iter(trainer._loader(0, 0)))
    assert batch.target.shape == (2, 1, 8192) and batch.core.shape == (2, 1, 8192)
    losses = trainer.train_step(batch)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert losses["g/mel"] > 0 and losses["d/hinge"] > 0
    g1, d1 = _params(trainer.generator), _params(trainer.discriminator)
    assert sum(not torch.equal(g0[k], g1[k]) for k in g0) > len(g0) // 2
    assert sum(not torch.equal(d0[k], d1[k]) for k in d0) > len(d0) // 2
    assert trainer.sched_g.get_last_lr()[0] < debug_recipe.optim.lr


def test_resume_gives_identical_next_step(debug_recipe: Recipe, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    trainer = Trainer(debug_recipe, first, progress=False)
    trainer.fit(until=1)
    second.mkdir()
    for name in ("resume.safetensors", "resume.json"):
        shutil.copy(first / name, second / name)
    expected = trainer.fit(until=2)  # step 2 also validates and exports best.safetensors

    resumed = Trainer(debug_recipe, second, resume=True, progress=False)
    assert resumed.step == 1
    got = resumed.fit(until=2)
    assert got == expected

    info = json.loads((first / "best.json").read_text())
    assert info["step"] == 2 and len(info["sha256"]) == 64
    model = NSBG(NSBGConfig.from_dict(info["config"]))
    model.load_state_dict(load_file(str(first / "best.safetensors")), strict=True)
    assert math.isfinite(info["val"]["val/lsd_high"])
    assert (first / "log.jsonl").read_text().count("\n") >= 2


def test_warm_start_copies_matching_and_overlapping_tensors(
    debug_recipe: Recipe, tmp_path: Path
) -> None:
    source = Trainer(debug_recipe, tmp_path / "src", progress=False)
    source.fit(until=1)
    # one more generated band and one more RVQ stage, as 12 kbps -> 16 kbps
    bigger = dataclasses.replace(
        debug_recipe.model, k_h=debug_recipe.model.k_h + 1, n_q=debug_recipe.model.n_q + 1
    )
    schedule = dataclasses.replace(
        debug_recipe.schedule, init_from=str(tmp_path / "src" / "resume.safetensors")
    )
    recipe = dataclasses.replace(debug_recipe, model=bigger, schedule=schedule)
    warm = Trainer(recipe, tmp_path / "warm", progress=False)
    assert warm.step == 0
    src, dst = source.generator.state_dict(), warm.generator.state_dict()
    key = "generator.conv_out.conv.parametrizations.weight.original1"
    assert dst[key].shape[0] == src[key].shape[0] + 1
    torch.testing.assert_close(dst[key][: src[key].shape[0]], src[key])
    same = [k for k in src if k in dst and src[k].shape == dst[k].shape]
    assert len(same) > len(src) // 2
    for k in same:
        torch.testing.assert_close(dst[k], src[k])
    fresh = f"quantizer.layers.{debug_recipe.model.n_q}.in_proj.bias"
    assert fresh in dst and fresh not in src
    sd, wd = source.discriminator.state_dict(), warm.discriminator.state_dict()
    shared = [k for k in wd if k in sd and wd[k].shape == sd[k].shape]
    assert shared
    for k in shared:
        torch.testing.assert_close(wd[k], sd[k])
    warm.fit(until=1)  # trains from there


def test_reconstruction_phase_skips_the_discriminator(debug_recipe: Recipe, tmp_path: Path) -> None:
    """adv = fm = 0: a generator-only step (the patch generator's first phase); D is untouched."""
    model = dataclasses.replace(
        debug_recipe.model, generator="patch", patch_channels=8, latent_dim=8
    )
    loss = dataclasses.replace(debug_recipe.loss, adv=0.0, fm=0.0)
    recipe = dataclasses.replace(debug_recipe, model=model, loss=loss)
    trainer = Trainer(recipe, tmp_path, progress=False)
    g0, d0 = _params(trainer.generator), _params(trainer.discriminator)
    losses = trainer.train_step(next(iter(trainer._loader(0, 0))))
    assert "d/hinge" not in losses and losses["g/mel"] > 0
    assert all(math.isfinite(v) for v in losses.values()), losses
    g1, d1 = _params(trainer.generator), _params(trainer.discriminator)
    assert sum(not torch.equal(g0[k], g1[k]) for k in g0) > len(g0) // 2
    assert all(torch.equal(d0[k], d1[k]) for k in d0)
    assert trainer.sched_d.get_last_lr() == trainer.sched_g.get_last_lr()


def test_max_minutes_stops_with_a_checkpoint(debug_recipe: Recipe, tmp_path: Path) -> None:
    schedule = dataclasses.replace(debug_recipe.schedule, steps=1000, max_minutes=0.0)
    trainer = Trainer(
        dataclasses.replace(debug_recipe, schedule=schedule), tmp_path, progress=False
    )
    trainer.fit()
    assert trainer.step == 1  # the deadline has passed after the first step
    assert (tmp_path / "resume.safetensors").exists()


def test_subband_only_phase_skips_the_synthesis(debug_recipe: Recipe, tmp_path: Path) -> None:
    model = dataclasses.replace(
        debug_recipe.model, generator="patch", patch_channels=8, latent_dim=8
    )
    loss = dataclasses.replace(debug_recipe.loss, mel=0.0, adv=0.0, fm=0.0, subband=8.0)
    trainer = Trainer(
        dataclasses.replace(debug_recipe, model=model, loss=loss), tmp_path, progress=False
    )
    losses = trainer.train_step(next(iter(trainer._loader(0, 0))))
    assert "g/mel" not in losses and losses["g/subband"] > 0
    assert math.isfinite(losses["g/total"])


def test_warm_start_can_take_only_some_tensors(tmp_path: Path) -> None:
    """``only``: tensors under other prefixes keep their fresh values (HP-codec phase 2)."""
    source = nn.ModuleDict({"a": nn.Linear(3, 3), "b": nn.Linear(3, 3)})
    target = nn.ModuleDict({"a": nn.Linear(3, 3), "b": nn.Linear(3, 3)})
    before_b = target["b"].weight.detach().clone()
    path = tmp_path / "resume.safetensors"
    tensors = {f"model/{k}": v.contiguous() for k, v in source.state_dict().items()}
    save_file(tensors, str(path), metadata={checkpoint._META_KEY: json.dumps({"format": 1})})
    counts = checkpoint.warm_start(path, {"model": target}, only=["model/a."])
    assert counts == {"copied": 2, "partial": 0, "fresh": 2}
    torch.testing.assert_close(target["a"].weight, source["a"].weight)
    torch.testing.assert_close(target["b"].weight, before_b)
    with pytest.raises(ConfigError, match="no tensor in common"):
        checkpoint.warm_start(path, {"model": target}, only=["model/c."])


def test_init_only_needs_init_from() -> None:
    with pytest.raises(ConfigError, match="init_only needs"):
        ScheduleConfig(init_only=("model/low.",))
