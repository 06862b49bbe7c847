"""PEAQ-based measures of the evaluation suite agree with bandgen.metrics.peaq."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bandgen.eval.measures import MeasureConfig, compute
from bandgen.metrics import peaq


def test_peaq_measures_share_one_analysis_and_match_peaq(
    synth_clip: Callable[..., np.ndarray],
) -> None:
    wav, sr = synth_clip("music", seconds=3.0), 48_000
    noisy = wav + 0.01 * np.random.default_rng(0).standard_normal(wav.shape).astype(np.float32)
    got = compute(["nmr", "odg", "mms"], wav, noisy, sr, MeasureConfig())
    direct = peaq(wav, noisy, sr)
    assert got == {"nmr": direct.nmr_db, "odg": direct.odg, "mms": direct.mms}
    same = compute(["odg", "nmr"], wav, wav, sr, MeasureConfig())  # a new pair: no stale memo
    assert same["odg"] > 0.0 and same["nmr"] < -50
