"""Pixel (1 - R^2) and SSIM losses of the MP3 restoration model (paper 002 §3.2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.losses.image import PixelLoss, SSIMLoss, gaussian_taps, magnitude, ssim


def test_pixel_loss_known_values(rng: np.random.Generator) -> None:
    loss = PixelLoss()
    y = torch.from_numpy(rng.standard_normal((2, 2, 5, 7)).astype(np.float32))
    assert loss(y, y).item() == 0.0
    # predicting the target's mean leaves the whole variance: 1 - R^2 = 1
    assert loss(torch.full_like(y, y.mean().item()), y).item() == pytest.approx(1.0, abs=1e-6)
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    pred = torch.tensor([1.0, 2.0, 3.0, 2.0])  # SSE 4, spread 5 (mean 2.5)
    assert loss(pred, target).item() == pytest.approx(4.0 / 5.0)
    with pytest.raises(ValueError):
        loss(pred, target[:3])


def test_gaussian_taps_are_normalised_and_symmetric() -> None:
    taps = gaussian_taps(3, 1.5).double()
    g = np.exp(-np.array([1.0, 0.0, 1.0]) / (2 * 1.5**2))
    assert torch.allclose(taps, torch.from_numpy(g / g.sum()), atol=1e-7)
    assert taps.sum().item() == pytest.approx(1.0)


def test_ssim_of_identical_images_is_one(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.random((3, 9, 11)).astype(np.float32))
    assert SSIMLoss()(x, x).item() == pytest.approx(0.0, abs=1e-6)


def test_ssim_of_constant_images_by_hand() -> None:
    # flat images have zero (co)variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1) everywhere
    a, b, c1 = 0.6, 0.2, 0.01**2
    x, y = torch.full((1, 4, 5), a), torch.full((1, 4, 5), b)
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert SSIMLoss()(x, y).item() == pytest.approx(1 - expected, rel=1e-5)


def test_ssim_single_window_by_hand() -> None:
    # a 3 x 3 image pair has exactly one valid window: the formula with weighted statistics
    x = np.array([[0.1, 0.5, 0.9], [0.3, 0.2, 0.8], [0.0, 0.4, 0.6]])
    y = np.array([[0.2, 0.4, 1.0], [0.1, 0.3, 0.7], [0.1, 0.5, 0.5]])
    taps = gaussian_taps(3, 1.5).double().numpy()
    w = np.outer(taps, taps)  # TF's 2-D window
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy = (w * x * x).sum() - mx**2, (w * y * y).sum() - my**2
    cxy = (w * x * y).sum() - mx * my
    c1, c2 = 0.01**2, 0.03**2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    got = ssim(torch.from_numpy(x)[None], torch.from_numpy(y)[None], gaussian_taps().double())
    assert got.shape == (1,)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_ssim_matches_a_2d_convolution(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.random((2, 7, 9)))
    y = torch.from_numpy(rng.random((2, 7, 9)))
    taps = gaussian_taps().double()
    kernel = torch.outer(taps, taps)[None, None]

    def mean(z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(z[:, None], kernel)[:, 0]

    mx, my = mean(x), mean(y)
    num = (2 * mx * my + 1e-4) * (2 * (mean(x * y) - mx * my) + 9e-4)
    den = (mx**2 + my**2 + 1e-4) * (mean(x * x) - mx**2 + mean(y * y) - my**2 + 9e-4)
    expected = (num / den).mean(dim=(1, 2))
    assert torch.allclose(ssim(x, y, taps), expected, atol=1e-12)


def test_ssim_loss_gradient_is_finite_at_zero_magnitude() -> None:
    image = torch.zeros(1, 2, 6, 8, requires_grad=True)
    target = torch.rand(1, 2, 6, 8)
    loss = SSIMLoss()(magnitude(image), magnitude(target))
    loss.backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
