"""One real GAN step of the debug recipe; exact resume; released weights."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.train.recipe import Recipe
from bandgen.train.trainer import Trainer


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
