"""MP3 restoration training: recipes, one real step, exact resume, released weights, dispatch."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from bandgen.errors import ConfigError
from bandgen.models.mp3restore import MP3Restore, MP3RestoreConfig
from bandgen.train.recipe import load_recipe, recipe_kind
from bandgen.train.restore_recipe import RestoreRecipe
from bandgen.train.restore_trainer import RestoreTrainer
from bandgen.train.run import train

REPO = Path(__file__).resolve().parents[2]
RECIPES = ("mp3restore_n1", "mp3restore_n5", "mp3restore_n1_cpu", "mp3restore_n5_cpu")


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_recipes_load_and_round_trip(name: str) -> None:
    path = REPO / "recipes" / f"{name}.yaml"
    assert recipe_kind(path) == "mp3restore"
    recipe = load_recipe(path)
    assert isinstance(recipe, RestoreRecipe)
    assert recipe.data.core == "mp3" and recipe.data.core_kbps == 32.0
    assert recipe.optim.lr == 1e-3 and (recipe.loss.pixel, recipe.loss.ssim) == (1.0, 0.5)
    assert recipe.model.num_blocks == (5 if "n5" in name else 1)
    assert recipe.model.latent == (128 if "cpu" in name else 256)
    assert RestoreRecipe.from_dict(recipe.to_dict()) == recipe


def test_defaults_are_the_mp3_32k_pairs() -> None:
    recipe = RestoreRecipe.from_dict({"model": {"kind": "mp3restore"}})
    assert recipe == RestoreRecipe()
    assert (recipe.data.core, recipe.data.core_kbps) == ("mp3", 32.0)


def test_nsbg_recipes_keep_their_kind() -> None:
    assert recipe_kind(REPO / "recipes" / "nsbg_12k_cpu.yaml") == "nsbg"


@pytest.mark.parametrize(
    "values",
    [
        {"model": {"kind": "mp3restore", "latnet": 8}},
        {"model": {"kind": "mp3restore", "preset": "huge"}},
        {"model": {"kind": "nsbg"}},
        {"optim": {"learning_rate": 1.0}},
        {"schedule": {"ckpt_minutes": 5, "bogus": 1}},
    ],
)
def test_bad_keys_are_config_errors(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RestoreRecipe.from_dict(values)


def test_one_step_updates_the_model(restore_recipe: RestoreRecipe, tmp_path: Path) -> None:
    trainer = RestoreTrainer(restore_recipe, tmp_path, progress=False)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    batch = next(iter(trainer._loader(0, 0)))
    assert batch.target.shape == (2, 1, 8192) and batch.core.shape == (2, 1, 8192)
    losses = trainer.train_step(batch)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert losses["loss/pixel"] > 0 and 0 < losses["loss/ssim"] < 1
    after = dict(trainer.model.named_parameters())
    assert sum(not torch.equal(before[k], after[k]) for k in before) >= 1


def test_resume_gives_identical_next_step(restore_recipe: RestoreRecipe, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    trainer = RestoreTrainer(restore_recipe, first, progress=False)
    trainer.fit(until=1)
    second.mkdir()
    for name in ("resume.safetensors", "resume.json"):
        shutil.copy(first / name, second / name)
    expected = trainer.fit(until=2)  # step 2 also validates and exports best.safetensors

    resumed = RestoreTrainer(restore_recipe, second, resume=True, progress=False)
    assert resumed.step == 1
    assert resumed.fit(until=2) == expected

    info = json.loads((first / "best.json").read_text())
    assert info["model"] == "mp3restore" and info["step"] == 2 and len(info["sha256"]) == 64
    model = MP3Restore(MP3RestoreConfig.from_dict(info["config"]))
    model.load_state_dict(load_file(str(first / "best.safetensors")), strict=True)
    val = info["val"]
    assert math.isfinite(val["val/lsd"]) and math.isfinite(val["val/lsd_decode"])


def test_train_entry_point_dispatches_on_kind(
    restore_recipe: RestoreRecipe, tmp_path: Path
) -> None:
    path = tmp_path / "restore.yaml"
    path.write_text(yaml.safe_dump(restore_recipe.to_dict()))
    losses = train(path, tmp_path / "run", progress=False)
    assert set(losses) >= {"loss/total", "loss/pixel", "loss/ssim"}
    meta = json.loads((tmp_path / "run" / "resume.json").read_text())["meta"]
    assert meta["step"] == restore_recipe.schedule.steps


# the n-SBG DDP run (test_train_ddp.py) covers the shared trainer skeleton in the default run
@pytest.mark.slow
def test_two_process_gloo_run(restore_recipe: RestoreRecipe, tmp_path: Path) -> None:
    recipe = dataclasses.replace(
        restore_recipe,
        schedule=dataclasses.replace(restore_recipe.schedule, ckpt_minutes=0.0),
    )
    path = tmp_path / "restore_ddp.yaml"
    path.write_text(yaml.safe_dump(recipe.to_dict()))
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "bandgen.cli", "train",
           str(path), "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    meta = json.loads((out / "resume.json").read_text())["meta"]
    assert meta["step"] == recipe.schedule.steps and meta["world_size"] == 2
    assert (out / "best.safetensors").exists()
