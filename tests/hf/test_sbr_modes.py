"""The SBR modes: full band, at least HE-AAC v1's bandwidth, and the core they expect."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.signal import welch

from bandgen.codec import Codec
from bandgen.hf.sbr import SbrCoder

# HE-AAC v1 (fdkaac) on the dev set: about 12.1, 13.8 and 16.2 kHz at 12, 16 and 24 kbps
HE_AAC_BANDWIDTH_HZ = {12: 12000, 16: 13800, 24: 16200, 32: 20000}


@pytest.mark.parametrize("kbps", [12, 16, 24, 32])
def test_every_mode_reaches_he_aac_bandwidth(kbps: int) -> None:
    """The SBR ranges stopped at 10.9/12.0/13.9/15.8 kHz."""
    assert SbrCoder.for_bitrate(kbps).stop_hz >= HE_AAC_BANDWIDTH_HZ[kbps]


@pytest.mark.parametrize("kbps", [12, 16, 24])
def test_opus_core_is_held_below_the_sbr_range(kbps: int) -> None:
    """Opus chose super-wideband or full band at 13-24 kbps, then SBR replaced what it coded."""
    codec = Codec.create(bitrate_kbps=kbps, core="opus", hf="sbr")
    assert codec.core.cutoff_hz == (8000 if kbps < 24 else 12000)
    assert codec.hf.crossover_hz <= codec.core.cutoff_hz < codec.hf.crossover_hz + 375  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kbps", "cutoff_hz"), [(12, 4000), (16, 4000), (24, 4500), (32, 12000)])
def test_aac_core_and_sbr_meet_where_the_split_rows_put_them(kbps: int, cutoff_hz: int) -> None:
    """At 24 kbps the AAC core coded 0-8 kHz and SBR started there (mel 0.933 vs 0.836)."""
    codec = Codec.create(bitrate_kbps=kbps, core="aac", hf="sbr")
    assert codec.core.cutoff_hz == cutoff_hz
    assert codec.hf.crossover_hz <= codec.core.cutoff_hz < codec.hf.crossover_hz + 375  # type: ignore[attr-defined]


@pytest.mark.parametrize("kbps", [12, 16, 24])
def test_side_info_budget_of_an_opus_core_range_is_what_is_sent(kbps: int) -> None:
    """The core gets what the budget leaves: an estimate 24-59 % high left bits unspent."""
    rng = np.random.default_rng(1)
    t = np.arange(4 * 48000) / 48000
    harmonics = sum(0.1 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 30))
    noise = 0.05 * rng.standard_normal(t.size) * (1 + np.sin(2 * np.pi * 2 * t))
    wav = (harmonics + noise).astype(np.float32)[None]
    codec = Codec.create(bitrate_kbps=kbps, core="opus", hf="sbr")
    stats = codec.encode_stream([wav], 48000, io.BytesIO())
    sent = stats.side_bytes * 8 / stats.duration_s
    assert abs(codec.hf.bitrate - sent) < 0.2 * sent


def test_decoded_band_reaches_15_khz_at_16_kbps() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(3 * 48000) / 48000
    wav = (0.1 * rng.standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    out = Codec.decode(Codec.create(bitrate_kbps=16, core="aac", hf="sbr").encode(wav, 48000))[0]
    freqs, ref = welch(wav, 48000, nperseg=2048)
    _, got = welch(out, 48000, nperseg=2048)
    band = (freqs > 12500) & (freqs < 15500)
    assert 0.25 < got[band].sum() / ref[band].sum() < 4.0  # regenerated at about its level
    above = (freqs > 16500) & (freqs < 20000)
    assert got[above].sum() < 0.01 * ref[above].sum()
