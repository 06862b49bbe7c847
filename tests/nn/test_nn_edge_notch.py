"""Band-edge notch: exact zeros at DC and Nyquist, flat elsewhere, causal, sign-invariant."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.nn.edge_notch import BandEdgeNotch


def _gain_db(notch: BandEdgeNotch, freq: float, rate: float = 1500.0) -> float:
    t = np.arange(8000)
    x = torch.tensor(np.cos(2 * np.pi * freq / rate * t + 0.3), dtype=torch.float32)
    y = notch(x.view(1, 1, -1))[0, 0, 1000:].numpy()
    return float(20 * np.log10(np.std(y) / np.std(x[1000:].numpy()) + 1e-12))


def test_edges_are_removed_and_the_band_is_kept() -> None:
    notch = BandEdgeNotch(64)
    x = torch.full((1, 2, 500), 0.7)
    x[0, 1, 1::2] = -0.7  # a period-2 pattern (the band's other edge)
    y = notch(x)
    assert y[..., 64:].abs().max() < 1e-6  # once the average is full, nothing is left
    assert _gain_db(notch, 5.0) < -3.0 and _gain_db(notch, 745.0) < -3.0
    for freq in (50.0, 100.0, 375.0, 600.0, 700.0):
        assert abs(_gain_db(notch, freq)) < 0.2
    assert max(_gain_db(notch, f) for f in (10.0, 20.0, 30.0)) < 4.0


def test_causal_and_independent_of_the_sign_of_the_start() -> None:
    torch.manual_seed(0)
    notch = BandEdgeNotch(16)
    x = torch.randn(2, 3, 200)
    y = notch(x)
    x2 = x.clone()
    x2[..., 120:] += 1.0
    torch.testing.assert_close(notch(x2)[..., :120], y[..., :120])
    # a window starting one sample later gives the same output once its average is full
    torch.testing.assert_close(notch(x[..., 1:])[..., 15:], y[..., 16:], atol=1e-5, rtol=1e-5)


def test_rejects_a_too_short_average() -> None:
    with pytest.raises(ValueError, match="length >= 2"):
        BandEdgeNotch(1)
