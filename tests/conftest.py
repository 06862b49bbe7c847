"""Shared fixtures: the dev clips of ``../shared/data/dev`` and seeded generators."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BANDGEN_SHARED", REPO.parent / "shared"))
DEV_DIR = SHARED / "data" / "dev"

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (or ``$BANDGEN_SHARED``)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def dev_clip() -> Callable[..., tuple[np.ndarray, int]]:
    """Load a dev clip by id: ``dev_clip("dev_music_01", seconds=2.0) -> (wav [C, T], 48000)``."""

    def load(
        name: str, seconds: float | None = None, offset: float = 0.0
    ) -> tuple[np.ndarray, int]:
        path = DEV_DIR / f"{name}.flac"
        if not path.exists():
            pytest.skip(f"dev clip {path} not found")
        info = sf.info(str(path))
        start = int(offset * info.samplerate)
        stop = None if seconds is None else start + int(seconds * info.samplerate)
        wav, sr = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
        return np.ascontiguousarray(wav.T), sr

    return load


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator (torch is seeded too)."""
    torch.manual_seed(0)
    return np.random.default_rng(0)
