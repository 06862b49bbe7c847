"""Simultaneous-masking thresholds: an MPEG-1 psychoacoustic model 1 (PAM-1), vectorised.

Paper ``001`` §6 (eqs. 21-24) and HP §5 take the masking threshold ``m_f`` of every STFT bin from
PAM-1 (ISO/IEC 11172-3 Annex D, model 1; Painter & Spanias 2000, §III) computed on the *input*
frame. This module implements that model frame by frame on a periodic-Hann STFT:

1. PSD in dB SPL: ``p_k = 10 log10 |X_k|^2 + offset`` with the offset chosen so that a full-scale
   (amplitude 1) sine centred on a bin reads ``spl_full_scale_db`` (96 dB, the ISO convention).
2. Tonal maskers: local maxima at least 7 dB above the bins ``k +- d``, ``d`` in ``2..dk(f)`` with
   ``dk = 2`` below 5.5 kHz, 3 below 11 kHz, 6 above (the ISO table); their level sums the peak
   and its two neighbours.
3. Noise maskers: per critical band (integer Bark), the power of the bins not within ``+-dk`` of a
   tonal masker, placed at the bin nearest the band's geometric-mean frequency.
4. Decimation: maskers below the threshold in quiet are dropped, and of two tonal maskers closer
   than 0.5 Bark only the stronger is kept.
5. Individual thresholds with the level-dependent ISO spreading function ``SF(dz, P)`` over
   ``-3 <= dz < 8`` Bark and offsets ``-0.275 z - 6.025`` dB (tonal), ``-0.175 z - 2.025`` dB
   (noise); the global threshold is their power sum plus the threshold in quiet (Terhardt).

Choices where the standard is tied to its fixed 512-point / 44.1 kHz setting: every bin of the
STFT is a maskee (no sub-sampled frequency grid), the ``dk`` ranges are given in Hz so other
sample rates and FFT sizes work, and noise maskers are not decimated against tonal ones. The
thresholds are differentiable with respect to the levels (tonal detection is a hard selection);
the losses of :mod:`bandgen.losses.psychoacoustic` compute them under ``no_grad`` on the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.audio import WORK_RATE
from bandgen.dsp.stft import STFT
from bandgen.errors import ConfigError

__all__ = [
    "MaskingResult",
    "PsychoacousticModel",
    "bark",
    "threshold_in_quiet_db",
]

_NEG_DB = -1.0e4  # stands for "no masker" (-inf would give NaN gradients)
_DB_TO_NEPER = math.log(10.0) / 10.0


def bark(freq_hz: np.ndarray | float) -> np.ndarray:
    """Critical-band rate in Bark (Zwicker): ``13 atan(0.00076 f) + 3.5 atan((f / 7500)^2)``."""
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    return 13.0 * np.arctan(0.00076 * freq_hz) + 3.5 * np.arctan((freq_hz / 7500.0) ** 2)


def threshold_in_quiet_db(freq_hz: np.ndarray | float, *, min_freq_hz: float = 20.0) -> np.ndarray:
    """Absolute threshold of hearing in dB SPL (Terhardt 1979, as in PAM-1).

    ``3.64 (f/1k)^-0.8 - 6.5 exp(-0.6 (f/1k - 3.3)^2) + 1e-3 (f/1k)^4``; frequencies below
    ``min_freq_hz`` (DC) are evaluated at ``min_freq_hz``.
    """
    khz = np.maximum(np.asarray(freq_hz, dtype=np.float64), min_freq_hz) / 1000.0
    return 3.64 * khz**-0.8 - 6.5 * np.exp(-0.6 * (khz - 3.3) ** 2) + 1e-3 * khz**4


def _spreading_terms(z_maskee: np.ndarray, z_masker: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``SF(i, j) = a_ij + b_ij * P_j`` of PAM-1, split into level-free and level-linear parts.

    ``dz = z_i - z_j`` (maskee minus masker):
    ``17 dz - 0.4 P + 11`` on [-3, -1); ``(0.4 P + 6) dz`` on [-1, 0); ``-17 dz`` on [0, 1);
    ``(0.15 P - 17) dz - 0.15 P`` on [1, 8); no masking elsewhere (``a = _NEG_DB``).
    """
    dz = z_maskee[:, None] - z_masker[None, :]
    a = np.full(dz.shape, _NEG_DB)
    b = np.zeros(dz.shape)
    pieces = [
        ((dz >= -3) & (dz < -1), 17 * dz + 11, np.full(dz.shape, -0.4)),
        ((dz >= -1) & (dz < 0), 6 * dz, 0.4 * dz),
        ((dz >= 0) & (dz < 1), -17 * dz, np.zeros(dz.shape)),
        ((dz >= 1) & (dz < 8), -17 * dz, 0.15 * (dz - 1)),
    ]
    for mask, a_part, b_part in pieces:
        a[mask] = a_part[mask]
        b[mask] = b_part[mask]
    return a, b


