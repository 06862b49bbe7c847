"""Multi-scale mel loss (n-SBG eq. 2, HP §1.5) and its Slaney mel filterbank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.losses.mel import MultiScaleMelLoss, hz_to_mel, mel_filterbank, mel_to_hz


def _lowpass(wav: torch.Tensor, cutoff_hz: float, sample_rate: int = 48000) -> torch.Tensor:
    spec = torch.fft.rfft(wav, dim=-1)
    freqs = torch.fft.rfftfreq(wav.shape[-1], 1.0 / sample_rate)
    return torch.fft.irfft(spec * (freqs <= cutoff_hz), n=wav.shape[-1], dim=-1)


def test_slaney_mel_scale() -> None:
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(440.0) == pytest.approx(6.6)
    assert hz_to_mel(2000.0) == pytest.approx(15.0 + 27.0 * math.log(2.0) / math.log(6.4))
    freqs = np.array([0.0, 300.0, 1000.0, 5000.0, 24000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(freqs)), freqs, rtol=1e-12, atol=1e-9)


def test_filterbank_shape_and_slaney_area() -> None:
    fb = mel_filterbank(sample_rate=48000, n_fft=2048, n_mels=80)
    assert fb.shape == (80, 1025) and (fb >= 0).all() and not fb.flags.writeable
    area = fb.sum(axis=1) * 48000 / 2048  # each triangle integrates to ~1 (norm="slaney")
    np.testing.assert_allclose(area[20:], 1.0, rtol=0.02)
    assert mel_filterbank(sample_rate=48000, n_fft=2048, n_mels=80) is fb  # cached


def test_identical_inputs_give_zero() -> None:
    loss_fn = MultiScaleMelLoss()
    wav = torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(0))
    assert loss_fn(wav, wav).item() == 0.0
    assert not any(name.startswith(("melfb", "window")) for name in loss_fn.state_dict())


def test_increases_with_lowpass_severity() -> None:
    loss_fn = MultiScaleMelLoss()
    wav = 0.3 * torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(1))
    losses = [loss_fn(_lowpass(wav, cutoff), wav).item() for cutoff in (16000, 8000, 2000)]
    assert 0.0 < losses[0] < losses[1] < losses[2]


def test_gradient_and_reductions() -> None:
    gen = torch.Generator().manual_seed(2)
    y = torch.randn(3, 1, 4096, generator=gen)
    y_hat = (y + 0.1 * torch.randn(3, 1, 4096, generator=gen)).requires_grad_()
    loss = MultiScaleMelLoss()(y_hat, y)
    loss.backward()
    assert y_hat.grad is not None and torch.isfinite(y_hat.grad).all()
    per_item = MultiScaleMelLoss(reduction="none")(y_hat.detach(), y)
    assert per_item.shape == (3,)
    assert per_item.mean().item() == pytest.approx(loss.item(), rel=1e-5)
    assert MultiScaleMelLoss(n_ffts=(64,), n_mels=(10,))(y_hat.detach()[:, 0], y[:, 0]) > 0


def test_rejects_bad_config() -> None:
    with pytest.raises(ConfigError):
        MultiScaleMelLoss(n_ffts=(32, 64), n_mels=(5,))
    with pytest.raises(ConfigError):
        MultiScaleMelLoss(reduction="max")
