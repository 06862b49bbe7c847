"""Pseudo-QMF (cosine-modulated) filter bank: 32 critically sampled bands of 750 Hz at 48 kHz.

n-SBG (paper ``000``, §2.2 and Figure 2.b) splits the decoded core into PQMF sub-bands, lets the
SBG decoder generate the high sub-bands, and synthesises ``[core bands ; generated bands ;
zeros]`` back to 48 kHz. The settings follow ``HYPERPARAMETERS.md`` §1.1: 32 bands, a 481-tap
Kaiser-windowed (beta = 9) lowpass prototype whose cutoff is found at construction by minimising
the near-perfect-reconstruction objective of Lin & Vaidyanathan (1998), cosine modulation as in
Nguyen (1994) / ParallelWaveGAN's multi-band MelGAN.

Two alignments are offered (both give ``ceil(T / num_bands)`` sub-band frames):

- ``causal=False`` (default, "aligned"): sub-band frame ``m`` is centred on sample
  ``m * num_bands``; ``synthesis(analysis(x))`` reconstructs ``x`` with zero lag and exact length.
  This is what training targets and offline decoding use.
- ``causal=True``: analysis and synthesis are causal filters, so the round trip lags ``x`` by
  ``taps - 1`` samples (480 at the default settings, 10 ms at 48 kHz), the delay a streaming
  decoder adds. The output has the same length as the input (its last ``taps - 1`` input samples
  are not yet out).

Lengths that are not a multiple of ``num_bands`` are zero-padded at the end before analysis;
pass ``length=T`` to :meth:`PQMF.synthesis` to crop the output back to ``T`` samples.

Edges: ``ceil(T / M)`` frames are all the information a critically sampled bank keeps, but in
aligned mode the frames centred just before sample 0 and just after sample ``T`` (which see the
clip's first and last ``(taps - 1) / 2`` samples) are not among them. So ``synthesis(analysis(x))``
is exact to the bank's ~60 dB near-PR error everywhere except about the first 128 and last 192
samples (10 ms in all at 48 kHz), where the error grows towards the ends. :meth:`PQMF.forward`
pads a few frames to avoid this; pad clips yourself before analysis when the ends matter. Causal
mode has no such start effect (its last ``taps - 1`` input samples are simply not yet output).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.errors import ConfigError

__all__ = [
    "PQMF",
    "band_mask",
    "design_prototype",
    "fill_bands",
    "prototype_cutoff_ratio",
    "stopband_attenuation_db",
]


def design_prototype(*, taps: int, cutoff_ratio: float, beta: float) -> np.ndarray:
    """Kaiser-windowed ideal lowpass, the PQMF prototype ``h [taps]``.

    ``cutoff_ratio`` is the cutoff as a fraction of Nyquist (``omega_c / pi``); the filter is
    linear phase, centred on sample ``(taps - 1) / 2``, with DC gain ~= 1.
    """
    n = np.arange(taps, dtype=np.float64) - (taps - 1) / 2
    # np.sinc(x) = sin(pi x) / (pi x), so this is sin(omega_c n) / (pi n) with its limit at n = 0.
    ideal = cutoff_ratio * np.sinc(cutoff_ratio * n)
    return ideal * np.kaiser(taps, beta)


def _near_pr_error(cutoff_ratio: float, num_bands: int, taps: int, beta: float) -> float:
    """Lin-Vaidyanathan objective: how far ``h * h`` is from a ``2 M``-th band (Nyquist) filter.

    Near-perfect reconstruction needs the prototype's autocorrelation to vanish at every non-zero
    multiple of ``2 M`` lags; the largest such value is the distortion left after cancellation.
    """
    h = design_prototype(taps=taps, cutoff_ratio=cutoff_ratio, beta=beta)
    autocorr = np.correlate(h, h, mode="full")
    return float(np.max(np.abs(autocorr[taps - 1 + 2 * num_bands :: 2 * num_bands])))


@functools.lru_cache(maxsize=16)
def prototype_cutoff_ratio(num_bands: int, taps: int, beta: float) -> float:
    """The prototype cutoff (fraction of Nyquist) minimising the near-PR error; cached.

    A coarse grid over ``[0.5, 1.5] / (2 M)`` finds the right basin (the objective is a max of
    absolute values, hence not smooth), then scipy's bounded Brent search refines it. About 20 ms
    for the default 32 bands x 481 taps.
    """
    from scipy.optimize import minimize_scalar  # lazy: scipy is slow to import

    nominal = 1.0 / (2 * num_bands)
    grid = np.linspace(0.5 * nominal, 1.5 * nominal, 201)
    errors = [_near_pr_error(r, num_bands, taps, beta) for r in grid]
    best = int(np.argmin(errors))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = minimize_scalar(
        _near_pr_error,
        bounds=(lo, hi),
        args=(num_bands, taps, beta),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(result.x) if result.fun <= errors[best] else float(grid[best])


def stopband_attenuation_db(
    prototype: np.ndarray, *, num_bands: int, edge_ratio: float = 1.0, n_fft: int = 1 << 18
) -> float:
    """Minimum attenuation (dB, positive) of ``prototype`` above ``edge_ratio * pi / num_bands``.

    ``edge_ratio = 1`` is the band-edge where aliasing between non-adjacent bands starts.
    """
    response = np.abs(np.fft.rfft(prototype, n_fft))
    omega = np.linspace(0.0, np.pi, response.shape[0])
    stop = response[omega >= edge_ratio * np.pi / num_bands]
    return float(-20.0 * np.log10(stop.max() / response[0]))


def _filter_banks(num_bands: int, taps: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-modulated analysis and synthesis filters, each ``[num_bands, taps]``."""
    ratio = prototype_cutoff_ratio(num_bands, taps, beta)
    h = design_prototype(taps=taps, cutoff_ratio=ratio, beta=beta)
    k = np.arange(num_bands)[:, None]
    n = np.arange(taps)[None, :] - (taps - 1) / 2
    phase = (2 * k + 1) * np.pi / (2 * num_bands) * n
    offset = (-1.0) ** k * np.pi / 4
    analysis = 2 * h * np.cos(phase + offset)
    synthesis = 2 * h * np.cos(phase - offset)
    return analysis, synthesis