@dataclass
class MaskingResult:
    """Output of :class:`PsychoacousticModel`.

    Attributes:
        spec: complex STFT ``[B, F, N]`` the model analysed.
        psd_db: power spectral density in dB SPL ``[B, F, N]`` (``p_f`` of HP §5).
        threshold_db: global masking threshold in dB SPL ``[B, F, N]`` (``m_f`` of HP §5).
    """

    spec: Tensor
    psd_db: Tensor
    threshold_db: Tensor


class PsychoacousticModel(nn.Module):
    """MPEG-1 psychoacoustic model 1 masking thresholds per STFT bin (paper ``001`` §6, HP §5).

    See the module docstring for the steps and the choices made.

    Args:
        sample_rate: sample rate of the input in Hz.
        n_fft: frame and FFT size (periodic Hann window; HP §5 default 512).
        hop_length: frame hop (default ``n_fft // 2``).
        spl_full_scale_db: level in dB SPL of a full-scale sine centred on a bin.
        tonal_margin_db: how far a tonal peak must exceed its neighbours ``k +- d`` (7 dB).
        amin: floor of ``|X|^2`` before the logarithm.
        chunk_frames: frames spread at once (bounds the ``[frames, maskers, F]`` memory).

    Shape:
        - wav: ``[B, T]`` or ``[B, 1, T]``.
        - output: :class:`MaskingResult` of ``[B, F, N]`` tensors, ``F = n_fft // 2 + 1``,
          ``N = 1 + T // hop_length`` (``center=True``).
    """

    tq_db: Tensor
    z: Tensor
    dk: Tensor
    spread_a: Tensor
    spread_b: Tensor
    tonal_offset: Tensor
    noise_a: Tensor
    noise_b: Tensor
    noise_offset: Tensor
    noise_tq: Tensor
    band_matrix: Tensor
    near_mask: Tensor

    def __init__(
        self,
        *,
        sample_rate: int = WORK_RATE,
        n_fft: int = 512,
        hop_length: int | None = None,
        spl_full_scale_db: float = 96.0,
        tonal_margin_db: float = 7.0,
        amin: float = 1e-10,
        chunk_frames: int = 256,
    ) -> None:
        super().__init__()
        if n_fft < 16 or sample_rate <= 0 or chunk_frames < 1:
            raise ConfigError(
                f"PsychoacousticModel needs n_fft >= 16, sample_rate > 0, chunk_frames >= 1; "
                f"got {n_fft}, {sample_rate}, {chunk_frames}"
            )
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.stft = STFT(n_fft=n_fft, hop_length=hop_length or n_fft // 2, center=True)
        self.db_offset = spl_full_scale_db - 20.0 * math.log10(n_fft / 4.0)
        self.tonal_margin_db = tonal_margin_db
        self.amin = amin
        self.chunk_frames = chunk_frames
        self._build_tables()

    def _register(self, name: str, array: np.ndarray, dtype: torch.dtype = torch.float32) -> None:
        self.register_buffer(name, torch.as_tensor(array, dtype=dtype), persistent=False)

    def _build_tables(self) -> None:
        num_bins = self.n_fft // 2 + 1
        freqs = np.arange(num_bins) * self.sample_rate / self.n_fft
        z = bark(freqs)
        self._register("z", z)
        self._register("tq_db", threshold_in_quiet_db(freqs))
        self._register("dk", np.select([freqs < 5500.0, freqs < 11000.0], [2, 3], 6), torch.long)
        a, b = _spreading_terms(z, z)  # [maskee, masker]; stored masker-major below
        self._register("spread_a", a.T)
        self._register("spread_b", b.T)
        self._register("tonal_offset", -0.275 * z - 6.025)
        # Critical bands = integer Bark; each noise masker sits at its band's geometric mean.
        band_of_bin = np.floor(z).astype(int)
        bands = np.unique(band_of_bin)
        self._register("band_matrix", band_of_bin[:, None] == bands[None, :])
        positions = []
        for band in bands:
            members = np.flatnonzero(band_of_bin == band)
            centre = np.exp(np.mean(np.log(np.maximum(freqs[members], freqs[1]))))
            positions.append(members[np.argmin(np.abs(freqs[members] - centre))])
        pos = np.asarray(positions)
        self._register("noise_a", a[:, pos].T)
        self._register("noise_b", b[:, pos].T)
        self._register("noise_offset", -0.175 * z[pos] - 2.025)
        self._register("noise_tq", threshold_in_quiet_db(freqs[pos]))
        # Tonal maskers closer than 0.5 Bark compete; offsets r - radius, r != radius.
        radius = int(max(np.sum(np.abs(z - zk) < 0.5) for zk in z))
        idx = np.arange(num_bins)[:, None] + np.arange(-radius, radius + 1)[None, :]
        inside = (idx >= 0) & (idx < num_bins)
        near = inside & (np.abs(z[np.clip(idx, 0, num_bins - 1)] - z[:, None]) < 0.5)
        near[:, radius] = False
        self._register("near_mask", near, torch.bool)
        self.max_tonal = 2 * math.ceil(float(z[-1])) + 2

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop={self.stft.hop_length}"

    def psd_db(self, spec: Tensor) -> Tensor:
        """PSD in dB SPL of a complex spectrum (any shape): ``10 log10 |X|^2 + offset``."""
        power = spec.real.square() + spec.imag.square()
        return 10.0 * torch.log10(power.clamp_min(self.amin)) + self.db_offset

    def forward(self, wav: Tensor) -> MaskingResult:
        """STFT, PSD and global masking threshold of ``wav [B, (1,) T]``."""
        if wav.dim() == 3:
            if wav.shape[1] != 1:
                raise ValueError(f"expected mono [B, 1, T], got {tuple(wav.shape)}")
            wav = wav[:, 0]
        spec = self.stft(wav)
        psd = self.psd_db(spec)
        return MaskingResult(spec=spec, psd_db=psd, threshold_db=self.threshold_db(psd))

    def threshold_db(self, psd_db: Tensor) -> Tensor:
        """Global masking threshold ``[B, F, N]`` (dB SPL) from ``psd_db [B, F, N]``."""
        batch, num_bins, num_frames = psd_db.shape
        frames = psd_db.transpose(1, 2).reshape(-1, num_bins)
        tonal_level, tonal = self._tonal_maskers(frames)
        tonal_level = self._decimate_tonal(tonal_level)
        noise_level = self._noise_maskers(frames, tonal)
        noise_level = noise_level.masked_fill(noise_level < self.noise_tq, _NEG_DB)
        # After decimation at most ~2 tonal maskers per Bark survive: keep the strongest few.
        top_level, top_bin = tonal_level.topk(min(self.max_tonal, num_bins), dim=1)
        out = [
            self._spread(*chunks)
            for chunks in zip(
                top_level.split(self.chunk_frames),
                top_bin.split(self.chunk_frames),
                noise_level.split(self.chunk_frames),
                strict=True,
            )
        ]
        return torch.cat(out).reshape(batch, num_frames, num_bins).transpose(1, 2)

    def _shift(self, psd: Tensor, offset: int) -> Tensor:
        """``psd[:, k + offset]`` with ``_NEG_DB`` beyond the edges."""
        padded = F.pad(psd, (abs(offset), abs(offset)), value=_NEG_DB)
        return padded[:, abs(offset) + offset : abs(offset) + offset + psd.shape[1]]

    def _tonal_maskers(self, psd: Tensor) -> tuple[Tensor, Tensor]:
        """Tonal masker levels ``[M, F]`` (``_NEG_DB`` where none) and the tonal mask."""
        tonal = (psd > self._shift(psd, -1)) & (psd >= self._shift(psd, 1))
        for d in range(2, 7):
            above = psd - torch.maximum(self._shift(psd, -d), self._shift(psd, d))
            tonal &= (above >= self.tonal_margin_db) | (self.dk < d)
        tonal[:, :3] = False
        tonal[:, -1] = False
        power = torch.pow(10.0, 0.1 * psd)
        triple = power + torch.pow(10.0, 0.1 * self._shift(psd, -1))
        triple = triple + torch.pow(10.0, 0.1 * self._shift(psd, 1))
        level = torch.where(tonal, 10.0 * torch.log10(triple), torch.full_like(psd, _NEG_DB))
        return level, tonal

    def _noise_maskers(self, psd: Tensor, tonal: Tensor) -> Tensor:
        """Noise masker levels ``[M, n_bands]``: band power away from tonal components."""
        excluded = torch.zeros_like(tonal)
        for radius in (2, 3, 6):
            grown = F.max_pool1d(tonal[:, None].float(), 2 * radius + 1, 1, radius)[:, 0] > 0
            excluded |= grown & (self.dk == radius)
        power = torch.pow(10.0, 0.1 * psd) * (~excluded).to(psd.dtype)
        band_power = power @ self.band_matrix.to(psd.dtype)
        return 10.0 * torch.log10(band_power.clamp_min(1e-30))

    def _decimate_tonal(self, level: Tensor) -> Tensor:
        """Drop tonal maskers below the threshold in quiet or beaten within 0.5 Bark."""
        keep = level >= self.tq_db
        radius = (self.near_mask.shape[1] - 1) // 2
        for offset in range(1, radius + 1):
            for sign in (-1, 1):
                near = self.near_mask[:, radius + sign * offset]
                keep &= ~near | (level >= self._shift(level, sign * offset))
        return torch.where(keep, level, torch.full_like(level, _NEG_DB))

    def _spread(self, top_level: Tensor, top_bin: Tensor, noise_level: Tensor) -> Tensor:
        """Global threshold ``[M, F]`` (dB SPL) from tonal ``[M, K]``, noise ``[M, n]`` maskers."""
        # [M, masker, F_maskee]: P_j (1 + b_ji) + a_ji + offset_j, all in dB.
        tonal_terms = (
            top_level[:, :, None] * (1.0 + self.spread_b[top_bin])
            + self.spread_a[top_bin]
            + self.tonal_offset[top_bin][:, :, None]
        )
        noise_terms = (
            noise_level[:, :, None] * (1.0 + self.noise_b)
            + self.noise_a
            + self.noise_offset[:, None]
        )
        quiet = self.tq_db.to(top_level.dtype).expand(top_level.shape[0], 1, -1)
        terms = torch.cat([tonal_terms, noise_terms, quiet], dim=1)
        return torch.logsumexp(terms * _DB_TO_NEPER, dim=1) / _DB_TO_NEPER
