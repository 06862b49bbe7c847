"""PEAQ-based measures of the evaluation suite agree with bandgen.metrics.peaq."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bandgen.errors import ConfigError
from bandgen.eval.measures import REGIONS_KHZ, MeasureConfig, compute, parse_metrics
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


def test_region_groups_expand_and_mel_shares_add_up() -> None:
    names = parse_metrics("mel,lsd_regions,mel_regions")
    regions = [f"{lo}_{hi}k" for lo, hi in REGIONS_KHZ]
    assert names == ["mel", *(f"lsd_{r}" for r in regions), *(f"mel_{r}" for r in regions)]
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(48_000)
    test = ref + 0.3 * rng.standard_normal(48_000)
    got = compute(names, ref, test, 48_000, MeasureConfig())
    assert sum(got[f"mel_{r}"] for r in regions) == pytest.approx(got["mel"], rel=1e-9)
    assert got["lsd_20_24k"] > 0  # the top region includes Nyquist and is not empty


def test_unknown_metric_lists_the_groups() -> None:
    with pytest.raises(ConfigError, match="mel_regions"):
        parse_metrics("mel_bands")
