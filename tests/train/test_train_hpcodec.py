"""HP-codec training: recipes, one real step of each cascade phase, warm starts, export."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.hp_codec import load_hp_model
from bandgen.models.hpcodec import HPCodec
from bandgen.pretrained.registry import list_models, load_weights
from bandgen.train.hpcodec_recipe import HPCodecRecipe
from bandgen.train.hpcodec_trainer import HPCodecTrainer
from bandgen.train.recipe import load_recipe, recipe_kind

REPO = Path(__file__).resolve().parents[2]
RECIPES = ("p1", "p2", "p3", "cpu_p1", "cpu_p2", "cpu_p3", "debug")


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_recipes_load_and_round_trip(name: str) -> None:
    path = REPO / "recipes" / f"hpcodec_{name}.yaml"
    assert recipe_kind(path) == "hpcodec"
    recipe = load_recipe(path)
    assert isinstance(recipe, HPCodecRecipe)
    assert (recipe.data.core, recipe.data.core_rate) == ("bandlimit", 16_000)
    assert HPCodecRecipe.from_dict(recipe.to_dict()) == recipe
    phase = int(name[-1]) if name[-1].isdigit() else 1
    assert recipe.phase == phase
    assert (recipe.schedule.init_from is not None) == (phase > 1)
    if name.startswith("cpu"):
        assert not recipe.loss.gan and recipe.model.d_model == 8
    if name == "p3":
        assert recipe.optim.lr == 5e-5 and recipe.loss.mel == 7.5 and recipe.loss.feature == 1.0


@pytest.mark.parametrize(
    "values",
    [
        {"phase": 4},
        {"data": {"core": "aac"}},
        {"data": {"segment_length": 1000}},
        {"loss": {"mell": 1.0}},
    ],
)
def test_bad_recipes_are_config_errors(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        HPCodecRecipe.from_dict({"model": {"kind": "hpcodec", "preset": "debug"}, **values})


def _phase(recipe: HPCodecRecipe, phase: int, init_from: Path | None) -> HPCodecRecipe:
    schedule = dataclasses.replace(
        recipe.schedule, init_from=None if init_from is None else str(init_from)
    )
    return dataclasses.replace(recipe, phase=phase, schedule=schedule)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> int:
    return sum(not torch.equal(before[k], v) for k, v in module.state_dict().items())


@pytest.fixture(scope="module")
def phase1_run(hpcodec_recipe: HPCodecRecipe, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two steps of phase 1 (the second validates and exports ``best.safetensors``)."""
    out = tmp_path_factory.mktemp("hpcodec_p1")
    trainer = HPCodecTrainer(_phase(hpcodec_recipe, 1, None), out, progress=False)
    high = _state(trainer.model.high)
    low = _state(trainer.model.low)
    losses = trainer.fit(until=2)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert losses["loss/mel"] > 0 and losses["loss/adversarial"] > 0
    assert _changed(low, trainer.model.low) > 0
    assert _changed(high, trainer.model.high) == 0  # phase 1 trains the 16 kHz branch only
    return out


def test_phase1_exports_loadable_weights(phase1_run: Path) -> None:
    model, info = load_weights(phase1_run / "best.safetensors", kind="hpcodec")
    assert isinstance(model, HPCodec) and info["step"] == 2
    assert math.isfinite(info["val"]["val/mel"]) and math.isfinite(info["val"]["val/lsd"])


