"""The registry of model families: lazy, complete entries, recipes and ``bandgen train``
dispatched by ``model.kind``, and a new family added by one entry."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bandgen import cli, families
from bandgen.errors import ConfigError
from bandgen.train.base import BaseTrainer
from bandgen.train.nsbg_recipe import NSBGRecipe
from bandgen.train.recipe import BaseRecipe, load_recipe, recipe_kind
from bandgen.train.restore_recipe import RestoreRecipe
from bandgen.train.run import train

REPO = Path(__file__).resolve().parents[1]


def test_importing_the_registry_imports_no_model_torch_or_pyav() -> None:
    code = (
        "import sys, bandgen.families, bandgen.config, bandgen.train.recipe;"
        "from bandgen import families; families.get('mp3restore').presets;"
        "print(sorted(m for m in ('torch', 'av', 'bandgen.models.nsbg') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", families.names())
def test_every_entry_resolves_to_a_consistent_family(kind: str) -> None:
    family = families.get(kind)
    recipe_cls = family.recipe_class()
    assert issubclass(recipe_cls, BaseRecipe) and recipe_cls.kind == kind
    assert isinstance(recipe_cls().model, family.config_class())
    task = family.task_class()
    # the task contract: built as task(recipe, out, resume=, progress=, resume_half=,
    # resume_omit=) and trained by fit(); BaseTrainer is the skeleton the cache-fed families share
    params = inspect.signature(task).parameters
    assert {"resume", "progress", "resume_half", "resume_omit"} <= set(params)
    assert callable(getattr(task, "fit", None))
    if kind in ("nsbg", "mp3restore"):
        assert issubclass(task, BaseTrainer)
    model = family.model_class()(family.preset("debug"))
    assert model.config == family.preset("debug")
    assert callable(families.resolve(family.loader))


def test_the_shipped_families() -> None:
    assert {"mp3restore", "nsbg"} <= set(families.names())
    with pytest.raises(
        ConfigError, match="unknown model kind 'nope'; known kinds: hpcodec, hpcodecx, mp3restore"
    ):
        families.get("nope")


def test_recipes_dispatch_on_their_kind(tmp_path: Path) -> None:
    assert isinstance(load_recipe(REPO / "recipes" / "debug.yaml"), NSBGRecipe)
    assert isinstance(load_recipe(REPO / "recipes" / "mp3restore_debug.yaml"), RestoreRecipe)
    old = tmp_path / "old.yaml"  # a recipe from before model.kind: n-SBG, as it always was
    old.write_text("model: {preset: debug}\n")
    assert recipe_kind(old) == "nsbg" and load_recipe(old) == NSBGRecipe.load(old)
    assert NSBGRecipe.load(old).to_dict()["model"]["kind"] == "nsbg"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {kind: hpcodex}\n")
    with pytest.raises(ConfigError, match="unknown model kind 'hpcodex'"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="'mp3restore', not 'nsbg'"):
        NSBGRecipe.load(REPO / "recipes" / "mp3restore_debug.yaml")


TOY = """
from dataclasses import dataclass, field
from typing import ClassVar

from bandgen.config import Config
from bandgen.train.recipe import BaseRecipe, ScheduleConfig


@dataclass(frozen=True)
class ToyConfig(Config):
    width: int = 4

    @classmethod
    def small(cls):
        return cls(width=2)


class Toy:
    def __init__(self, config):
        self.config = config


@dataclass(frozen=True)
class ToyRecipe(BaseRecipe):
    kind: ClassVar[str] = "toy"
    model: ToyConfig = field(default_factory=ToyConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


class ToyTrainer:
    def __init__(self, recipe, out_dir, *, resume=False, **options):
        self.recipe, self.out_dir, self.resume = recipe, out_dir, resume

    def fit(self):
        return {"width": float(self.recipe.model.width), "resume": float(self.resume)}
"""


@pytest.fixture
def toy_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> families.Family:
    """A third family added the way a real one is: a module and one registry entry."""
    (tmp_path / "toy_family.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    family = families.Family(
        name="toy",
        title="toy",
        config="toy_family:ToyConfig",
        model="toy_family:Toy",
        presets=("small",),
        recipe="toy_family:ToyRecipe",
        task="toy_family:ToyTrainer",
        loader="toy_family:Toy",
    )
    monkeypatch.setitem(families.FAMILIES, "toy", family)
    return family


def test_a_new_family_is_one_entry(toy_family: families.Family, tmp_path: Path) -> None:
    recipe_path = tmp_path / "toy.yaml"
    recipe_path.write_text("model: {kind: toy, preset: small}\nschedule: {steps: 3}\n")
    recipe = load_recipe(recipe_path)
    assert type(recipe).__name__ == "ToyRecipe" and recipe.model.width == 2
    assert type(recipe).from_dict(recipe.to_dict()) == recipe
    assert train(recipe_path, tmp_path / "out", resume=True) == {"width": 2.0, "resume": 1.0}


def test_bandgen_train_dispatches_by_family(
    toy_family: families.Family, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe_path = tmp_path / "toy.yaml"
    recipe_path.write_text("model: {kind: toy, width: 7}\n")
    assert cli.main(["train", str(recipe_path), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert capsys.readouterr().out.split() == ["resume=0", "width=7"]
    recipe_path.write_text("model: {kind: toy, widht: 7}\n")
    assert cli.main(["train", str(recipe_path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key(s) 'widht' in recipe.model; allowed: width" in capsys.readouterr().err
