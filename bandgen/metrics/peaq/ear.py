"""PEAQ FFT ear model (ITU-R BS.1387-1, section 2.1), vectorised over frames.

The model follows the interpretation of the Recommendation in P. Kabal, "An Examination and
Interpretation of ITU-R BS.1387: Perceptual Evaluation of Audio Quality" (McGill, 2002/2003),
which the reference values in ``shared/metrics-reference/peaq`` were computed with.

Samples are taken in 16-bit units (full scale 32768), and a full-scale sine is played at 92 dB
SPL (section 2.1.3). Frames are 2048 samples long with a hop of 1024 (section 2.1.2); the
frame rate is therefore 46.875 frames/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SAMPLE_RATE = 48000
N_FFT = 2048
HOP_LENGTH = N_FFT // 2
FRAME_RATE = SAMPLE_RATE / HOP_LENGTH
N_BINS = N_FFT // 2 + 1
FULL_SCALE = 32768.0
LISTENING_LEVEL_DB = 92.0
# Energy floor of the critical-band grouping (Kabal's PQgroupCB); it sets the NMR of identical
# signals.
BAND_ENERGY_FLOOR = 1e-12

Array = NDArray[np.float64]


def hann(length: int) -> Array:
    """Hann window of BS.1387 section 2.1.3: ``0.5 (1 - cos(2 pi n / (N - 1)))``, shape ``[N]``."""
    n = np.arange(length)
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * n / (length - 1)))


def _level_gain() -> float:
    """Gain that maps a full-scale sine to a 92 dB peak in the DFT (section 2.1.3).

    The test sine sits at 1019.5 Hz, between DFT bins, so the largest bin is below the peak of the
    continuous Hann response by the factor ``gp`` computed here.
    """
    width = N_FFT - 1
    fc_norm = 1019.5 / SAMPLE_RATE
    df = 1.0 / N_FFT
    k = np.floor(fc_norm / df)
    offset = min((k + 1) * df - fc_norm, fc_norm - k * df) * width
    peak = np.sin(np.pi * offset) / (np.pi * offset * (1.0 - offset**2))
    return float(10.0 ** (LISTENING_LEVEL_DB / 20.0) / (peak * FULL_SCALE / 4.0 * width))


@dataclass(frozen=True)
class CriticalBands:
    """The 109 quarter-Bark bands of the Basic version, 80 Hz to 18 kHz (section 2.1.5).

    Attributes:
        f_low, f_centre, f_high: band edges and centres in Hz, shape ``[109]``.
        dz: band width in Bark (0.25).
        grouping: fraction of each DFT bin that falls in each band, shape ``[109, 1025]``.
    """

    f_low: Array
    f_centre: Array
    f_high: Array
    dz: float
    grouping: Array

    @property
    def count(self) -> int:
        """Number of bands (109)."""
        return int(self.f_centre.size)


# Entries of the Recommendation's printed band table (Table 6, Basic version) that depart from
# the Bark formula by more than rounding: (array, band index, printed value in Hz). PQevalAudio
# and the validation oracle use the printed table, so it is reproduced here.
_TABLE_ERRATA: tuple[tuple[str, int, float], ...] = (
    ("f_high", 28, 933.113),  # formula 933.119 (= f_low[29])
    ("f_low", 66, 3853.817),  # formula 3853.347 (= f_high[65])
    ("f_high", 70, 4643.482),  # formula 4616.481 (= f_low[71])
    ("f_centre", 100, 13294.850),  # formula 13296.848
)


def critical_bands() -> CriticalBands:
    """Build the Basic-version band table (section 2.1.5, Table 6).

    Edges and centres follow the Bark mapping ``z = 7 asinh(f / 650)`` in steps of 0.25 Bark
    from 80 Hz to 18 kHz, rounded to 1 mHz like the printed table, with its few misprints.
    """
    dz = 0.25
    z_low, z_high = 7.0 * np.arcsinh(80.0 / 650.0), 7.0 * np.arcsinh(18000.0 / 650.0)
    count = int(np.ceil((z_high - z_low) / dz))
    zl = z_low + np.arange(count) * dz
    zu = np.minimum(z_low + np.arange(1, count + 1) * dz, z_high)
    f_low, f_high = 650.0 * np.sinh(zl / 7.0), 650.0 * np.sinh(zu / 7.0)
    f_centre = 650.0 * np.sinh(0.5 * (zl + zu) / 7.0)
    table = {
        name: np.round(v, 3)
        for name, v in zip(("f_low", "f_centre", "f_high"), (f_low, f_centre, f_high), strict=True)
    }
    for name, band, value in _TABLE_ERRATA:
        table[name][band] = value
    f_low, f_centre, f_high = table["f_low"], table["f_centre"], table["f_high"]
    # Each DFT bin k covers [k - 1/2, k + 1/2] bin widths; a band takes the overlapping fraction.
    df = SAMPLE_RATE / N_FFT
    k = np.arange(N_BINS)
    lo = np.maximum(f_low[:, None] / df, k[None, :] - 0.5)
    hi = np.minimum(f_high[:, None] / df, k[None, :] + 0.5)
    grouping = np.maximum(hi - lo, 0.0)
    return CriticalBands(f_low, f_centre, f_high, dz, grouping)


BANDS = critical_bands()


def internal_noise(f_hz: Array) -> Array:
    """Internal ear noise ``E_IN = 10^(0.4 * 0.364 (f/kHz)^-0.8)`` (section 2.1.6)."""
    return np.asarray(10.0 ** (0.4 * 0.364 * (f_hz / 1000.0) ** -0.8), dtype=np.float64)


def hearing_threshold(f_hz: Array) -> Array:
    """Absolute threshold ``E_thres = 10^(0.364 (f/kHz)^-0.8)`` (section 3.3)."""
    return np.asarray(10.0 ** (0.364 * (f_hz / 1000.0) ** -0.8), dtype=np.float64)


def outer_middle_ear_weight() -> Array:
    """Power weighting ``|W(k)|^2`` of the outer and middle ear (section 2.1.4), shape ``[1025]``.

    ``W_dB(f) = -2.184 (f/kHz)^-0.8 + 6.5 exp(-0.6 (f/kHz - 3.3)^2) - 0.001 (f/kHz)^3.6``;
    the DC bin gets zero weight.
    """
    f_khz = np.arange(N_BINS) * SAMPLE_RATE / N_FFT / 1000.0
    weight = np.zeros(N_BINS)
    f = f_khz[1:]
    a_db = -2.184 * f**-0.8 + 6.5 * np.exp(-0.6 * (f - 3.3) ** 2) - 0.001 * f**3.6
    weight[1:] = 10.0 ** (a_db / 10.0)
    return weight


def time_constants(tau_100: float, tau_min: float) -> Array:
    """First-order smoothing coefficients per band, ``a = exp(-1 / (f_frame tau))``, ``[109]``.

    ``tau = tau_min + (100 Hz / f_c) (tau_100 - tau_min)`` (sections 2.1.8, 3.1.1, 3.2.1).
    """
    tau = tau_min + 100.0 / BANDS.f_centre * (tau_100 - tau_min)
    return np.asarray(np.exp(-1.0 / (FRAME_RATE * tau)), dtype=np.float64)


def smooth(
    x: Array, a: Array, *, input_gain: Array | float | None = None, state: Array | None = None
) -> Array:
    """First-order recursion over frames, ``y[n] = a y[n-1] + g x[n]`` along axis 0.

    Args:
        x: input ``[F, ...]``; ``a``, ``input_gain`` broadcast against ``x[0]``.
        input_gain: ``g``; defaults to ``1 - a``.
        state: ``y[-1]``; zeros by default.

    Returns:
        ``y`` with the shape of ``x``.
    """
    gain = 1.0 - a if input_gain is None else input_gain
    y = np.empty_like(x)
    prev = np.zeros_like(x[0]) if state is None else state
    for n in range(x.shape[0]):
        prev = a * prev + gain * x[n]
        y[n] = prev
    return y


def frame_signal(x: Array) -> Array:
    """Cut ``x [T]`` into ``floor(T / 1024) - 1`` frames of 2048 samples, shape ``[F, 2048]``.

    No padded final frame, as in Kabal's PQevalAudio (section 2.1.2).
    """
    n_frames = x.shape[-1] // HOP_LENGTH - 1
    if n_frames < 1:
        return np.zeros((0, N_FFT))
    windows = np.lib.stride_tricks.sliding_window_view(x, N_FFT)
    return np.ascontiguousarray(windows[::HOP_LENGTH][:n_frames])


_WINDOW = _level_gain() * hann(N_FFT)
_EAR_WEIGHT = outer_middle_ear_weight()
_INTERNAL_NOISE = internal_noise(BANDS.f_centre)


def power_spectrum(frames: Array) -> Array:
    """Level-calibrated power spectrum ``|X(k)|^2`` of ``frames [F, 2048]``, ``[F, 1025]``."""
    spec = np.fft.rfft(frames * _WINDOW, axis=-1)
    return np.asarray(spec.real**2 + spec.imag**2, dtype=np.float64)


def group_bands(weighted_power: Array) -> Array:
    """Group ear-weighted power ``[F, 1025]`` into the 109 bands, floored at 1e-12 (2.1.5)."""
    return np.maximum(weighted_power @ BANDS.grouping.T, BAND_ENERGY_FLOOR)


def _spread_raw(energy: Array) -> Array:
    """Level-dependent frequency spreading of ``energy [F, 109]`` before normalisation (2.1.7).

    Lower slope 27 dB/Bark, upper slope ``-24 - 230 Hz / f_c + 0.2 L`` dB/Bark. Each band's
    spreading function is normalised to unit sum over all bands; the contributions add with a
    power law of exponent 0.4.
    """
    exponent = 0.4
    n_bands = BANDS.count
    dz = BANDS.dz
    m = np.arange(n_bands)
    a_low = 10.0 ** (-2.7 * dz)
    a_up = 10.0 ** ((-2.4 - 23.0 / BANDS.f_centre) * dz) * energy ** (0.2 * dz)  # [F, Nc]
    gain_low = (1.0 - a_low ** (m + 1)) / (1.0 - a_low)
    gain_up = (1.0 - a_up ** (n_bands - m)) / (1.0 - a_up)
    norm_energy = (energy / (gain_low + gain_up - 1.0)) ** exponent  # [F, Nc]
    # distance[i, j] = i - j: band j spreads to band i.
    distance = (m[:, None] - m[None, :]).astype(np.float64)
    lower = np.where(distance <= 0, a_low ** (exponent * -np.minimum(distance, 0)), 0.0)
    log_up = exponent * np.log(a_up)  # [F, Nc]
    upper = np.exp(np.maximum(distance, 0.0)[None] * log_up[:, None, :])
    kernel = np.where(distance[None] > 0, upper, lower[None])  # [F, Nc(i), Nc(j)]
    summed = np.einsum("fij,fj->fi", kernel, norm_energy)
    return np.asarray(summed ** (1.0 / exponent), dtype=np.float64)


_SPREAD_NORM = _spread_raw(np.ones((1, BANDS.count)))[0]


# Frames per block in the frame-wise kernels, bounding their memory ([block, 109, 109] floats).
FRAME_BLOCK = 512


def spread_bands(energy: Array) -> Array:
    """Unsmeared excitation patterns ``E_s [F, 109]`` from pitch patterns ``energy`` (2.1.7)."""
    out = np.empty_like(energy)
    for start in range(0, energy.shape[0], FRAME_BLOCK):
        block = slice(start, start + FRAME_BLOCK)
        out[block] = _spread_raw(energy[block]) / _SPREAD_NORM
    return out


@dataclass(frozen=True)
class EarOutput:
    """Per-frame outputs of the FFT ear model for one signal (one channel).

    Attributes:
        power: calibrated power spectrum ``|X|^2`` without ear weighting, ``[F, 1025]``.
        weighted: ear-weighted power spectrum ``|W X|^2``, ``[F, 1025]``.
        unsmeared: unsmeared excitation patterns ``E_s`` (after frequency spreading), ``[F, 109]``.
        excitation: excitation patterns ``E`` after time-domain spreading, ``[F, 109]``.
    """

    power: Array
    weighted: Array
    unsmeared: Array
    excitation: Array


_TIME_SPREAD = time_constants(0.030, 0.008)


def ear_model(frames: Array) -> EarOutput:
    """Run the FFT ear model (sections 2.1.3-2.1.8) on ``frames [F, 2048]`` in 16-bit units."""
    power = power_spectrum(frames)
    weighted = power * _EAR_WEIGHT
    pitch = group_bands(weighted) + _INTERNAL_NOISE
    unsmeared = spread_bands(pitch)
    # Time-domain spreading (2.1.8): E_f[n] = a E_f[n-1] + (1 - a) E_s[n]; E = max(E_f, E_s).
    excitation = np.maximum(smooth(unsmeared, _TIME_SPREAD), unsmeared)
    return EarOutput(power, weighted, unsmeared, excitation)


def noise_pattern(ref: EarOutput, test: EarOutput) -> Array:
    """Band energies of the error spectrum ``(|W X_R| - |W X_T|)^2``, ``[F, 109]`` (2.1.5)."""
    noise = (np.sqrt(ref.weighted) - np.sqrt(test.weighted)) ** 2
    return group_bands(noise)
