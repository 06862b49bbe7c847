"""The synthetic clips the suite runs on (``synth_clip``): seeded, shaped, never silent."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

Synth = Callable[..., np.ndarray]


@pytest.mark.parametrize("kind", ["music", "speech", "sound"])
@pytest.mark.parametrize(("sample_rate", "channels"), [(48_000, 2), (44_100, 1), (16_000, 2)])
def test_shape_level_and_seed(
    synth_clip: Synth, kind: str, sample_rate: int, channels: int
) -> None:
    wav = synth_clip(kind, seconds=1.0, sample_rate=sample_rate, channels=channels)
    assert wav.shape == (channels, sample_rate) and wav.dtype == np.float32
    assert np.max(np.abs(wav)) == pytest.approx(0.7, abs=1e-6)
    assert np.array_equal(
        wav, synth_clip(kind, seconds=1.0, sample_rate=sample_rate, channels=channels)
    )
    assert not np.array_equal(
        wav, synth_clip(kind, seconds=1.0, sample_rate=sample_rate, channels=channels, seed=1)
    )
    frames = wav[:, : sample_rate // 1024 * 1024].reshape(channels, -1, 1024)
    assert np.sqrt(np.mean(frames**2, axis=-1)).min() > 1e-5  # no digitally silent block


@pytest.mark.parametrize("kind", ["music", "speech", "sound"])
def test_content_above_the_core_band(synth_clip: Synth, kind: str) -> None:
    """The high band (what bandgen regenerates) holds at least 1 % of the energy up to 16 kHz."""
    wav = synth_clip(kind, seconds=2.0)
    power = np.abs(np.fft.rfft(wav, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(wav.shape[-1], 1 / 48_000)
    high = power[:, (freqs > 4000) & (freqs < 16000)].sum() / power.sum()
    assert 0.01 < high < 0.5


def test_channels_differ_and_unknown_kind_is_refused(synth_clip: Synth) -> None:
    left, right = synth_clip("music", seconds=1.0)
    assert not np.allclose(left, right)
    with pytest.raises(ValueError, match="kind"):
        synth_clip("noise", seconds=1.0)
