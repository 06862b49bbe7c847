"""Short-time Fourier transform with an exact inverse, and the n-SBG encoder's log-power input.

:class:`STFT` wraps :func:`torch.stft` for the analysis and inverts with the weighted overlap-add
of :mod:`bandgen.dsp.ola`, so that both ``center=True`` and ``center=False`` invert (``torch.istft`` refuses a
Hann window with ``center=False`` because the envelope is zero at the very first sample). Samples
where the window envelope vanishes (the first sample of a ``center=False`` Hann analysis, and
anything beyond the last frame) come back as zeros.

:func:`sbg_log_power` and :func:`sbg_bins` build the SBG encoder input of n-SBG (paper ``000``
§2.1; ``HYPERPARAMETERS.md`` §1.1): a 2048-point, hop 2048, ``center=False`` periodic-Hann power
spectrogram in dB, normalised as ``(x + 42.61) / (2 * 25.79)``, sliced to the PQMF-aligned bins.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.dsp.ola import normalize, overlap_add, window_envelope
from bandgen.errors import ConfigError

__all__ = [
    "SBG_DB_MEAN",
    "SBG_DB_STD",
    "STFT",
    "fft_input",
    "power_to_db",
    "sbg_bins",
    "sbg_log_power",
]

SBG_DB_MEAN = -42.61
"""Mean of the n-SBG training log-power spectrogram, dB (HP §1.1)."""
SBG_DB_STD = 25.79
"""Standard deviation of the n-SBG training log-power spectrogram, dB (HP §1.1)."""


def fft_input(x: Tensor) -> Tensor:
    """``x`` ready for an FFT: half-precision tensors (bfloat16 autocast outputs) in float32,
    as cuFFT has no bfloat16; float32 and float64 as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class STFT(nn.Module):
    """Batched, differentiable STFT / inverse STFT with a periodic Hann window.

    Args:
        n_fft: FFT size; the spectrum has ``F = n_fft // 2 + 1`` bins.
        hop_length: frame hop in samples (default ``n_fft // 4``).
        win_length: window length in samples, ``<= n_fft``; a shorter window is zero-padded on
            both sides to ``n_fft`` as :func:`torch.stft` does (default ``n_fft``).
        window: window name; only ``"hann"`` (periodic) is supported.
        center: pad ``n_fft // 2`` on both sides so frame ``n`` is centred on ``n * hop_length``.
        pad_mode: padding used when ``center`` (``"constant"`` zeros, or ``"reflect"``).
        normalized: scale the spectrum by ``n_fft ** -0.5`` (as :func:`torch.stft`).

    Shape:
        - forward: ``wav [B, T]`` or ``[B, C, T]`` -> complex ``spec [B, F, N]`` / ``[B, C, F, N]``
          with ``N = 1 + T // hop_length`` (center) or ``1 + (T - n_fft) // hop_length``.
        - inverse: ``spec [B, (C,) F, N]`` -> ``wav [B, (C,) length]``.
    """

    window: Tensor

    def __init__(
        self,
        *,
        n_fft: int,
        hop_length: int | None = None,
        win_length: int | None = None,
        window: str = "hann",
        center: bool = True,
        pad_mode: str = "constant",
        normalized: bool = False,
    ) -> None:
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        hop_length = n_fft // 4 if hop_length is None else hop_length
        if window != "hann":
            raise ConfigError(f"unsupported STFT window {window!r}; use 'hann'")
        if not 0 < win_length <= n_fft or hop_length <= 0:
            raise ConfigError(
                f"STFT needs 0 < win_length <= n_fft and hop_length > 0; got n_fft={n_fft}, "
                f"win_length={win_length}, hop_length={hop_length}"
            )
        if pad_mode not in ("constant", "reflect"):
            raise ConfigError(f"unsupported pad_mode {pad_mode!r}; use 'constant' or 'reflect'")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.center = center
        self.pad_mode = pad_mode
        self.normalized = normalized
        hann = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
        left = (n_fft - win_length) // 2
        self.register_buffer(
            "window", F.pad(hann, (left, n_fft - win_length - left)), persistent=False
        )

    @property
    def num_bins(self) -> int:
        """Number of one-sided frequency bins ``F = n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"center={self.center}, normalized={self.normalized}"
        )

    def forward(self, wav: Tensor) -> Tensor:
        """Complex spectrogram of ``wav [B, T]`` or ``[B, C, T]``: ``[B, (C,) F, N]``."""
        if wav.dim() not in (2, 3):
            raise ValueError(f"STFT expects wav [B, T] or [B, C, T], got {tuple(wav.shape)}")
        lead = wav.shape[:-1]
        spec = torch.stft(
            fft_input(wav.reshape(-1, wav.shape[-1])),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window.to(wav.dtype),
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=self.normalized,
            onesided=True,
            return_complex=True,
        )
        return spec.reshape(*lead, *spec.shape[-2:])

    def inverse(self, spec: Tensor, length: int) -> Tensor:
        """Weighted overlap-add inverse: ``spec [B, (C,) F, N] -> wav [B, (C,) length]``.

        Exact (to float precision) wherever the squared-window envelope is non-zero; elsewhere,
        and past the last frame, the output is zero.
        """
        if spec.dim() not in (3, 4) or spec.shape[-2] != self.num_bins:
            raise ValueError(
                f"STFT.inverse expects spec [B, (C,) {self.num_bins}, N], got {tuple(spec.shape)}"
            )
        lead = spec.shape[:-2]
        num_frames = spec.shape[-1]
        spec = spec.reshape(-1, *spec.shape[-2:])
        if self.normalized:
            spec = spec * self.n_fft**0.5
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-2)  # [B', n_fft, N]
        window = self.window.to(frames.dtype)
        total = self.n_fft + self.hop_length * (num_frames - 1)
        summed = overlap_add(frames * window[:, None], hop_length=self.hop_length, total=total)
        envelope = window_envelope(window, num_frames=num_frames, hop_length=self.hop_length)
        wav = normalize(summed, envelope)
        start = self.n_fft // 2 if self.center else 0
        wav = wav[:, start : start + length]
        wav = F.pad(wav, (0, length - wav.shape[-1]))
        return wav.reshape(*lead, length)


def power_to_db(power: Tensor, *, amin: float = 1e-10) -> Tensor:
    """``10 * log10(max(power, amin))`` with no top-dB clipping (torchaudio AmplitudeToDB)."""
    return 10.0 * torch.log10(power.clamp_min(amin))


def sbg_log_power(wav: Tensor, *, n_fft: int = 2048, normalize: bool = True) -> Tensor:
    """The n-SBG encoder's log-power spectrogram (paper ``000`` §2.1, HP §1.1).

    ``wav [B, T]`` or ``[B, 1, T]`` at 48 kHz is zero-padded at the end to a multiple of ``n_fft``
    and cut into non-overlapping periodic-Hann frames (``n_fft = hop = win``, ``center=False``;
    23.4375 frames/s and 23.4375 Hz/bin at the defaults). Returns ``[B, F, N]`` with
    ``F = n_fft // 2 + 1`` and ``N = ceil(T / n_fft)``: the power in dB, normalised as
    ``(db - SBG_DB_MEAN) / (2 * SBG_DB_STD)`` unless ``normalize=False``.
    """
    if wav.dim() == 3:
        if wav.shape[1] != 1:
            raise ValueError(f"sbg_log_power expects mono wav [B, 1, T], got {tuple(wav.shape)}")
        wav = wav[:, 0]
    tail = -wav.shape[-1] % n_fft
    wav = F.pad(wav, (0, tail))
    stft = STFT(n_fft=n_fft, hop_length=n_fft, center=False).to(wav.device)
    db = power_to_db(stft(wav).abs().square())
    return (db - SBG_DB_MEAN) / (2 * SBG_DB_STD) if normalize else db


def sbg_bins(k_c: int, k_h: int, *, bins_per_band: int = 32) -> slice:
    """STFT bins covering PQMF bands ``k_c..k_h`` (inclusive): ``[1 + 32 k_c, 1 + 32 (k_h + 1))``.

    With 2048-point frames at 48 kHz a 750 Hz PQMF band spans 32 bins; bin 0 (DC) is skipped, so
    the slice is shifted up by one bin. 12 kbps n-SBG: ``sbg_bins(5, 14)`` = bins 161..480 (320
    bins, 3.75-11.25 kHz); 16 kbps: ``sbg_bins(5, 15)`` (352 bins, up to 12 kHz). HP §1.1.
    """
    if not 0 <= k_c <= k_h:
        raise ConfigError(f"sbg_bins needs 0 <= k_c <= k_h, got k_c={k_c}, k_h={k_h}")
    return slice(1 + bins_per_band * k_c, 1 + bins_per_band * (k_h + 1))
