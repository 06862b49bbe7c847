"""Known answers of the signal metrics and the external perceptual metrics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.metrics import basic
from bandgen.metrics.signals import lowpass
from bandgen.metrics.spectral import mel_filterbank, stft_magnitude

SR = 48_000


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    """Two channels of 1 s seeded white noise, ``[2, 48000]``."""
    return np.random.default_rng(0).standard_normal((2, SR)).astype(np.float32) * 0.1


def _speechlike(sample_rate: int, seconds: float = 3.0) -> np.ndarray:
    """A harmonic tone with a syllable-rate envelope, ``[T]``: enough for PESQ/STOI to see speech."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2
    return (0.2 * voiced * envelope).astype(np.float32)


@pytest.mark.parametrize(
    "metric, expected",
    [
        (basic.lsd, 0.0),
        (basic.mel_distance, 0.0),
        (basic.mrstft_distance, 0.0),
        (basic.si_sdr, 100.0),
        (basic.snr, 100.0),
    ],
)
def test_identical_signals(metric, expected, noise):
    assert metric(noise, noise.copy(), SR) == pytest.approx(expected, abs=1e-9)


def test_identical_signals_uncapped_is_inf(noise):
    assert basic.si_sdr(noise, noise, SR, max_db=math.inf) == math.inf
    assert basic.snr(noise[0], noise[0], SR, max_db=math.inf) == math.inf


@pytest.mark.parametrize("target_db", [0.0, 10.0, 25.0])
def test_white_noise_at_known_snr(target_db):
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(4 * SR)
    err = rng.standard_normal(4 * SR)
    err *= np.sqrt(np.sum(ref**2) / np.sum(err**2) / 10 ** (target_db / 10))
    assert basic.snr(ref, ref + err, SR) == pytest.approx(target_db, abs=0.1)
    assert basic.si_sdr(ref, ref + err, SR) == pytest.approx(target_db, abs=0.1)


def test_si_sdr_ignores_gain_snr_does_not(noise):
    assert basic.si_sdr(noise, 0.5 * noise, SR) == pytest.approx(100.0)
    assert basic.snr(noise, 0.5 * noise, SR) == pytest.approx(20 * math.log10(2), abs=1e-6)


def test_lowpass_at_4k_splits_lsd(noise):
    coded = lowpass(noise.astype(np.float64), SR, 4000.0)
    above = basic.lsd(noise, coded, SR, min_hz=4000)
    below = basic.lsd(noise, coded, SR, max_hz=3500)
    assert above > 3.0  # decades of power: the band above 4 kHz is gone
    assert below < 0.05
    assert below < basic.lsd(noise, coded, SR) < above


def test_reference_lowpass_option_forgives_missing_band(noise):
    coded = lowpass(noise.astype(np.float64), SR, 8000.0)
    assert basic.lsd(noise, coded, SR, lowpass_hz=8000.0) < 0.05
    assert basic.mel_distance(noise, coded, SR, lowpass_hz=8000.0) < 0.05


def test_torch_and_mono_inputs(noise):
    ref, test = noise, noise + 0.01 * np.random.default_rng(2).standard_normal(noise.shape)
    expected = basic.lsd(ref, test, SR)
    assert basic.lsd(torch.from_numpy(ref), torch.from_numpy(test), SR) == pytest.approx(expected)
    per_channel = [basic.lsd(ref[c], test[c], SR) for c in range(2)]
    assert expected == pytest.approx(np.mean(per_channel))


@pytest.mark.parametrize(
    "metric", [basic.lsd, basic.mel_distance, basic.mrstft_distance, basic.si_sdr, basic.snr]
)
def test_mismatches_raise(metric, noise):
    with pytest.raises(ConfigError, match=r"48000 samples.*47999 samples"):
        metric(noise, noise[:, :-1], SR)
    with pytest.raises(ConfigError, match="channel counts differ"):
        metric(noise, noise[:1], SR)
    with pytest.raises(ConfigError, match="sample rates differ"):
        metric(noise, noise, SR, test_sample_rate=44_100)


def test_align_refuses_a_delayed_test(noise):
    pytest.importorskip("bandgen.core.align")
    delayed = np.roll(noise, 37, axis=1)
    assert basic.lsd(noise, noise, SR, align=True) == 0.0
    with pytest.raises(ConfigError, match=r"offset 37 samples .* behind"):
        basic.lsd(noise, delayed, SR, align=True)
    with pytest.raises(ConfigError, match="ahead of"):
        basic.si_sdr(delayed, noise, SR, align=True)


