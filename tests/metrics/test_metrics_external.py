"""The external perceptual metrics: missing packages name the extra; ViSQOL known answers."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bandgen.errors import MissingDependencyError
from bandgen.metrics import external


@pytest.mark.parametrize(
    "module, call",
    [
        ("visqol.api", lambda x: external.visqol(x, x, 48_000)),
        ("pesq", lambda x: external.pesq_wb(x, x, 48_000)),
        ("pystoi", lambda x: external.stoi(x, x, 48_000)),
    ],
)
def test_missing_package_names_the_extra(module, call, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    external._visqol_api.cache_clear()
    x = np.random.default_rng(0).standard_normal(4800).astype(np.float32)
    with pytest.raises(MissingDependencyError, match=r"bandgen\[metrics\]"):
        call(x)
    external._visqol_api.cache_clear()


def test_visqol_identical_is_high_and_noise_is_lower():
    pytest.importorskip("visqol.api")
    pytest.importorskip("numba")  # without it one call takes ~20 s
    rng = np.random.default_rng(0)
    t = np.arange(2 * 48_000) / 48_000
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220, 660, 1500, 4000, 9000)) / 5
    ref = (0.2 * tone * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    noisy = ref + 0.02 * rng.standard_normal(ref.shape).astype(np.float32)
    same = external.visqol(ref, ref, 48_000)
    assert same > 4.5
    assert external.visqol(ref, noisy, 48_000) < same - 0.5


def test_visqol_speech_mode_uses_the_lattice_model(synth_clip):
    pytest.importorskip("visqol.api")
    pytest.importorskip("ai_edge_litert")
    wav, sr = synth_clip("speech", seconds=4.0), 48_000
    noisy = wav + 0.003 * np.random.default_rng(0).standard_normal(wav.shape).astype(np.float32)
    same = external.visqol(wav, wav, sr, mode="speech")
    worse = external.visqol(wav, noisy, sr, mode="speech")
    # the lattice model tops out near 4 for identical speech (the polynomial map gives 5.0)
    assert 3.5 < same < 4.5
    assert worse < same - 0.5
