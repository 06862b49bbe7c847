"""Multi-resolution spectral loss on PQMF sub-band signals (cheap envelope and onset loss).

Not in paper ``000``: the patch generator (:mod:`bandgen.nn.patch_envelope`) only sets levels and
noise per band, so its training signal is the sub-band spectra themselves. Per generated band
(1500 Hz sample rate at 48 kHz / 32 bands) and per resolution (``n_fft`` 16 ... 128, i.e.
10.7 ... 85 ms windows; hop ``n_fft / 4``; periodic Hann; ``center=False``), the L1 distance of
``log10(clamp(|X|^2, 1e-8))``, averaged, then summed over resolutions. The short windows see
onsets, the long ones tonal structure; the sub-band domain makes the whole loss about 1/32 of
a full-band STFT's cost and needs no PQMF synthesis.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bandgen.dsp.stft import fft_input

__all__ = ["SubbandEnergyLoss", "SubbandSpectralLoss"]


class SubbandSpectralLoss(nn.Module):
    """L1 log-power distance of sub-band STFTs summed over resolutions (module docstring).

    Args:
        n_ffts: window sizes in sub-band samples.
        floor: power floor before the log.

    Shape:
        ``forward(bands_hat [B, K, T], bands [B, K, T]) -> scalar`` (``T >= max(n_ffts)``).
    """

    def __init__(self, n_ffts: Sequence[int] = (16, 32, 64, 128), *, floor: float = 1e-8) -> None:
        super().__init__()
        self.n_ffts = tuple(n_ffts)
        self.floor = floor
        for n in self.n_ffts:
            self.register_buffer(f"window_{n}", torch.hann_window(n), persistent=False)

    def _log_power(self, bands: Tensor, n_fft: int) -> Tensor:
        window = getattr(self, f"window_{n_fft}")
        spec = torch.stft(
            fft_input(bands.flatten(0, 1)),
            n_fft,
            hop_length=n_fft // 4,
            window=window,
            center=False,
            return_complex=True,
        )
        # |X|^2 as re^2 + im^2: abs() of a complex zero (a silent window) has a NaN gradient
        power = torch.view_as_real(spec).square().sum(-1)
        return torch.log10(power.clamp_min(self.floor))

    def forward(self, bands_hat: Tensor, bands: Tensor) -> Tensor:
        """``bands_hat, bands [B, K, T] -> scalar``."""
        if bands_hat.shape != bands.shape:
            raise ValueError(f"shapes differ: {tuple(bands_hat.shape)} vs {tuple(bands.shape)}")
        total = bands_hat.new_zeros(())
        for n in self.n_ffts:
            total = total + (self._log_power(bands_hat, n) - self._log_power(bands, n)).abs().mean()
        return total


class SubbandEnergyLoss(nn.Module):
    """L1 distance of the log10 short-time energy of each sub-band (level and envelope).

    Where the generated fine structure cannot match the target's (a patched harmonic series
    against noise), the per-bin log-power loss can settle below the target's level; this term
    compares energies summed over each band and ``hop`` samples, so it pulls the level itself.

    Args:
        hop: sub-band samples per energy value (8: 5.3 ms at 48 kHz / 32 bands).
        floor: energy floor before the log.

    Shape:
        ``forward(bands_hat [B, K, T], bands [B, K, T]) -> scalar``.
    """

    def __init__(self, hop: int = 8, *, floor: float = 1e-8) -> None:
        super().__init__()
        self.hop, self.floor = hop, floor

    def forward(self, bands_hat: Tensor, bands: Tensor) -> Tensor:
        """``bands_hat, bands [B, K, T] -> scalar``."""
        if bands_hat.shape != bands.shape:
            raise ValueError(f"shapes differ: {tuple(bands_hat.shape)} vs {tuple(bands.shape)}")
        pool = torch.nn.functional.avg_pool1d
        hat = pool(bands_hat.square(), self.hop, self.hop).clamp_min(self.floor).log10()
        ref = pool(bands.square(), self.hop, self.hop).clamp_min(self.floor).log10()
        return (hat - ref).abs().mean()
