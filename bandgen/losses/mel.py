"""Multi-scale mel reconstruction loss (n-SBG paper ``000`` §3.3, eq. 2; HP §1.5 and §6).

The loss is the DAC one: at seven resolutions (window = ``n_fft`` = 32 ... 2048, hop ``n_fft / 4``,
5 ... 320 Slaney mel bins, periodic Hann, ``center=True``) the L1 distance between
``log10(clamp(mel, 1e-5))`` of the output and the target, averaged per scale and **summed** over
scales. The mel filterbanks are :func:`bandgen.dsp.mel.mel_filterbank` (Slaney scale, Slaney area
normalisation, as ``librosa.filters.mel(htk=False, norm="slaney")``), the ones the metrics use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bandgen.audio import WORK_RATE
from bandgen.dsp.mel import hz_to_mel, mel_filterbank, mel_to_hz
from bandgen.dsp.stft import fft_input
from bandgen.errors import ConfigError

__all__ = ["MultiScaleMelLoss", "hz_to_mel", "mel_filterbank", "mel_to_hz"]


class MultiScaleMelLoss(nn.Module):
    """Sum over scales of the mean L1 distance of log10 mel spectrograms (paper ``000`` eq. 2).

    Implements the n-SBG / DAC multi-scale mel loss (HP §1.5, §6): for each scale ``i`` the
    magnitude STFT (periodic Hann of length ``n_ffts[i]``, hop ``n_ffts[i] // hop_divisor``,
    ``center=True`` with reflect padding as ``torch.stft``), a Slaney mel projection to
    ``n_mels[i]`` bins, ``log10(clamp(mel ** 1, clamp))``, and the mean absolute difference.

    Args:
        sample_rate: sample rate of the inputs in Hz.
        n_ffts: window length = FFT size of every scale.
        n_mels: mel bins of every scale (same length as ``n_ffts``).
        hop_divisor: hop = ``n_fft // hop_divisor``.
        fmin: lowest mel corner in Hz.
        fmax: highest mel corner in Hz (default Nyquist).
        clamp: floor applied to the mel energies before ``log10``.
        power: exponent of the magnitude spectrogram (1 = magnitude, 2 = power).
        reduction: ``"mean"`` (per-scale mean, summed over scales; the paper's loss), ``"sum"``
            or ``"none"`` (per-item ``[B]`` losses, each summed over scales).

    Shape:
        - y_hat: ``[B, 1, T]`` or ``[B, T]``; ``T > max(n_ffts) // 2`` (reflect padding).
        - y: same as ``y_hat``.
        - output: scalar, or ``[B]`` with ``reduction="none"``.
    """

    def __init__(
        self,
        *,
        sample_rate: int = WORK_RATE,
        n_ffts: Sequence[int] = (32, 64, 128, 256, 512, 1024, 2048),
        n_mels: Sequence[int] = (5, 10, 20, 40, 80, 160, 320),
        hop_divisor: int = 4,
        fmin: float = 0.0,
        fmax: float | None = None,
        clamp: float = 1e-5,
        power: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if len(n_ffts) != len(n_mels) or not n_ffts:
            raise ConfigError(f"n_ffts {tuple(n_ffts)} and n_mels {tuple(n_mels)} must pair up")
        if reduction not in ("mean", "sum", "none"):
            raise ConfigError(f"unknown reduction {reduction!r}; use 'mean', 'sum' or 'none'")
        if hop_divisor < 1:
            raise ConfigError(f"hop_divisor must be >= 1, got {hop_divisor}")
        self.sample_rate = sample_rate
        self.n_ffts = tuple(int(n) for n in n_ffts)
        self.n_mels = tuple(int(m) for m in n_mels)
        self.hop_divisor = hop_divisor
        self.clamp = clamp
        self.power = power
        self.reduction = reduction
        for n_fft, mels in zip(self.n_ffts, self.n_mels, strict=True):
            fb = mel_filterbank(
                sample_rate=sample_rate, n_fft=n_fft, n_mels=mels, fmin=fmin, fmax=fmax
            )
            self.register_buffer(
                f"melfb_{n_fft}", torch.tensor(fb, dtype=torch.float32), persistent=False
            )
            self.register_buffer(
                f"window_{n_fft}", torch.hann_window(n_fft, periodic=True), persistent=False
            )

    def extra_repr(self) -> str:
        return f"n_ffts={self.n_ffts}, n_mels={self.n_mels}, sample_rate={self.sample_rate}"

    def log_mel(self, wav: Tensor, n_fft: int) -> Tensor:
        """``log10(clamp(mel))`` of ``wav [B, T]`` at one scale: ``[B, n_mels, N]``."""
        window: Tensor = getattr(self, f"window_{n_fft}")
        melfb: Tensor = getattr(self, f"melfb_{n_fft}")
        spec = torch.stft(
            fft_input(wav),
            n_fft=n_fft,
            hop_length=max(1, n_fft // self.hop_divisor),
            window=window.to(wav.dtype),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        mag = spec.abs()
        if self.power != 1.0:
            mag = mag.pow(self.power)
        mel = torch.matmul(melfb.to(mag.dtype), mag)
        return torch.log10(mel.clamp_min(self.clamp))

    def forward(self, y_hat: Tensor, y: Tensor) -> Tensor:
        """Multi-scale log-mel L1 between ``y_hat`` and ``y`` (see the class docstring)."""
        if y_hat.shape != y.shape:
            raise ValueError(f"shapes differ: y_hat {tuple(y_hat.shape)}, y {tuple(y.shape)}")
        if y.dim() == 3:
            if y.shape[1] != 1:
                raise ValueError(f"expected mono [B, 1, T], got {tuple(y.shape)}")
            y_hat, y = y_hat[:, 0], y[:, 0]
        total = y.new_zeros(y.shape[0])
        for n_fft in self.n_ffts:
            diff = (self.log_mel(y_hat, n_fft) - self.log_mel(y, n_fft)).abs()
            per_item = diff.flatten(1)
            total = total + (per_item.sum(1) if self.reduction == "sum" else per_item.mean(1))
        if self.reduction == "none":
            return total
        return total.sum() if self.reduction == "sum" else total.mean()
