"""The one Slaney mel filterbank: shared by the loss and the metrics, unchanged for both."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.dsp import mel
from bandgen.errors import ConfigError
from bandgen.losses import mel as loss_mel
from bandgen.losses.mel import MultiScaleMelLoss
from bandgen.metrics import spectral


def _librosa_break_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """The loss's former filterbank: librosa's mel break ``1000 / (200 / 3)`` (one ulp below 15)."""
    f_sp, log_step = 200.0 / 3.0, np.log(6.4) / 27.0
    min_log_mel = 1000.0 / f_sp

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        log = min_log_mel + np.log(np.maximum(f, 1000.0) / 1000.0) / log_step
        return np.where(f >= 1000.0, log, f / f_sp)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        log = 1000.0 * np.exp(log_step * (np.maximum(m, min_log_mel) - min_log_mel))
        return np.where(m >= min_log_mel, log, m * f_sp)

    fft_hz = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    top = hz_to_mel(np.asarray(sample_rate / 2.0))
    corners = mel_to_hz(np.linspace(hz_to_mel(np.asarray(0.0)), top, n_mels + 2))
    ramps = corners[:, None] - fft_hz[None, :]
    widths = np.diff(corners)
    weights = np.maximum(
        0.0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None])
    )
    return weights * (2.0 / (corners[2:] - corners[:-2]))[:, None]


def test_loss_and_metrics_use_the_same_filterbank() -> None:
    assert loss_mel.mel_filterbank is spectral.mel_filterbank is mel.mel_filterbank
    assert loss_mel.hz_to_mel is mel.hz_to_mel and loss_mel.mel_to_hz is mel.mel_to_hz


def test_slaney_break_is_exactly_15_mel() -> None:
    assert mel.hz_to_mel(1000.0) == 15.0 and mel.mel_to_hz(15.0) == 1000.0
    freqs = np.array([0.0, 300.0, 999.0, 1000.0, 5000.0, 24000.0])
    np.testing.assert_allclose(mel.mel_to_hz(mel.hz_to_mel(freqs)), freqs, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("sample_rate", [44_100, 48_000])
def test_loss_buffers_are_unchanged(sample_rate: int) -> None:
    """The loss keeps float32 filterbanks: the ulp that moved the break does not reach them."""
    loss = MultiScaleMelLoss(sample_rate=sample_rate)
    for n_fft, n_mels in zip(loss.n_ffts, loss.n_mels, strict=True):
        old = torch.tensor(
            _librosa_break_filterbank(sample_rate, n_fft, n_mels), dtype=torch.float32
        )
        assert torch.equal(getattr(loss, f"melfb_{n_fft}"), old), n_fft


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="fmin"):
        mel.mel_filterbank(sample_rate=16_000, n_fft=512, n_mels=40, fmax=9000.0)
    with pytest.raises(ConfigError, match="n_mels"):
        mel.mel_filterbank(sample_rate=16_000, n_fft=512, n_mels=0)
