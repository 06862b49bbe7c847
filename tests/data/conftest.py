"""A tiny corpus folder made from dev clips, and its core-coded cache (session fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.core import make_core
from bandgen.data.cache import build_cache
from bandgen.data.manifest import scan_corpus

CLIPS = {
    "music/pkg/a.flac": "dev_music_01",
    "speech/pkg/b.flac": "dev_speech_01",
    "sound/pkg/c.flac": "dev_sound_01",
}


@pytest.fixture(scope="session")
def tiny_corpus(
    tmp_path_factory: pytest.TempPathFactory, dev_clip: Callable[..., tuple[np.ndarray, int]]
) -> Path:
    """Three 1.5 s files (stereo and mono); the ``sound`` one is silent in its first half."""
    root = tmp_path_factory.mktemp("corpus")
    for rel, name in CLIPS.items():
        wav, sr = dev_clip(name, seconds=1.5, offset=1.0)
        if rel.startswith("sound"):
            wav[:, : wav.shape[1] // 2] = 0.0
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(root / rel), wav.T, sr, subtype="PCM_16")
    return root


@pytest.fixture(scope="session")
def tiny_cache(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The core-coded cache (AAC 9.4 kbps, 12 kbps mode) of :func:`tiny_corpus`."""
    entries = scan_corpus(tiny_corpus, valid_fraction=0.0)
    root = tmp_path_factory.mktemp("cache")
    return build_cache(tiny_corpus, entries, root, make_core("aac", 9.4))
