"""A tiny corpus folder of synthetic clips, and its core-coded cache (session fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.core import make_core
from bandgen.data.cache import build_cache
from bandgen.data.manifest import scan_corpus

CLIPS = {  # path: (kind, channels)
    "music/pkg/a.flac": ("music", 2),
    "speech/pkg/b.flac": ("speech", 1),
    "sound/pkg/c.flac": ("sound", 1),
}


@pytest.fixture(scope="session")
def tiny_corpus(
    tmp_path_factory: pytest.TempPathFactory, synth_clip: Callable[..., np.ndarray]
) -> Path:
    """Three 1.5 s files at 48 kHz (stereo and mono); the ``sound`` one is silent in its first
    half."""
    root = tmp_path_factory.mktemp("corpus")
    sr = 48_000
    for rel, (kind, channels) in CLIPS.items():
        wav = synth_clip(kind, seconds=1.5, channels=channels)
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
