"""SpectroStream training: recipe parsing, one real step (reconstruction only and with the
discriminator), validation, checkpoint and resume, on a tiny synthetic stereo corpus."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bandgen.discriminators.spectro_stft import MultiScaleSpectroDiscriminator
from bandgen.errors import ConfigError
from bandgen.train.spectro_trainer import (
    SpectroLoss,
    SpectroRecipe,
    SpectroTrainer,
    load_spectro_recipe,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stereo_corpus(
    tmp_path_factory: pytest.TempPathFactory, synth_clip: Callable[..., np.ndarray]
) -> Path:
    root = tmp_path_factory.mktemp("stereo_corpus")
    for i in range(6):
        kind = ("music", "speech", "sound")[i % 3]
        path = root / kind / f"{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), synth_clip(kind, seconds=1.5, seed=i).T, 48_000)
    return root


def _recipe(corpus: Path, **loss: float) -> SpectroRecipe:
    recipe = load_spectro_recipe(REPO / "recipes" / "spectrostream_debug.yaml")
    data = dataclasses.replace(recipe.data, corpus_dir=str(corpus), valid_fraction=0.34)
    return dataclasses.replace(recipe, data=data, loss=dataclasses.replace(recipe.loss, **loss))


def test_every_shipped_recipe_parses() -> None:
    for name in ("spectrostream", "spectrostream_cpu", "spectrostream_debug"):
        recipe = load_spectro_recipe(REPO / "recipes" / f"{name}.yaml")
        assert SpectroRecipe.from_dict(recipe.to_dict()) == recipe


def test_bad_recipes_refused() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        SpectroRecipe.from_dict({"model": {"preset": "debug"}, "data": {"bogus": 1}})
    with pytest.raises(ConfigError, match="huge"):
        SpectroRecipe.from_dict({"model": {"preset": "huge"}})


def test_steps_validate_and_resume(stereo_corpus: Path, tmp_path: Path) -> None:
    recipe = _recipe(stereo_corpus)
    trainer = SpectroTrainer(recipe, tmp_path, device="cpu")
    before = [p.detach().clone() for p in trainer.model.parameters()]
    losses = trainer.fit()
    assert trainer.step == 2 and np.isfinite(losses["loss"])
    assert any(
        not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True)
    )
    info = json.loads((tmp_path / "best.json").read_text())
    assert info["model"] == "spectrostream" and np.isfinite(info["val"]["val/mel"])
    again = SpectroTrainer(recipe, tmp_path, resume=True, device="cpu")
    assert again.step == 2
    for a, b in zip(
        again.model.state_dict().values(), trainer.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_adversarial_step(stereo_corpus: Path, tmp_path: Path) -> None:
    recipe = _recipe(stereo_corpus, adversarial=1.0, feature=10.0)
    assert isinstance(recipe.loss, SpectroLoss)
    trainer = SpectroTrainer(recipe, tmp_path, device="cpu")
    assert trainer.disc is not None
    batch = torch.stack([trainer.dataset[i] for i in range(2)])
    losses = trainer.train_step(batch)
    assert {"disc", "adv", "feat"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values())


def test_discriminator_sees_both_channels() -> None:
    torch.manual_seed(0)
    disc = MultiScaleSpectroDiscriminator(n_ffts=(256, 128), channels=4)
    wav = torch.randn(2, 2, 4_096)
    out = disc(wav)
    assert len(out.logits) == 2 and len(out.fmaps[0]) == 4
    swapped = disc(wav.flip(1))
    assert not torch.allclose(out.logits[0], swapped.logits[0])


def test_warm_start_from_released_weights(stereo_corpus: Path, tmp_path: Path) -> None:
    recipe = _recipe(stereo_corpus)
    first = SpectroTrainer(recipe, tmp_path / "a", device="cpu")
    first.fit()
    schedule = dataclasses.replace(
        recipe.schedule, init_from=str(tmp_path / "a" / "best.safetensors")
    )
    second = SpectroTrainer(dataclasses.replace(recipe, schedule=schedule), tmp_path / "b")
    assert second.step == 0
    best = {k: v for k, v in first.model.state_dict().items() if k.endswith(".embed")}
    for key, value in best.items():
        assert torch.equal(second.model.state_dict()[key], value)