def test_phase2_trains_the_high_branch_only(
    hpcodec_recipe: HPCodecRecipe, phase1_run: Path, tmp_path: Path
) -> None:
    recipe = _phase(hpcodec_recipe, 2, phase1_run / "resume.safetensors")
    trainer = HPCodecTrainer(recipe, tmp_path, progress=False)
    phase1, _ = load_weights(phase1_run / "best.safetensors", kind="hpcodec")
    low = _state(trainer.model.low)
    assert all(torch.equal(v, phase1.state_dict()[f"low.{k}"]) for k, v in low.items())
    high = _state(trainer.model.high)
    for _ in range(3):  # every objective's chance: a section step also keeps the low branch
        batch = next(iter(trainer._loader(0, 0)))
        losses = trainer.train_step(batch)
        assert all(torch.isfinite(v) for v in losses.values()), losses
    assert _changed(low, trainer.model.low) == 0
    assert _changed(high, trainer.model.high) > 0
    metrics = trainer.run_validation()
    assert {"val/mel", "val/mel_input", "val/lsd_high"} <= set(metrics)


def test_phase3_trains_both_branches(
    hpcodec_recipe: HPCodecRecipe, phase1_run: Path, tmp_path: Path
) -> None:
    recipe = _phase(hpcodec_recipe, 3, phase1_run / "resume.safetensors")
    trainer = HPCodecTrainer(recipe, tmp_path, progress=False)
    low, high = _state(trainer.model.low), _state(trainer.model.high)
    batch = next(iter(trainer._loader(0, 0)))
    losses = trainer.train_step(batch)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert _changed(low, trainer.model.low) > 0 and _changed(high, trainer.model.high) > 0


def test_section_objective_uses_the_hpss_component(
    hpcodec_recipe: HPCodecRecipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = HPCodecTrainer(_phase(hpcodec_recipe, 1, None), tmp_path, progress=False)
    batch = next(iter(trainer._loader(0, 0)))
    monkeypatch.setattr(torch, "randint", lambda *args, **kwargs: torch.tensor(1))
    objective, target = trainer._objective(batch.target)
    assert objective == "harmonic"
    assert target.shape == batch.target.shape and not torch.equal(target, batch.target)
    losses = trainer.train_step(batch)
    assert "loss/mel_harmonic" in losses


def test_the_family_loader_reads_trained_weights(phase1_run: Path) -> None:
    model, info = load_hp_model(weights=phase1_run / "best.safetensors")
    assert isinstance(model, HPCodec) and not model.training and info["name"] == "best"
    if "hpcodec-cpu" not in list_models():
        with pytest.raises(ConfigError, match="no shipped hpcodec model named 'hpcodec-cpu'"):
            load_hp_model()


def test_waveform_loss_sees_the_dc_that_the_mel_loss_misses(
    hpcodec_recipe: HPCodecRecipe, tmp_path: Path
) -> None:
    recipe = dataclasses.replace(
        _phase(hpcodec_recipe, 1, None),
        loss=dataclasses.replace(hpcodec_recipe.loss, waveform=1.0, feature=0.0, adversarial=0.0),
    )
    trainer = HPCodecTrainer(recipe, tmp_path, progress=False)
    real = 0.1 * torch.randn(2, 1, 4800, generator=torch.Generator().manual_seed(0))
    out = trainer.model(torch.zeros(2, 1, 14400), torch.zeros(2, 1, 4800), branch="low")
    shifted = trainer.losses(real * 3, real, out, {"low": (real, real - 0.5)})
    exact = trainer.losses(real * 3, real, out, {"low": (real, real)})
    assert float(shifted["loss/waveform"]) == pytest.approx(0.5, rel=1e-5)
    assert float(exact["loss/waveform"]) == 0.0
    gap = (shifted["loss/total"] - exact["loss/total"]).detach()
    assert float(gap) == pytest.approx(
        0.5 + recipe.loss.mel * float(shifted["loss/mel"] - exact["loss/mel"]), rel=1e-4
    )


def test_code_entropy_tells_a_collapsed_quantiser() -> None:
    from bandgen.train.hpcodec_trainer import code_entropy_bits

    collapsed = torch.full((1, 6, 40), 7)
    assert code_entropy_bits(collapsed) == 0.0
    spread = torch.arange(40).repeat(1, 6, 1)  # 40 distinct codes per codebook
    assert code_entropy_bits(spread) == pytest.approx(math.log2(40))
