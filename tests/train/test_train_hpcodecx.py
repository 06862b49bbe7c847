"""HP-codecX training: recipes, tokens from a frozen debug HP-codec on the band-limit cache, one
real step (only the transformers move), validation, released weights that extend."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bandgen.audio.resample import resample
from bandgen.errors import ConfigError
from bandgen.extend import load_extender
from bandgen.models.hpcodec import HPCodec, HPCodecConfig
from bandgen.models.hpcodecx import HPCodecX
from bandgen.pretrained.registry import load_weights
from bandgen.train.checkpoint import export_weights
from bandgen.train.hpcodecx_trainer import HPCodecXRecipe, HPCodecXTrainer
from bandgen.train.recipe import load_recipe, recipe_kind

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["hpcodecx", "hpcodecx_cpu", "hpcodecx_debug"])
def test_recipes_load_and_round_trip(name: str) -> None:
    path = REPO / "recipes" / f"{name}.yaml"
    assert recipe_kind(path) == "hpcodecx"
    recipe = load_recipe(path)
    assert isinstance(recipe, HPCodecXRecipe)
    assert (recipe.data.core, recipe.data.core_rate) == ("bandlimit", 16_000)
    assert recipe.optim.betas == (0.8, 0.99) and recipe.codec_weights is not None
    assert HPCodecXRecipe.from_dict(recipe.to_dict()) == recipe
    if name == "hpcodecx":
        assert recipe.model.lm.d_model == 1024 and recipe.model.lm.num_layers == 6
        assert (recipe.optim.lr, recipe.optim.t_max, recipe.data.batch_size) == (1e-4, 44_000, 32)
        assert recipe.data.segment_length == 120_000  # 2.5 s


@pytest.fixture(scope="module")
def codec_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = HPCodecConfig.debug()
    path = tmp_path_factory.mktemp("hpcodec") / "codec.safetensors"
    export_weights(path, HPCodec(config), {"model": "hpcodec", "config": config.to_dict()})
    return path


@pytest.fixture
def recipe(tiny_corpus: Path, codec_weights: Path) -> HPCodecXRecipe:
    recipe = HPCodecXRecipe.load(REPO / "recipes" / "hpcodecx_debug.yaml")
    data = dataclasses.replace(
        recipe.data,
        corpus_dir=str(tiny_corpus / "corpus"),
        cache_root=str(tiny_corpus / "cache_bl"),
        dev_dir=str(tiny_corpus / "dev"),
    )
    return dataclasses.replace(recipe, data=data, codec_weights=str(codec_weights))


def test_a_codec_is_needed(recipe: HPCodecXRecipe, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs codec_weights"):
        HPCodecXTrainer(dataclasses.replace(recipe, codec_weights=None), tmp_path)


def test_tokens_step_validation_and_released_weights(
    recipe: HPCodecXRecipe, codec_weights: Path, tmp_path: Path
) -> None:
    trainer = HPCodecXTrainer(recipe, tmp_path, progress=False)
    codec, _ = load_weights(codec_weights)
    assert trainer.recipe.model.codec == codec.config  # the codec's config travels along
    batch = next(iter(trainer._loader(0, 0)))
    low, high = trainer.tokens(batch.target, batch.core)
    assert low.shape == high.shape == (2, 6, 9600 // 480)
    # the tokens are the frozen codec's: low of the 16 kHz input, high of its residual
    x16 = torch.from_numpy(resample(batch.core[:, 0].numpy(), 48_000, 16_000))[:, None]
    assert torch.equal(low, codec.encode_low(x16))
    before = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    losses = trainer.train_step(batch)
    assert all(math.isfinite(float(v)) for v in losses.values())
    after = trainer.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("lm.") for k in moved)
    metrics = trainer.run_validation()
    assert {"val/ce", "val/acc", "val/acc0", "val/acc_greedy"} <= set(metrics)
    assert metrics["val/ce"] > 0 and 0 <= metrics["val/acc"] <= 1
    model, info = load_weights(tmp_path / "best.safetensors")
    assert isinstance(model, HPCodecX) and info["model"] == "hpcodecx"
    extender = load_extender("hpcodecx", weights=tmp_path / "best.safetensors")
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 8000))).astype(np.float32)
    assert extender.extend(x).shape == (1, 24_000)