def test_mel_filterbank_is_slaney_area_normalised():
    fb = mel_filterbank(sample_rate=SR, n_fft=2048, n_mels=320)
    assert fb.shape == (320, 1025)
    assert (fb >= 0).all() and (fb.sum(axis=1) > 0).all()
    # each triangle has unit area in Hz; exact enough once it spans many bins
    area = fb.sum(axis=1) * SR / 2048
    np.testing.assert_allclose(area[-100:], 1.0, rtol=0.05)


@pytest.mark.parametrize("n_fft, hop, win", [(2048, 512, 2048), (512, 50, 240), (32, 8, 32)])
def test_stft_magnitude_matches_torch(n_fft, hop, win, noise):
    ours = stft_magnitude(noise.astype(np.float64), n_fft=n_fft, hop_length=hop, win_length=win)
    theirs = torch.stft(
        torch.from_numpy(noise).double(),
        n_fft,
        hop_length=hop,
        win_length=win,
        window=torch.hann_window(win, periodic=True, dtype=torch.float64),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-9)


def test_pesq_and_stoi_of_identical_speech_are_maximal():
    external = pytest.importorskip("bandgen.metrics.external")
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    speech = _speechlike(16_000)
    assert external.pesq_wb(speech, speech, 16_000) == pytest.approx(4.64, abs=0.01)
    assert external.stoi(speech, speech, 16_000) == pytest.approx(1.0, abs=1e-6)
    noisy = speech + 0.05 * np.random.default_rng(3).standard_normal(speech.shape)
    assert external.pesq_wb(speech, noisy, 16_000) < 4.0


def test_mel_distance_region_shares_count_the_bands_of_a_uniform_error(noise):
    # a 20 dB louder copy differs by log10(10) = 1 in every mel band above the clamp, so each
    # region's share is the number of bands peaking in it over n_mels, summed over the scales
    # (bands narrower than the scale's FFT bins hold no bin: 0 on both sides, no error)
    from bandgen.dsp.mel import mel_centres_hz

    loud = noise * 10.0  # every band of 10x noise stays above the 1e-5 clamp
    edges = [0.0, 4000.0, 12000.0, None]
    shares = [
        basic.mel_distance(loud * 10.0, loud, SR, min_hz=lo, max_hz=hi)
        for lo, hi in itertools.pairwise(edges)
    ]
    for (lo, hi), share in zip(itertools.pairwise(edges), shares, strict=True):
        expected = 0.0
        for n_fft, n_mels in basic.MEL_SCALES:
            centres = mel_centres_hz(sample_rate=SR, n_mels=n_mels)
            filled = mel_filterbank(sample_rate=SR, n_fft=n_fft, n_mels=n_mels).sum(1) > 0
            inside = (centres >= lo) & (centres < (hi or math.inf))
            expected += np.sum(inside & filled) / n_mels
        assert share == pytest.approx(expected, rel=1e-4)
    assert sum(shares) == pytest.approx(basic.mel_distance(loud * 10.0, loud, SR), rel=1e-9)


def test_region_metrics_locate_a_missing_band(noise):
    # white noise with 8-12 kHz removed: only the 8-12 kHz region sees it
    spec = np.fft.rfft(noise, axis=-1)
    freqs = np.fft.rfftfreq(noise.shape[-1], 1 / SR)
    spec[:, (freqs >= 8000) & (freqs < 12000)] = 0
    notched = np.fft.irfft(spec, noise.shape[-1], axis=-1)
    lsd = {
        lo: basic.lsd(noise, notched, SR, min_hz=lo, max_hz=lo + 4000)
        for lo in range(0, 24000, 4000)
    }
    assert lsd[8000] > 5.0
    assert max(v for lo, v in lsd.items() if lo != 8000) < 0.1
    mel = {
        lo: basic.mel_distance(noise, notched, SR, min_hz=lo, max_hz=lo + 4000)
        for lo in range(0, 24000, 4000)
    }
    assert mel[8000] > 0.9 * basic.mel_distance(noise, notched, SR)
    assert mel[0] < 0.01
