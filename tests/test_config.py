"""The one config mechanism (:mod:`bandgen.config`) on every config a registered family uses:
mapping in, unknown keys refused by name, mapping out, ``from_dict(to_dict(x)) == x``."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any

import pytest

from bandgen import families
from bandgen.config import Config, from_dict, to_dict
from bandgen.errors import ConfigError
from bandgen.train.nsbg_recipe import DiscriminatorConfig, NSBGRecipe
from bandgen.train.recipe import BaseRecipe
from bandgen.train.restore_recipe import RestoreRecipe


def _configs() -> dict[str, type[Any]]:
    """Every dataclass reachable from a registered family's config and recipe, by name."""
    found: dict[str, type[Any]] = {}

    def walk(cls: type[Any]) -> None:
        if cls.__qualname__ in found:
            return
        found[cls.__qualname__] = cls
        for hint in typing.get_type_hints(cls).values():
            for arg in (hint, *typing.get_args(hint)):
                if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                    walk(arg)

    for family in families.FAMILIES.values():
        walk(family.config_class())
        walk(family.recipe_class())
    return found


CONFIGS = _configs()


def test_the_walk_finds_every_section() -> None:
    assert {"NSBGConfig", "MP3RestoreConfig", "LossWeights", "RestoreLossWeights"} <= set(CONFIGS)
    assert {"DataConfig", "OptimConfig", "ScheduleConfig", "DiscriminatorConfig"} <= set(CONFIGS)
    assert {"NSBGRecipe", "RestoreRecipe", "RestoreOptimConfig", "RestoreScheduleConfig"} <= set(
        CONFIGS
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_config_uses_the_mechanism_and_round_trips(name: str) -> None:
    cls = CONFIGS[name]
    assert issubclass(cls, Config) and cls.__dataclass_params__.frozen
    config = cls()
    values = json.loads(json.dumps(config.to_dict()))  # plain JSON types only
    assert cls.from_dict(values) == config
    if not issubclass(cls, BaseRecipe):  # a recipe's from_dict reads model.kind and .preset
        assert from_dict(cls, values) == config


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_config_refuses_an_unknown_key_by_name(name: str) -> None:
    cls = CONFIGS[name]
    allowed = sorted(f.name for f in dataclasses.fields(cls))
    with pytest.raises(ConfigError, match=rf"'bogus_key'.*allowed: .*{allowed[0]}"):
        cls.from_dict({"bogus_key": 1})


@pytest.mark.parametrize("kind", families.names())
def test_every_preset_round_trips(kind: str) -> None:
    family = families.get(kind)
    for preset in family.presets:
        config = family.preset(preset)
        assert isinstance(config, family.config_class())
        assert family.config_class().from_dict(to_dict(config)) == config


def test_nested_tuples_and_numbers_are_converted() -> None:
    disc = DiscriminatorConfig.from_dict({"bands": [[0, 0.5], [0.5, 1]], "scale": 2})
    assert disc.bands == ((0.0, 0.5), (0.5, 1.0)) and isinstance(disc.scale, float)
    assert isinstance(disc.bands[0][0], float)
    assert to_dict(disc)["bands"] == [[0.0, 0.5], [0.5, 1.0]]
    assert DiscriminatorConfig.from_dict({"bands": None}).bands is None


def test_a_section_overlays_the_recipes_default_for_it() -> None:
    # the restoration recipe's data default is an MP3 core: a partial section keeps it
    recipe = RestoreRecipe.from_dict({"data": {"batch_size": 3}})
    assert (recipe.data.core, recipe.data.core_kbps, recipe.data.batch_size) == ("mp3", 32.0, 3)
    assert NSBGRecipe.from_dict({"data": {"batch_size": 3}}).data.core == "aac"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model": {"channels": "wide"}}, r"recipe\.model\.channels must be a whole number"),
        ({"model": {"blind": 1}}, r"recipe\.model\.blind must be true or false"),
        ({"optim": {"lr": "1e-4"}}, r"recipe\.optim\.lr must be a number.*write 1\.0e-4"),
        ({"optim": {"betas": [0.5]}}, r"recipe\.optim\.betas must have 2 elements"),
        ({"model": {"strides": 2}}, r"recipe\.model\.strides must be a list"),
        ({"data": [1, 2]}, r"recipe\.data must be a mapping"),
        ({"model": {"preset": "huge"}}, r"no preset 'huge'; presets: paper_12k"),
        ({"model": {"kind": "mp3restore"}}, r"model\.kind is 'mp3restore', not 'nsbg'"),
        ({"model": {"k_c": 20}}, r"recipe\.model: need 0 < k_c <= k_h"),
        ({"optim": {"lr": 0}}, r"recipe\.optim: lr must be positive"),
        ({"discriminator": {"bands": [[0.1, "x"]]}}, r"bands\[0\]\[1\] must be a number"),
    ],
)
def test_bad_values_are_config_errors_that_say_where(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NSBGRecipe.from_dict(values)


@dataclass(frozen=True)
class Inner:
    size: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    gain: float | None = None


def test_the_functions_work_on_any_dataclass() -> None:
    outer = from_dict(Outer, {"inner": {"size": [3]}, "gain": 1})
    assert outer == Outer(Inner((3,)), 1.0) and to_dict(outer) == {
        "inner": {"size": [3]},
        "gain": 1.0,
    }
    with pytest.raises(
        ConfigError, match=r"unknown key\(s\) 'sizes' in Outer\.inner; allowed: size"
    ):
        from_dict(Outer, {"inner": {"sizes": []}})
