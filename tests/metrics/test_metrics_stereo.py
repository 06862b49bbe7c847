"""Stereo image errors (:mod:`bandgen.metrics.stereo`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bandgen.eval.measures import MeasureConfig, compute
from bandgen.metrics.stereo import stereo_image_error


def _pair(seed: int = 0, length: int = 48_000) -> np.ndarray:
    """A stereo signal: a shared noise panned left plus a little independent noise each side."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(length)
    return np.stack(
        [
            0.8 * common + 0.1 * rng.standard_normal(length),
            0.3 * common + 0.1 * rng.standard_normal(length),
        ]
    ).astype(np.float32)


def test_identical_signals_have_no_error() -> None:
    ref = _pair()
    err = stereo_image_error(ref, ref, 48_000)
    assert err.ild_db == pytest.approx(0.0, abs=1e-9) and err.icc == pytest.approx(0.0, abs=1e-9)


def test_swapped_channels_move_the_level_and_mono_loses_the_width() -> None:
    ref = _pair()
    swapped = stereo_image_error(ref, ref[::-1].copy(), 48_000)
    # 0.8 vs 0.3 of a shared signal: about 8.4 dB each way, so about 16.9 dB of error
    assert 14.0 < swapped.ild_db < 19.0 and swapped.icc < 0.02
    mono = ref.mean(axis=0, keepdims=True).repeat(2, axis=0)
    collapsed = stereo_image_error(ref, mono, 48_000)
    assert collapsed.ild_db > 6.0 and collapsed.icc > 0.01
    rng = np.random.default_rng(1)
    independent = rng.standard_normal(ref.shape).astype(np.float32) * ref.std(axis=1, keepdims=True)
    assert stereo_image_error(ref, independent, 48_000).icc > 0.5


def test_mono_gives_nan_and_the_eval_names_them() -> None:
    mono = _pair()[:1]
    err = stereo_image_error(mono, mono, 48_000)
    assert math.isnan(err.ild_db) and math.isnan(err.icc)
    ref = _pair()
    values = compute(["ild", "icc"], ref, ref[::-1].copy(), 48_000, MeasureConfig())
    assert values["ild"] > 14.0 and values["icc"] < 0.02
