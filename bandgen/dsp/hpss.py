"""Harmonic / percussive / residual separation by median filtering (HP-codec, paper ``004``).

Harmonic sounds are horizontal ridges of a magnitude spectrogram and percussive ones vertical
lines, so a median along time keeps the first and a median along frequency the second
(Fitzgerald 2010). With a separation margin (Driedger et al. 2014) a bin counts as harmonic
only where the time-median exceeds ``margin`` times the frequency-median (and vice versa); what
is neither is the *residual*. Soft masks ``X^p / (X^p + (margin Y)^p)`` give

``M_h + M_p + M_r = 1`` in every bin,

so the three components, obtained by masking the STFT and inverting it, sum to the input (up
to the STFT's own reconstruction error). The settings of the HP-codec code are the defaults:
``n_fft`` 2048, hop 512, median kernels of 31, margin 3, power 2 (``HYPERPARAMETERS.md`` §4).

Written in torch rather than taken from librosa (``librosa.decompose.hpss`` computes the same
masks): it is batched over items and channels, runs on the training device inside a data
pipeline, and adds no dependency (librosa brings numba and llvmlite).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["HPSSMasks", "HPSSResult", "hpss", "hpss_masks", "median_filter"]


@dataclass
class HPSSMasks:
    """Soft masks ``[..., F, N]`` that sum to one: harmonic, percussive, residual."""

    harmonic: Tensor
    percussive: Tensor
    residual: Tensor


@dataclass
class HPSSResult:
    """Waveforms ``[..., T]`` of the three components; their sum is the input."""

    harmonic: Tensor
    percussive: Tensor
    residual: Tensor


def median_filter(mag: Tensor, kernel: int, dim: int) -> Tensor:
    """Running median of ``mag`` along ``dim`` over ``kernel`` (odd) values, reflect-padded.

    Shape: any; the output has the input's shape.
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"median kernel must be a positive odd number, got {kernel}")
    if kernel == 1:
        return mag
    moved = mag.movedim(dim, -1)
    shape = moved.shape
    flat = moved.reshape(-1, 1, shape[-1])
    half = kernel // 2
    mode = "reflect" if shape[-1] > half else "replicate"
    padded = F.pad(flat, (half, half), mode=mode)
    out = padded.unfold(-1, kernel, 1).median(dim=-1).values
    return out.reshape(shape).movedim(-1, dim)


def _softmask(x: Tensor, ref: Tensor, power: float) -> Tensor:
    """``x^p / (x^p + ref^p)``, 0.5 where both are zero."""
    num, den = x.pow(power), x.pow(power) + ref.pow(power)
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(x.dtype).tiny), 0.5)


def hpss_masks(
    mag: Tensor,
    *,
    kernel: int | tuple[int, int] = 31,
    margin: float | tuple[float, float] = 3.0,
    power: float = 2.0,
) -> HPSSMasks:
    """Masks of a magnitude spectrogram ``mag [..., F, N]`` (frequency, then time).

    Args:
        mag: magnitudes (non-negative).
        kernel: median lengths (harmonic = along time, percussive = along frequency).
        margin: separation margins (harmonic, percussive), each >= 1; 1 leaves no residual.
        power: exponent of the soft masks.
    """
    k_h, k_p = (kernel, kernel) if isinstance(kernel, int) else kernel
    m_h, m_p = (margin, margin) if isinstance(margin, (int, float)) else margin
    if m_h < 1 or m_p < 1:
        raise ValueError(f"margins must be >= 1, got {(m_h, m_p)}")
    harm = median_filter(mag, k_h, dim=-1)
    perc = median_filter(mag, k_p, dim=-2)
    mask_h = _softmask(harm, perc * m_h, power)
    mask_p = _softmask(perc, harm * m_p, power)
    residual = (1.0 - mask_h - mask_p).clamp_min(0.0)
    if m_h == 1 and m_p == 1:
        residual = torch.zeros_like(mask_h)
        mask_p = 1.0 - mask_h
    return HPSSMasks(harmonic=mask_h, percussive=mask_p, residual=residual)


def hpss(
    wav: Tensor,
    *,
    n_fft: int = 2048,
    hop_length: int = 512,
    kernel: int | tuple[int, int] = 31,
    margin: float | tuple[float, float] = 3.0,
    power: float = 2.0,
) -> HPSSResult:
    """Split ``wav [..., T]`` into harmonic, percussive and residual waveforms ``[..., T]``.

    Batched over all leading dimensions (items, channels). The components sum to ``wav`` up to
    the STFT round trip (Hann window, ``center=True``; ~1e-6 relative).
    """
    lead, length = wav.shape[:-1], wav.shape[-1]
    flat = wav.reshape(-1, length)
    window = torch.hann_window(n_fft, dtype=wav.dtype, device=wav.device)
    spec = torch.stft(
        flat, n_fft, hop_length, window=window, center=True, return_complex=True
    )  # [M, F, N]
    masks = hpss_masks(spec.abs(), kernel=kernel, margin=margin, power=power)
    parts = []
    for mask in (masks.harmonic, masks.percussive, masks.residual):
        part = torch.istft(spec * mask, n_fft, hop_length, window=window, length=length)
        parts.append(part.reshape(*lead, length))
    return HPSSResult(harmonic=parts[0], percussive=parts[1], residual=parts[2])
