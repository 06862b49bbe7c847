"""Recipes: every shipped recipe loads, overlays merge, unknown keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandgen.errors import ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.train.nsbg_recipe import CORE_KBPS, NSBGRecipe
from bandgen.train.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize("name", ["nsbg_12k", "nsbg_16k", "nsbg_12k_cpu", "nsbg_16k_cpu", "debug"])
def test_shipped_recipes_load_and_round_trip(name: str) -> None:
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    assert NSBGRecipe.from_dict(recipe.to_dict()) == recipe
    assert recipe.optim.betas == (0.5, 0.9) and recipe.optim.lr_gamma == 0.999996


def test_overlays_merge_onto_their_base() -> None:
    paper16 = load_recipe(RECIPES / "nsbg_16k.yaml")
    assert paper16.model == NSBGConfig.paper_16k()
    assert paper16.data.core_kbps == CORE_KBPS["16k"] and paper16.data.batch_size == 16
    cpu16 = load_recipe(RECIPES / "nsbg_16k_cpu.yaml")
    assert cpu16.model == NSBGConfig.cpu_16k() and cpu16.discriminator.scale == 0.5
    assert len(cpu16.discriminator.resolved_bands(cpu16.model)) == 6
    assert len(paper16.discriminator.resolved_bands(NSBGConfig.paper_12k())) == 5


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("modle: {}\n", "modle"),
        ("optim: {learning_rate: 1.0}\n", "learning_rate"),
        ("model: {preset: debug, chanels: 4}\n", "chanels"),
        ("loss: {mell: 1}\n", "mell"),
    ],
)
def test_unknown_key_is_a_config_error_naming_it(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"base: {RECIPES / 'debug.yaml'}\n{text}")
    with pytest.raises(ConfigError, match=named):
        load_recipe(path)


def test_bad_segment_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"base: {RECIPES / 'debug.yaml'}\ndata: {{segment_length: 1000}}\n")
    with pytest.raises(ConfigError, match="segment_length"):
        load_recipe(path)
