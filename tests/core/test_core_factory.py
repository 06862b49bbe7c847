"""make_core / core_from_params: mode choice and configuration errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bandgen.core import CORE_NAMES, core_from_params, find_lag, make_core
from bandgen.errors import ConfigError


def test_core_names() -> None:
    assert CORE_NAMES == ("aac", "opus", "mp3")


@pytest.mark.parametrize("name", CORE_NAMES)
@pytest.mark.parametrize("kbps", [8, 9.4, 12, 13, 16, 24, 32])
def test_every_target_builds_a_valid_codec(name: str, kbps: float) -> None:
    core = make_core(name, kbps)
    assert core.bitrate == round(kbps * 1000)
    assert 0 < core.cutoff_hz <= core.sample_rate / 2
    assert core_from_params(core.params).params == core.params


def test_aac_low_modes_cover_the_nsbg_crossover() -> None:
    # n-SBG regenerates from PQMF band 5 (3.75 kHz) up; the core must reach it.
    for kbps in (9.4, 13.0):
        assert make_core("aac", kbps).cutoff_hz >= 3750


def test_aac_under_a_regenerated_high_band_uses_its_split_rows() -> None:
    # At 24 kbps the AAC core alone codes 0-8 kHz at 24 kHz; under a high band that
    # regenerates from where it stops, it codes 0-4.5 kHz at 16 kHz (AAC_SPLIT_MODES).
    alone = make_core("aac", 21.0)
    split = make_core("aac", 21.0, max_cutoff_hz=12000.0)
    assert (alone.sample_rate, alone.cutoff_hz) == (24000, 8000)
    assert (split.sample_rate, split.cutoff_hz) == (16000, 4500)
    # where the split rows equal the plain ones, nothing changes
    assert make_core("aac", 10.0, max_cutoff_hz=8000.0).params == make_core("aac", 10.0).params
    # a core without split rows only has its cut-off held
    opus = make_core("opus", 21.0, exact_rate=True, max_cutoff_hz=12000.0)
    assert opus.cutoff_hz == 12000


def test_unknown_codec_name() -> None:
    with pytest.raises(ConfigError, match="unknown core codec 'vorbis'"):
        make_core("vorbis", 12)


@pytest.mark.parametrize(
    ("name", "kbps"), [("aac", 2.0), ("opus", 1.0), ("mp3", 4.0), ("aac", 1e4)]
)
def test_unreachable_bitrate(name: str, kbps: float) -> None:
    with pytest.raises(ConfigError, match="cannot reach"):
        make_core(name, kbps)


def test_nan_bitrate() -> None:
    with pytest.raises(ConfigError):
        make_core("aac", float("nan"))


def test_unsupported_sample_rate() -> None:
    with pytest.raises(ConfigError, match="sample rate"):
        make_core("opus", 12, sample_rate=16000)
    with pytest.raises(ConfigError, match="sample rate"):
        make_core("aac", 12, sample_rate=7000)


def test_forced_sample_rate_clips_cutoff() -> None:
    core = make_core("aac", 24, sample_rate=12000)
    assert core.sample_rate == 12000 and core.cutoff_hz == 6000


def test_bad_params() -> None:
    params = make_core("aac", 12).params
    with pytest.raises(ConfigError, match="unknown core codec"):
        core_from_params(dataclasses.replace(params, name="flac"))
    with pytest.raises(ConfigError, match="cutoff"):
        core_from_params(dataclasses.replace(params, cutoff_hz=9000.0))
    with pytest.raises(ConfigError, match="opus cutoff"):
        core_from_params(dataclasses.replace(make_core("opus", 12).params, cutoff_hz=7000.0))


def test_encoder_rejects_multichannel_blocks() -> None:
    enc = make_core("mp3", 16).new_encoder()
    with pytest.raises(ConfigError, match="mono"):
        enc.push(np.zeros((2, 100), np.float32))


@pytest.mark.parametrize("shift", [-7, 0, 5, 300])
def test_find_lag(rng: np.random.Generator, shift: int) -> None:
    reference = rng.standard_normal(4000)
    test = np.roll(reference, shift)
    assert find_lag(reference, test, max_lag=400) == shift


def test_find_lag_respects_max_lag(rng: np.random.Generator) -> None:
    reference = rng.standard_normal(2000)
    assert abs(find_lag(reference, np.roll(reference, 50), max_lag=10)) <= 10
