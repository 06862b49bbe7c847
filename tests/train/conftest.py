"""The debug recipes (n-SBG, MP3 restoration, HP-codec) pointed at a tiny corpus and dev folder of
synthetic clips."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import soundfile as sf

from bandgen.train.hpcodec_recipe import HPCodecRecipe
from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
from bandgen.train.restore_recipe import RestoreRecipe

REPO = Path(__file__).resolve().parents[2]

RecipeT = TypeVar("RecipeT", Recipe, RestoreRecipe, HPCodecRecipe)


@pytest.fixture(scope="session")
def tiny_corpus(
    tmp_path_factory: pytest.TempPathFactory, synth_clip: Callable[..., np.ndarray]
) -> Path:
    """A folder with ``corpus/`` (two 2 s training files, stereo music and mono speech) and
    ``dev/`` (one 1 s stereo music clip), all 48 kHz."""
    root = tmp_path_factory.mktemp("train_data")
    corpus, dev = root / "corpus", root / "dev"
    for rel, kind in (("music/a.flac", "music"), ("speech/b.flac", "speech")):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(corpus / rel), synth_clip(kind, seconds=2.0, seed=2).T, 48_000)
    dev.mkdir()
    sf.write(str(dev / "music.flac"), synth_clip("music", seconds=1.0, seed=3).T, 48_000)
    return root


def _on_tiny_corpus(recipe: RecipeT, root: Path, cache: str) -> RecipeT:
    data = dataclasses.replace(
        recipe.data,
        corpus_dir=str(root / "corpus"),
        cache_root=str(root / cache),
        dev_dir=str(root / "dev"),
    )
    return dataclasses.replace(recipe, data=data)


@pytest.fixture(scope="session")
def debug_recipe(tiny_corpus: Path) -> Recipe:
    """``recipes/debug.yaml`` on :func:`tiny_corpus` (cache in tmp)."""
    return _on_tiny_corpus(Recipe.load(REPO / "recipes" / "debug.yaml"), tiny_corpus, "cache")


@pytest.fixture(scope="session")
def restore_recipe(tiny_corpus: Path) -> RestoreRecipe:
    """``recipes/mp3restore_debug.yaml`` on :func:`tiny_corpus` (its own cache in tmp)."""
    recipe = RestoreRecipe.load(REPO / "recipes" / "mp3restore_debug.yaml")
    return _on_tiny_corpus(recipe, tiny_corpus, "restore_cache")


@pytest.fixture(scope="session")
def hpcodec_recipe(tiny_corpus: Path) -> HPCodecRecipe:
    """``recipes/hpcodec_debug.yaml`` (phase 1) on :func:`tiny_corpus` (its own cache in tmp)."""
    recipe = HPCodecRecipe.load(REPO / "recipes" / "hpcodec_debug.yaml")
    return _on_tiny_corpus(recipe, tiny_corpus, "hpcodec_cache")
