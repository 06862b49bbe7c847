"""HF envelope adjuster (ISO/IEC 14496-3, 4.6.18.7).

Shapes the patched high band to the transmitted envelope: per envelope and QMF band it
estimates the patched energy (interpolated per band, bs_interpol_freq = 1), derives the gain
that gives the transmitted energy once the noise floor and sinusoids are added, limits gains
per limiter band (+3 dB over the band's mean gain, bs_limiter_gains = 2) and restores the lost
energy with a boost capped at +4 dB, smooths gains over 4 past slots (bs_smoothing_mode = 0)
except in transient envelopes, then adds noise (a fixed 512-entry random table, unit energy)
and sinusoids at band centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bandgen.hf.sbr.tables import BandTables

EPS = 2.0**-40
"""Energy floor (the dequantised value of envelope code 0)."""
LIMITER_GAIN = 10 ** (3 / 10)  # +3 dB, energy
MAX_GAIN = 1e10  # 100 dB, energy
MAX_BOOST = 10 ** (4 / 10)  # +4 dB, energy
NOISE_TABLE_SIZE = 512
HIGH_OVER_CORE_DB = 12.0
"""Safety ceiling of the regenerated band's energy over the core's, per :data:`BOUND_SLOTS`."""
BOUND_SLOTS = 4
"""QMF slots per step of that ceiling (256 samples, 5.3 ms: the n-SBG hop)."""
HIGH_BAND_FREE_ENERGY = 0.1 * 64
"""High-band energy per QMF slot allowed whatever the core: that of a signal of power 0.1
(-10 dB; 64 bands). Fricatives and cymbals over a quiet core reach +45 dB over the core on the
dev set, but at most -17 dB."""
_SMOOTH = np.cos(np.pi * np.arange(5) / 10) ** 2
SMOOTHING = _SMOOTH / _SMOOTH.sum()
"""Gain smoothing filter ``h_SL`` (5 taps, newest first): normalised ``cos^2(pi i / 10)``."""


def _noise_table() -> np.ndarray:
    rng = np.random.default_rng(0x5B2)
    v = rng.standard_normal(NOISE_TABLE_SIZE) + 1j * rng.standard_normal(NOISE_TABLE_SIZE)
    return v / np.sqrt(np.mean(np.abs(v) ** 2))


NOISE = _noise_table()


def bound_high_band(x_low: np.ndarray, x_high: np.ndarray) -> np.ndarray:
    """Scale the adjusted high band down where it is both loud and far above the core.

    The envelope is coded in absolute energies and the limiter above bounds gains only against
    the transmitted energies, so damaged or forged side info can ask for any level. Not in
    ISO/IEC 14496-3: a safety bound per :data:`BOUND_SLOTS` slots of summed high-band energy
    to :data:`HIGH_OVER_CORE_DB` over the core QMF bands' or :data:`HIGH_BAND_FREE_ENERGY`,
    whichever is more. Steps within the bound are returned unchanged.

    Shape:
        ``x_low [S, kx]``, ``x_high [S, M] -> [S, M]`` (complex), ``S`` a multiple of
        :data:`BOUND_SLOTS`.
    """
    steps = x_high.shape[0] // BOUND_SLOTS
    low = np.sum(np.abs(x_low) ** 2, axis=1).reshape(steps, BOUND_SLOTS).mean(1)
    high = np.sum(np.abs(x_high) ** 2, axis=1).reshape(steps, BOUND_SLOTS).mean(1)
    ceiling = np.maximum(low * 10 ** (HIGH_OVER_CORE_DB / 10), HIGH_BAND_FREE_ENERGY)
    over = high > ceiling
    if not over.any():
        return x_high
    scale = np.where(over, np.sqrt(ceiling / np.maximum(high, ceiling)), 1.0)
    return x_high * np.repeat(scale, BOUND_SLOTS)[:, None]


@dataclass
class EnvelopeParams:
    """Dequantised side info for one frame, mapped to QMF bands.

    Attributes:
        slot_borders: envelope borders in QMF slots ``[L + 1]`` (0 .. 32).
        energy: target energy per envelope and SBR band ``[L, M]``.
        noise: noise-to-signal ratio per envelope and SBR band ``[L, M]``.
        sine: 1 at the band whose centre gets a sinusoid, per envelope ``[L, M]``.
        sine_in_band: 1 across every envelope band that contains a sinusoid ``[L, M]``.
        transient_env: ``l_A`` (-1 none).
    """

    slot_borders: np.ndarray
    energy: np.ndarray
    noise: np.ndarray
    sine: np.ndarray
    sine_in_band: np.ndarray
    transient_env: int


@dataclass
class EnvelopeAdjuster:
    """Streaming envelope adjuster; state = gain history, noise and sine phase indices."""

    tables: BandTables
    gain_hist: np.ndarray | None = None
    noise_hist: np.ndarray | None = None
    last_was_transient: bool = False
    noise_index: int = 0
    slot_index: int = 0
    limiter_of: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        t = self.tables
        self.limiter_of = (
            np.searchsorted(np.asarray(t.limiter), np.arange(t.kx, t.k2), side="right") - 1
        )

    def _gains(self, x_env: np.ndarray, p: EnvelopeParams, e: int) -> tuple[np.ndarray, ...]:
        """Energy gains, noise and sine energies ``[M]`` for envelope ``e`` (4.6.18.7.3-5)."""
        e_orig, q = p.energy[e], p.noise[e]
        e_curr = np.mean(np.abs(x_env) ** 2, axis=0)
        transient = e == p.transient_env or (e == 0 and self.last_was_transient)
        sine, in_band = p.sine[e], p.sine_in_band[e]
        noise_e = np.zeros_like(e_orig) if transient else e_orig * q / (1 + q)
        sine_e = sine * e_orig / (1 + q)
        denom_q = 1.0 if transient else 1 + q
        gain = np.where(
            in_band > 0,
            e_orig * q / ((EPS + e_curr) * (1 + q)),
            e_orig / ((EPS + e_curr) * denom_q),
        )
        lim = self.limiter_of
        num_lim = len(self.tables.limiter) - 1
        sum_orig = np.bincount(lim, e_orig, num_lim)
        sum_curr = np.bincount(lim, e_curr, num_lim)
        gain_max = np.minimum((EPS + sum_orig) / (EPS + sum_curr) * LIMITER_GAIN, MAX_GAIN)[lim]
        noise_e = np.where(gain > gain_max, noise_e * gain_max / np.maximum(gain, 1e-300), noise_e)
        gain = np.minimum(gain, gain_max)
        noise_used = np.where((sine_e == 0) & (not transient), noise_e, 0.0)
        got = np.bincount(lim, e_curr * gain + sine_e + noise_used, num_lim)
        boost = np.minimum((EPS + sum_orig) / (EPS + got), MAX_BOOST)[lim]
        return gain * boost, noise_e * boost, sine_e * boost, np.asarray(transient)

    def adjust(self, x_high: np.ndarray, p: EnvelopeParams) -> np.ndarray:
        """Adjust one frame of patched high band ``[S, M]`` -> output high band ``[S, M]``."""
        num_slots, num_bands = x_high.shape
        gain_amp = np.zeros((num_slots, num_bands))
        noise_amp = np.zeros((num_slots, num_bands))
        sine_amp = np.zeros((num_slots, num_bands))
        smooth = np.ones(num_slots, bool)
        for e in range(len(p.slot_borders) - 1):
            s0, s1 = int(p.slot_borders[e]), int(p.slot_borders[e + 1])
            g, q, s, transient = self._gains(x_high[s0:s1], p, e)
            gain_amp[s0:s1], noise_amp[s0:s1], sine_amp[s0:s1] = np.sqrt(g), np.sqrt(q), np.sqrt(s)
            smooth[s0:s1] = not bool(transient)
        hist = len(SMOOTHING) - 1
        if self.gain_hist is None or self.noise_hist is None:
            self.gain_hist = np.repeat(gain_amp[:1], hist, axis=0)
            self.noise_hist = np.repeat(noise_amp[:1], hist, axis=0)
        g_all = np.concatenate([self.gain_hist, gain_amp])
        q_all = np.concatenate([self.noise_hist, noise_amp])
        g_filt = sum(SMOOTHING[i] * g_all[hist - i : hist - i + num_slots] for i in range(hist + 1))
        q_filt = sum(SMOOTHING[i] * q_all[hist - i : hist - i + num_slots] for i in range(hist + 1))
        g_filt = np.where(smooth[:, None], g_filt, gain_amp)
        q_filt = np.where(smooth[:, None], q_filt, noise_amp)
        self.gain_hist, self.noise_hist = g_all[-hist:], q_all[-hist:]
        self.last_was_transient = p.transient_env == len(p.slot_borders) - 2
        idx = (
            self.noise_index + np.arange(num_slots)[:, None] * num_bands + np.arange(num_bands) + 1
        )
        noise = q_filt * NOISE[idx % NOISE_TABLE_SIZE] * (sine_amp == 0)
        self.noise_index = int((self.noise_index + num_slots * num_bands) % NOISE_TABLE_SIZE)
        k = np.arange(self.tables.kx, self.tables.k2)
        n = self.slot_index + np.arange(num_slots)[:, None]
        # A tone at the centre of QMF band k advances by pi (k + 1/2) per slot (see dsp.qmf).
        phase = np.exp(1j * np.pi / 2 * ((2 * k[None, :] + 1) * n % 4))
        self.slot_index = int((self.slot_index + num_slots) % 4)
        return x_high * g_filt + noise + sine_amp * phase
