"""Psychoacoustically calibrated losses: priority weighting and noise modulation.

Zhen, Lee, Sung, Beack & Kim (IEEE SPL 27:2159, 2020) as reviewed in paper ``001`` §6.1
(eqs. 22-24); formulas as reconstructed in HP §5. Per STFT frame and bin ``f`` with input
magnitude ``x_f``, output magnitude ``x̂_f``, input log-PSD ``p_f`` and the input's masking
threshold ``m_f`` (:class:`bandgen.dsp.psychoacoustics.PsychoacousticModel`, MPEG-1 PAM-1):

- priority weighting: ``w_f = log10(10^(0.1 p_f) / 10^(0.1 m_f) + 1)``,
  ``L_PW = sum_f w_f (x_f - x̂_f)^2``;
- noise modulation: ``n_f = 10 log10 |X_f - X̂_f|^2``, ``L_NM = max_f relu(n_f - m_f)``.

Both are averaged over frames and batch items. The masks and weights come from the target ``y``
under ``no_grad`` (HP §5 [G]: masks are constants). Magnitudes ``x_f`` are divided by the window
sum, so a sine of amplitude ``A`` centred on a bin has ``x_f = A / 2`` whatever ``n_fft``;
``p_f``, ``m_f`` and ``n_f`` are in the model's dB SPL scale (full-scale sine = 96 dB).
A recipe selects them by name through :data:`PSYCHOACOUSTIC_LOSSES`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.audio import WORK_RATE
from bandgen.dsp.psychoacoustics import MaskingResult, PsychoacousticModel
from bandgen.errors import ConfigError

__all__ = ["PSYCHOACOUSTIC_LOSSES", "NoiseModulationLoss", "PriorityWeightingLoss"]

_LN10 = math.log(10.0)


def _mono(wav: Tensor) -> Tensor:
    if wav.dim() == 3:
        if wav.shape[1] != 1:
            raise ValueError(f"expected mono [B, 1, T], got {tuple(wav.shape)}")
        return wav[:, 0]
    if wav.dim() != 2:
        raise ValueError(f"expected wav [B, T] or [B, 1, T], got {tuple(wav.shape)}")
    return wav


class _MaskedSpectralLoss(nn.Module):
    """Shared parts: the psychoacoustic model, input checks and the frame reduction."""

    def __init__(
        self,
        *,
        sample_rate: int = WORK_RATE,
        n_fft: int = 512,
        hop_length: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ConfigError(f"unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")
        self.model = PsychoacousticModel(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length
        )
        self.reduction = reduction
        self.window_sum = n_fft / 2.0  # sum of the periodic Hann window

    def _analyse(self, y_hat: Tensor, y: Tensor) -> tuple[Tensor, MaskingResult]:
        """Spectrum of ``y_hat`` and the masking analysis of ``y`` (no gradient)."""
        if y_hat.shape != y.shape:
            raise ValueError(f"shapes differ: y_hat {tuple(y_hat.shape)}, y {tuple(y.shape)}")
        y_hat, y = _mono(y_hat), _mono(y)
        with torch.no_grad():
            target = self.model(y)
        return self.model.stft(y_hat), target

    def _reduce(self, per_frame: Tensor) -> Tensor:
        """``per_frame [B, N]`` -> scalar (mean/sum) or ``[B]`` (per-item mean over frames)."""
        if self.reduction == "mean":
            return per_frame.mean()
        if self.reduction == "sum":
            return per_frame.sum()
        return per_frame.mean(dim=1)


class PriorityWeightingLoss(_MaskedSpectralLoss):
    """Priority-weighting loss ``sum_f w_f (x_f - x̂_f)^2`` (paper ``001`` eqs. 22-23; HP §5).

    ``w_f = log10(10^(0.1 (p_f - m_f)) + 1)`` is computed (as a softplus) from the target: near 0
    where the target is far below its own mask, about ``0.1 (p_f - m_f)`` where it is far above.

    Args:
        sample_rate: sample rate in Hz.
        n_fft: frame / FFT size of the analysis (HP §5 [G]: 512).
        hop_length: frame hop (default ``n_fft // 2``).
        reduction: ``"mean"`` over frames and items, ``"sum"``, or ``"none"`` (``[B]``).

    Shape:
        - y_hat, y: ``[B, 1, T]`` or ``[B, T]``.
        - output: scalar, or ``[B]`` with ``reduction="none"``.
    """

    @staticmethod
    def weights(masking: MaskingResult) -> Tensor:
        """Perceptual weights ``w_f [B, F, N]`` of eq. 23 from a target's masking analysis."""
        return F.softplus((masking.psd_db - masking.threshold_db) * (_LN10 / 10.0)) / _LN10

    def forward(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Weighted squared magnitude error, summed over bins, reduced over frames."""
        spec_hat, target = self._analyse(y_hat, y)
        weights = self.weights(target)
        mag_hat = spec_hat.abs() / self.window_sum
        mag = target.spec.abs() / self.window_sum
        per_frame = (weights * (mag - mag_hat).square()).sum(dim=1)  # [B, N]
        return self._reduce(per_frame)


class NoiseModulationLoss(_MaskedSpectralLoss):
    """Noise-modulation loss ``max_f relu(n_f - m_f)`` per frame (paper ``001`` eq. 24; HP §5).

    ``n_f`` is the level (dB SPL) of the complex error spectrum ``X_f - X̂_f``; only the bin with
    the worst noise-to-mask ratio of each frame contributes, and only when the noise is above
    the target's mask.

    Args:
        sample_rate: sample rate in Hz.
        n_fft: frame / FFT size of the analysis (HP §5 [G]: 512).
        hop_length: frame hop (default ``n_fft // 2``).
        reduction: ``"mean"`` over frames and items, ``"sum"``, or ``"none"`` (``[B]``).

    Shape:
        - y_hat, y: ``[B, 1, T]`` or ``[B, T]``.
        - output: scalar in dB, or ``[B]`` with ``reduction="none"``.
    """

    def forward(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Worst-bin audible noise-to-mask ratio per frame, reduced over frames."""
        spec_hat, target = self._analyse(y_hat, y)
        noise_db = self.model.psd_db(target.spec - spec_hat)
        per_frame = F.relu(noise_db - target.threshold_db).amax(dim=1)  # [B, N]
        return self._reduce(per_frame)


PSYCHOACOUSTIC_LOSSES: dict[str, type[_MaskedSpectralLoss]] = {
    "psy_priority": PriorityWeightingLoss,
    "psy_noise_mod": NoiseModulationLoss,
}
"""Recipe names of the psychoacoustic losses (the keys of :class:`bandgen.losses.LossWeights`)."""