class PQMF(nn.Module):
    """Near-perfect-reconstruction pseudo-QMF bank (n-SBG paper ``000`` §2.2; HP §1.1).

    Args:
        num_bands: number of bands ``M``; each is ``sample_rate / (2 M)`` wide (750 Hz at 48 kHz).
        taps: prototype length (odd, so the aligned mode has an integer half delay).
        beta: Kaiser window shape parameter of the prototype.
        causal: causal filters (round-trip delay ``taps - 1``) instead of zero-lag alignment.

    Attributes:
        delay: samples by which ``synthesis(analysis(x))`` lags ``x`` (0, or ``taps - 1``).
        cutoff_ratio: the optimised prototype cutoff as a fraction of Nyquist.

    Shape:
        - analysis: ``wav [B, 1, T] -> subbands [B, M, ceil(T / M)]``
        - synthesis: ``subbands [B, M, N] -> wav [B, 1, N * M]`` (or ``[B, 1, length]``)
    """

    analysis_filter: Tensor
    synthesis_filter: Tensor

    def __init__(
        self, num_bands: int = 32, taps: int = 481, beta: float = 9.0, *, causal: bool = False
    ) -> None:
        super().__init__()
        if num_bands < 2 or taps < 2 * num_bands + 1 or taps % 2 == 0:
            raise ConfigError(
                f"PQMF needs num_bands >= 2 and an odd taps >= 2 * num_bands + 1; got "
                f"num_bands={num_bands}, taps={taps}"
            )
        self.num_bands = num_bands
        self.taps = taps
        self.beta = float(beta)
        self.causal = causal
        self.delay = taps - 1 if causal else 0
        self.cutoff_ratio = prototype_cutoff_ratio(num_bands, taps, self.beta)
        analysis, synthesis = _filter_banks(num_bands, taps, self.beta)
        # conv1d correlates, so the analysis kernel is the time-reversed analysis filter, which for
        # a PQMF is exactly the synthesis filter; conv_transpose1d applies its kernel unreversed.
        # The factor M restores the energy lost by zero-stuffing upsampling.
        self.register_buffer(
            "analysis_filter",
            torch.from_numpy(analysis[:, None, ::-1].copy()).float(),
            persistent=False,
        )
        self.register_buffer(
            "synthesis_filter",
            torch.from_numpy(num_bands * synthesis[:, None, :]).float(),
            persistent=False,
        )

    def extra_repr(self) -> str:
        return (
            f"num_bands={self.num_bands}, taps={self.taps}, beta={self.beta}, causal={self.causal}"
        )

    def analysis(self, wav: Tensor, *, bands: int | None = None) -> Tensor:
        """Split ``wav [B, 1, T]`` into critically sampled ``subbands [B, M, ceil(T / M)]``.

        ``bands`` computes only the lowest ``bands`` sub-bands (equal to slicing the full result;
        a decoder that needs the core's bands only saves most of the work).
        """
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"PQMF.analysis expects wav [B, 1, T], got {tuple(wav.shape)}")
        frames = math.ceil(wav.shape[-1] / self.num_bands)
        tail = frames * self.num_bands - wav.shape[-1]
        left = self.taps - 1 if self.causal else (self.taps - 1) // 2
        # left + right = taps - 1 + tail gives exactly `frames` strided outputs.
        right = self.taps - 1 - left + tail
        padded = F.pad(wav, (left, right))
        filters = self.analysis_filter if bands is None else self.analysis_filter[:bands]
        return F.conv1d(padded, filters, stride=self.num_bands)

    def synthesis(self, subbands: Tensor, length: int | None = None) -> Tensor:
        """Merge ``subbands [B, M, N]`` back into ``wav [B, 1, length]`` (default ``N * M``)."""
        if subbands.dim() != 3 or subbands.shape[1] != self.num_bands:
            raise ValueError(
                f"PQMF.synthesis expects subbands [B, {self.num_bands}, N], "
                f"got {tuple(subbands.shape)}"
            )
        full = subbands.shape[-1] * self.num_bands
        length = full if length is None else length
        if length > full:
            raise ValueError(
                f"length {length} exceeds the {full} samples {subbands.shape[-1]} frames give"
            )
        wav = F.conv_transpose1d(subbands, self.synthesis_filter, stride=self.num_bands)
        start = 0 if self.causal else (self.taps - 1) // 2
        return wav[..., start : start + length]

    def forward(self, wav: Tensor) -> Tensor:
        """Round trip ``wav [B, 1, T] -> [B, 1, T]``, near-perfect up to the very edges.

        In aligned mode the input is first zero-padded by a whole number of frames covering half
        the filter on each side (256 samples at the defaults) so that the frames overlapping the
        clip's ends exist, then cropped back; in causal mode this is plain
        ``synthesis(analysis(wav))``, ``delay`` samples late.
        """
        length = wav.shape[-1]
        if self.causal:
            return self.synthesis(self.analysis(wav), length=length)
        pad = math.ceil((self.taps - 1) / 2 / self.num_bands) * self.num_bands
        out = self.synthesis(self.analysis(F.pad(wav, (pad, pad))))
        return out[..., pad : pad + length]


def band_mask(subbands: Tensor, keep: Iterable[int] | slice) -> Tensor:
    """Zero every band of ``subbands [B, M, N]`` except those in ``keep`` (indices or a slice)."""
    mask = torch.zeros(subbands.shape[1], dtype=subbands.dtype, device=subbands.device)
    if isinstance(keep, slice):
        mask[keep] = 1
    else:
        mask[list(keep)] = 1
    return subbands * mask[:, None]


def fill_bands(parts: Sequence[Tensor], num_bands: int) -> Tensor:
    """Stack band groups ``[B, M_i, N]`` from band 0 upwards and zero the rest: ``[B, M, N]``.

    n-SBG's output is ``synthesis(fill_bands([core, generated], 32))`` (paper ``000`` §2.2).
    """
    if not parts:
        raise ValueError("fill_bands needs at least one band group")
    stacked = torch.cat(list(parts), dim=1)
    used = stacked.shape[1]
    if used > num_bands:
        raise ValueError(f"{used} bands given, more than num_bands={num_bands}")
    return F.pad(stacked, (0, 0, 0, num_bands - used))
