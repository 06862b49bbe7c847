"""The debug recipe pointed at a tiny corpus and dev folder made from dev clips."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.train.recipe import Recipe, load_recipe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def debug_recipe(
    tmp_path_factory: pytest.TempPathFactory, dev_clip: Callable[..., tuple[np.ndarray, int]]
) -> Recipe:
    """``recipes/debug.yaml`` on two 2 s training files and one 1 s dev clip (cache in tmp)."""
    root = tmp_path_factory.mktemp("train_data")
    corpus, dev = root / "corpus", root / "dev"
    for rel, name in (("music/a.flac", "dev_music_02"), ("speech/b.flac", "dev_speech_02")):
        wav, sr = dev_clip(name, seconds=2.0, offset=2.0)
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(corpus / rel), wav.T, sr)
    wav, sr = dev_clip("dev_music_03", seconds=1.0, offset=2.0)
    dev.mkdir()
    sf.write(str(dev / "dev_music_03.flac"), wav.T, sr)
    recipe = load_recipe(REPO / "recipes" / "debug.yaml")
    data = dataclasses.replace(
        recipe.data, corpus_dir=str(corpus), cache_root=str(root / "cache"), dev_dir=str(dev)
    )
    return dataclasses.replace(recipe, data=data)
