"""STFT / inverse STFT round trips and the n-SBG log-power spectrogram."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from bandgen.dsp.stft import (
    SBG_DB_MEAN,
    SBG_DB_STD,
    STFT,
    fft_input,
    power_to_db,
    sbg_bins,
    sbg_log_power,
)
from bandgen.errors import ConfigError

# (n_fft, hop_length, win_length): every one satisfies the nonzero-overlap-add condition.
FRAMINGS = [(64, 16, None), (64, 32, None), (64, 16, 48), (256, 64, None), (256, 32, 128)]
GRID = list(itertools.product(FRAMINGS, [True, False], [1000, 1024, 1031]))


@pytest.mark.parametrize(("framing", "center", "length"), GRID)
def test_round_trip_grid(framing: tuple[int, int, int | None], center: bool, length: int) -> None:
    n_fft, hop, win = framing
    stft = STFT(n_fft=n_fft, hop_length=hop, win_length=win, center=center)
    wav = torch.randn(
        2, 3, length, generator=torch.Generator().manual_seed(length), dtype=torch.float64
    )
    spec = stft(wav)
    frames = 1 + length // hop if center else 1 + (length - n_fft) // hop
    assert spec.shape == (2, 3, n_fft // 2 + 1, frames) and spec.is_complex()
    out = stft.inverse(spec, length)
    assert out.shape == wav.shape
    if center:
        torch.testing.assert_close(out, wav)
    else:
        # Without centring only the span under full window overlap is recoverable.
        covered = n_fft + hop * (frames - 1)
        torch.testing.assert_close(
            out[..., n_fft : covered - n_fft], wav[..., n_fft : covered - n_fft]
        )
        assert out[..., covered:].eq(0).all()


def test_forward_matches_numpy_frames() -> None:
    stft = STFT(n_fft=128, hop_length=32, center=False)
    wav = np.random.default_rng(0).standard_normal(1000)
    spec = stft(torch.from_numpy(wav)[None])[0].numpy()
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(128) / 128)  # periodic Hann
    for n in (0, 5, spec.shape[-1] - 1):
        expected = np.fft.rfft(wav[n * 32 : n * 32 + 128] * window)
        np.testing.assert_allclose(spec[:, n], expected, atol=1e-10)


def test_normalized_round_trip_and_gradients() -> None:
    stft = STFT(n_fft=128, hop_length=32, normalized=True)
    wav = torch.randn(2, 500, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = stft.inverse(stft(wav), 500)
    torch.testing.assert_close(out, wav.detach(), atol=1e-5, rtol=0)
    out.square().sum().backward()
    assert wav.grad is not None and torch.isfinite(wav.grad).all()
    torch.testing.assert_close(wav.grad, 2 * wav.detach(), atol=1e-4, rtol=0)


def test_non_overlapping_sbg_framing_inverts_where_window_is_nonzero() -> None:
    stft = STFT(n_fft=2048, hop_length=2048, center=False)
    wav = torch.randn(1, 4 * 2048, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = stft.inverse(stft(wav), wav.shape[-1])
    # Samples whose squared periodic-Hann weight is under 1e-11 (0, 1 and 2047 of each frame) are
    # unrecoverable and come back as 0; all others are exact.
    position = torch.arange(wav.shape[-1]) % 2048
    lost = (position == 0) | (position == 1) | (position == 2047)
    torch.testing.assert_close(out[..., ~lost], wav[..., ~lost])
    assert out[..., lost].eq(0).all()


def test_batch_items_are_independent() -> None:
    stft = STFT(n_fft=256, hop_length=64)
    wav = torch.randn(3, 2000, generator=torch.Generator().manual_seed(2))
    spec = stft(wav)
    torch.testing.assert_close(spec[1:2], stft(wav[1:2]))


def test_sbg_log_power_shape_scale_and_normalisation() -> None:
    length = 48_000  # 1 s -> ceil(48000 / 2048) = 24 frames after zero padding
    bin_index = 200  # 4687.5 Hz, exactly on a bin
    t = torch.arange(length, dtype=torch.float64) / 48_000
    wav = torch.sin(2 * math.pi * bin_index * 48_000 / 2048 * t)[None, None]
    db = sbg_log_power(wav, normalize=False)
    assert db.shape == (1, 1025, 24)
    # A unit sinusoid on a bin through a periodic Hann of length N peaks at |X| = N / 4.
    expected_db = 20 * math.log10(2048 / 4)
    assert abs(float(db[0, bin_index, 5]) - expected_db) < 1e-6
    assert int(db[0, :, 5].argmax()) == bin_index
    normalised = sbg_log_power(wav)
    torch.testing.assert_close(normalised, (db - SBG_DB_MEAN) / (2 * SBG_DB_STD))
    assert float(power_to_db(torch.zeros(1))) == pytest.approx(-100.0)


def test_sbg_bins_follow_pqmf_bands() -> None:
    bins = sbg_bins(5, 14)
    assert (bins.start, bins.stop) == (161, 481)
    assert len(range(1025)[bins]) == 320
    assert len(range(1025)[sbg_bins(5, 15)]) == 352
    with pytest.raises(ConfigError):
        sbg_bins(6, 5)


def test_bad_config_and_shapes() -> None:
    with pytest.raises(ConfigError):
        STFT(n_fft=64, win_length=128)
    with pytest.raises(ConfigError):
        STFT(n_fft=64, window="hamming")
    with pytest.raises(ValueError):
        STFT(n_fft=64)(torch.zeros(100))
    with pytest.raises(ValueError):
        STFT(n_fft=64).inverse(torch.zeros(1, 10, 5, dtype=torch.complex64), 100)


def test_fft_input_lifts_half_precision_only() -> None:
    for dtype, want in (
        (torch.bfloat16, torch.float32),
        (torch.float16, torch.float32),
        (torch.float32, torch.float32),
        (torch.float64, torch.float64),
    ):
        assert fft_input(torch.ones(4, dtype=dtype)).dtype == want
