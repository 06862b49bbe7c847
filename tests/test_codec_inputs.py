"""Inputs at the edges: silence, a sample or two, many channels, wrong layouts, NaN, bad rates."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import bandgen
from bandgen.codec import Codec
from bandgen.errors import AudioInputError, ConfigError


def _noise(channels: int, samples: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, samples))).astype(
        np.float32
    )


@pytest.mark.parametrize("hf", ["none", "sbr"])
def test_silence_codes_to_few_bits_and_decodes_to_silence(hf: str) -> None:
    """Digital silence was refused ("is silent ... nothing to code")."""
    data = Codec.create(bitrate_kbps=16, hf=hf).encode(np.zeros((2, 48000), np.float32), 48000)
    assert len(data) < 2000  # 1 s of stereo, header included
    out = Codec.decode(data)
    assert out.shape == (2, 48000)
    assert np.abs(out).max() < 1e-6


@pytest.mark.parametrize("core", ["aac", "opus", "mp3"])
@pytest.mark.parametrize("samples", [1, 2])
def test_one_or_two_samples_round_trip(core: str, samples: int) -> None:
    """The encoder dropped the side info when the core made no packet; decode then failed."""
    wav = np.full((1, samples), 0.25, np.float32)
    out = Codec.decode(Codec.create(bitrate_kbps=16, hf="sbr", core=core).encode(wav, 48000))
    assert out.shape == (1, samples) and np.isfinite(out).all()


def test_nine_channels_round_trip() -> None:
    wav = _noise(9, 4800)
    out = Codec.decode(bandgen.load("none-16k").encode(wav, 48000))
    assert out.shape == (9, 4800)


def test_samples_first_array_is_refused_quickly() -> None:
    """``[T, C]`` at 48 kHz used to hang (4800 'channels'); at 44.1 kHz a raw soxr error."""
    codec = bandgen.load("none-16k")
    for rate in (48000, 44100):
        start = time.perf_counter()
        with pytest.raises(AudioInputError, match=r"wav\.T"):
            codec.encode(_noise(2, 4800).T, rate)
        assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("core", ["mp3", "opus"])
def test_non_finite_array_is_refused(core: str) -> None:
    """LAME aborted the process on NaN (SIGABRT); Opus coded it silently."""
    wav = _noise(1, 4800)
    wav[0, 100] = np.nan
    with pytest.raises(AudioInputError, match="non-finite"):
        bandgen.encode(wav, 48000, bitrate_kbps=16, core=core, hf="none")


def test_bad_sample_rate_is_refused() -> None:
    with pytest.raises(AudioInputError, match="sample rate 0 Hz"):
        bandgen.load("none-16k").encode(_noise(1, 100), 0)


@pytest.mark.parametrize(("core", "hf"), [("aac", "sbr"), ("opus", "none"), ("opus", "sbr")])
def test_bitrate_errors_state_the_valid_range(core: str, hf: str) -> None:
    """``--bitrate 8`` talked about a 5.85 kbps core and an "8 to 128" range; the ends work."""
    with pytest.raises(ConfigError, match="below the lowest rate") as err:
        Codec.create(bitrate_kbps=4, core=core, hf=hf)
    found = re.search(r"high band: ([\d.]+) kbps per channel", str(err.value))
    assert found is not None, err.value
    low = float(found[1])
    assert 4 < low < 16
    Codec.create(bitrate_kbps=low, core=core, hf=hf)
    with pytest.raises(ConfigError, match="below the lowest rate"):
        Codec.create(bitrate_kbps=low - 0.2, core=core, hf=hf)
    with pytest.raises(ConfigError, match="above the highest rate") as err:
        Codec.create(bitrate_kbps=1000, core=core, hf=hf)
    high = float(re.findall(r"([\d.]+) kbps per channel", str(err.value))[-1])
    assert high > 100
    Codec.create(bitrate_kbps=high, core=core, hf=hf)
    with pytest.raises(ConfigError, match="positive"):
        Codec.create(bitrate_kbps=float("nan"))


def test_unknown_option_is_named_without_internals() -> None:
    """Was: ``SbrCoder.__init__() got an unexpected keyword argument 'side_kbps'``."""
    with pytest.raises(ConfigError) as err:
        Codec.create(bitrate_kbps=16, hf="sbr", side_kbps=2.0)
    text = str(err.value)
    assert "no option 'side_kbps'" in text and "mode_kbps" in text
    assert "__init__" not in text and "keyword argument" not in text
