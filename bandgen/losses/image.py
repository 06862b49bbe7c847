"""Image losses on spectrograms: variance-scaled pixel loss and SSIM (paper ``002`` §3.2).

The MP3 restoration model is trained with ``PixelLoss + 0.5 * SSIMLoss`` (eq. 3):

- :class:`PixelLoss` (eq. 1): the sum of squared errors over the stacked re/im tensor,
  divided by the sum of squared deviations of the target from its mean, i.e. ``1 - R^2``.
  As the reference (HP §3), one ratio over the whole batch tensor.
- :class:`SSIMLoss` (eq. 2): ``1 - mean SSIM`` of the magnitude spectrograms seen as
  one-channel images, with ``tf.image.ssim``'s definition and the reference's settings:
  3 x 3 Gaussian window of sigma 1.5, ``k1 = 0.01``, ``k2 = 0.03``, ``max_val = 1``, "valid"
  filtering (no padding), biased local (co)variances.

Both are importable alone and take ``(prediction, target)`` like torch losses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["PixelLoss", "SSIMLoss", "gaussian_taps", "magnitude", "ssim"]

MAGNITUDE_EPS = 1e-12
"""Added under the square root of :func:`magnitude` (finite gradient at exactly zero)."""


def magnitude(image: Tensor, *, eps: float = MAGNITUDE_EPS) -> Tensor:
    """``sqrt(re^2 + im^2 + eps)`` of a stacked image ``[B, 2, N, F] -> [B, N, F]``."""
    return (image.square().sum(dim=1) + eps).sqrt()


class PixelLoss(nn.Module):
    """Variance-scaled squared error ``sum (y - y_hat)^2 / sum (y - mean(y))^2`` (paper ``002``
    eq. 1; ``1 - R^2``).

    The sums and the mean run over every element of the batch tensor (HP §3: one ratio per
    batch, not per item). 0 when ``y_hat == y``; 1 when ``y_hat`` is the target's mean.

    Args:
        eps: added to the denominator so that a constant target does not divide by zero.

    Shape:
        ``prediction``, ``target``: any shape, equal -> scalar.
    """

    def __init__(self, *, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """The loss as a 0-dim tensor."""
        if prediction.shape != target.shape:
            raise ValueError(
                f"PixelLoss needs equal shapes, got {tuple(prediction.shape)} and "
                f"{tuple(target.shape)}"
            )
        error = (target - prediction).square().sum()
        spread = (target - target.mean()).square().sum()
        return error / (spread + self.eps)


def gaussian_taps(size: int = 3, sigma: float = 1.5) -> Tensor:
    """Normalised 1-D Gaussian ``[size]``; TF's SSIM window is its outer product with itself."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def _local_mean(z: Tensor, taps: Tensor) -> Tensor:
    """Valid filtering of ``z [..., H, W]`` with the separable window ``outer(taps, taps)``.

    Shifted slices rather than ``conv2d``: a one-channel 3 x 3 convolution is slow on CPU
    (its backward pass dominated a training step), while these are a few elementwise ops.
    """
    k = taps.numel()
    height, width = z.shape[-2] - k + 1, z.shape[-1] - k + 1
    rows = sum(taps[i] * z[..., i : i + height, :] for i in range(k))
    assert isinstance(rows, Tensor)
    cols = sum(taps[j] * rows[..., j : j + width] for j in range(k))
    assert isinstance(cols, Tensor)
    return cols


def ssim(
    x: Tensor,
    y: Tensor,
    taps: Tensor,
    *,
    max_val: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity per image (Wang et al. 2004), as ``tf.image.ssim`` computes it.

    With ``w = outer(taps, taps)`` the window, local statistics are ``mu_x = w * x``,
    ``sigma_x^2 = w * x^2 - mu_x^2``, ``sigma_xy = w * (x y) - mu_x mu_y`` (valid filtering),
    and ``SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
    sigma_y^2 + C2))`` with ``C1 = (k1 max_val)^2``, ``C2 = (k2 max_val)^2``, averaged over
    positions.

    Args:
        x, y: images ``[B, H, W]`` with ``H, W >= len(taps)``.
        taps: ``[k]`` weights summing to 1 (:func:`gaussian_taps`).
        max_val: dynamic range ``L`` of the pixel values.
        k1, k2: stabilising constants.

    Returns:
        ``[B]``: mean SSIM of each image.
    """
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    taps = taps.to(x.dtype)
    # one filtering pass over the four statistics
    stats = _local_mean(torch.stack([x, y, x * y, x.square() + y.square()]), taps)
    mu_x, mu_y, mean_xy, mean_sq = stats.unbind(0)
    mu_xy = mu_x * mu_y
    mu_sq = mu_x.square() + mu_y.square()
    luminance = (2 * mu_xy + c1) / (mu_sq + c1)
    contrast_structure = (2 * (mean_xy - mu_xy) + c2) / (mean_sq - mu_sq + c2)
    return (luminance * contrast_structure).mean(dim=(-2, -1))


class SSIMLoss(nn.Module):
    """``1 - mean SSIM`` of magnitude spectrograms (paper ``002`` eq. 2, §3.2; HP §3).

    Args:
        window_size: side of the Gaussian window (3, the paper's choice against
            checkerboard patterns).
        sigma: its standard deviation (1.5).
        max_val: pixel range ``L`` (1).
        k1, k2: constants of ``C1 = (k1 L)^2`` and ``C2 = (k2 L)^2`` (0.01, 0.03).

    Shape:
        ``prediction``, ``target``: magnitudes ``[B, H, W]`` (e.g. ``[B, F, N]``; the window
        is symmetric, so the orientation does not matter) -> scalar, the mean over the batch.
    """

    taps: Tensor

    def __init__(
        self,
        *,
        window_size: int = 3,
        sigma: float = 1.5,
        max_val: float = 1.0,
        k1: float = 0.01,
        k2: float = 0.03,
    ) -> None:
        super().__init__()
        self.register_buffer("taps", gaussian_taps(window_size, sigma), persistent=False)
        self.max_val = max_val
        self.k1 = k1
        self.k2 = k2

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """The loss as a 0-dim tensor."""
        if prediction.shape != target.shape or prediction.dim() != 3:
            raise ValueError(
                f"SSIMLoss needs equal [B, H, W] shapes, got {tuple(prediction.shape)} and "
                f"{tuple(target.shape)}"
            )
        value = ssim(prediction, target, self.taps, max_val=self.max_val, k1=self.k1, k2=self.k2)
        return 1.0 - value.mean()
