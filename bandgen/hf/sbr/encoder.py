"""SBR encoder: side-info estimation from the original and the decoded core (ISO/IEC 14496-3,
4.6.18 as the decoder reads it; the encoder itself is informative in the standard).

Per frame of 32 QMF slots:

1. transient detection on the original's SBR-range energy per SBR time slot (2 QMF slots):
   a rise of more than ``TRANSIENT_DB`` over the mean of the previous 8 time slots puts a VAR
   grid with an envelope starting at the transient (``l_A``); otherwise FIXFIX with one
   envelope, or two when the frame's energy moves by more than ``SPLIT_DB``;
2. envelope energies of the original, averaged per envelope and band, quantised;
3. inverse filtering and noise floor against what the receiver will patch: the decoder's HF
   generator is run on the decoded core (``core_wav48``) with the decoder's own chirp state.
   Tonality is measured as the order-2 prediction residual ratio ``rho`` (1 noise-like,
   0 tonal).  The inverse-filtering level grows with how much more tonal the patched core is
   than the original; the noise floor is the noise the patched band still lacks,
   ``Q = (rho_orig - rho_patch) / (1 - rho_orig)``;
   the noise floor is held at the last coded value while it moves by at most
   ``NOISE_HOLD_STEPS`` (3 dB each), which its time-delta code sends almost for free;
4. missing harmonics: a high-resolution band gets a sinusoid when its strongest QMF band is
   tonal in the original (``rho < 0.05``, hysteresis 0.1), carries most of the band's energy
   and is not tonal in the patched core;
5. quantisation, delta and Huffman coding (:mod:`.bitstream.frame`).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from bandgen.dsp.qmf import QmfAnalysis
from bandgen.hf.base import HighBandEncoder
from bandgen.hf.sbr.bitstream.frame import TIME_SLOTS, DeltaState, SbrFrame, write_frame
from bandgen.hf.sbr.decoder import FRAME_LENGTH, FRAME_SLOTS, NOISE_FLOOR_OFFSET, quantise_energy
from bandgen.hf.sbr.hfgen import LOOKBACK, HfGenerator, lpc_coefficients
from bandgen.hf.sbr.tables import BandTables

TRANSIENT_DB = 10.0
SPLIT_DB = 6.0
SILENCE = 1e-10  # per-slot SBR-range energy below which nothing is a transient
REFRESH_FRAMES = 24
"""Every this many frames (about a second) the envelopes and noise floors are coded without
reference to the previous frame, so a decoder that lost frames can start again there."""
_INVF_THRESHOLDS_DB = (3.0, 8.0, 14.0)  # tonality excess of the patch -> invf 1, 2, 3
NOISE_QUIET = 12
"""Largest noise-floor code the encoder sends (Q = 2^(6 - 14), noise 24 dB under the band):
a band that needs no noise gets this rather than 30 (Q = 2^-24). Both are inaudible, but the
estimate flips between "none" and 6-14 from frame to frame, and jumps of 20 steps cost 8-10
bits each in the time-delta code."""
NOISE_HOLD_STEPS = 1
"""A noise-floor value within this many quantiser steps (3 dB) of the last one coded in its
band repeats it: the estimate jitters from frame to frame by a step or so, and sending that
jitter cost a quarter of the side info (about 24 of 96 bits a frame at 12 kbps on the dev
clips) for no audible or measured gain."""


def hold_noise(noise: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    """Apply :data:`NOISE_HOLD_STEPS` to the noise envelopes of a frame in order.

    Args:
        noise: quantised noise floors ``[NE, NQ]``.
        prev: the last coded noise envelope ``[NQ]`` (``None`` at the start).

    Returns:
        ``[NE, NQ]``: each value replaced by its predecessor where they differ by at most
        :data:`NOISE_HOLD_STEPS`.
    """
    out = np.array(noise, np.int64)
    for e in range(out.shape[0]):
        if prev is not None:
            out[e] = np.where(np.abs(out[e] - prev) <= NOISE_HOLD_STEPS, prev, out[e])
        prev = out[e]
    return out


def residual_ratio(x: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Order-2 prediction residual / energy per band and span.

    Args:
        x: QMF slots ``[LOOKBACK + S, K]`` (two past slots first).
        spans: slot ranges within the ``S`` frame slots.

    Returns:
        ``[len(spans), K]`` ratios in ``[0, 1]`` (1 where a band is silent).
    """
    a0, a1 = lpc_coefficients(x)
    resid = np.abs(x[2:] + a0 * x[1:-1] + a1 * x[:-2]) ** 2
    energy = np.abs(x[2:]) ** 2
    out = np.ones((len(spans), x.shape[1]))
    for i, (s0, s1) in enumerate(spans):
        r, e = resid[s0:s1].sum(0), energy[s0:s1].sum(0)
        out[i] = np.where(e > 1e-20, np.clip(r / np.maximum(e, 1e-300), 0, 1), 1.0)
    return out


def _band_mean(values: np.ndarray, weights: np.ndarray, borders: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values [..., M]`` per band of ``borders`` (relative to ``kx``)."""
    num = np.add.reduceat(values * weights, borders[:-1], axis=-1)
    den = np.add.reduceat(weights, borders[:-1], axis=-1)
    return num / np.maximum(den, 1e-300)


class SbrEncoder(HighBandEncoder):
    """Streaming SBR side-info encoder for one channel (see module doc).

    Aligned blocks of the original and the decoded core are pushed in any sizes; every
    whole frame of 2048 samples is analysed as it completes, with the QMF history, the
    transient detector's past energies, the HF generator's chirp state and the delta
    coder's previous frame carried over, so pushing in blocks gives exactly the payloads
    of :meth:`encode` on the whole signal, in bounded memory.
    """

    def __init__(self, tables: BandTables, amp_res_db: float) -> None:
        self.tables = tables
        self.amp_res_db = amp_res_db
        self._qmf_orig, self._qmf_core = QmfAnalysis(), QmfAnalysis()
        self._pending = (np.zeros(0), np.zeros(0))  # samples not yet in a whole frame
        # the last LOOKBACK QMF slots of each signal (zeros before the start)
        self._orig_tail = np.zeros((LOOKBACK, 64), complex)
        self._core_tail = np.zeros((LOOKBACK, 64), complex)
        self._past_energy = np.zeros(0)  # SBR-range energy of the last 8 SBR time slots
        self._hfgen = HfGenerator(tables)
        self._delta = DeltaState()
        self._frames_coded = 0
        self._prev_sines = np.zeros(len(tables.high) - 1, np.int64)
        self._prev_noise: np.ndarray | None = None

    def _grid(
        self, past: np.ndarray, energy: np.ndarray
    ) -> tuple[tuple[int, ...], tuple[int, ...], bool, int]:
        """Envelope borders, freq_res, FIXFIX flag and ``l_A`` of a frame.

        ``energy`` is the frame's SBR-range energy per SBR time slot ``[16]``; ``past`` the
        up to 8 time slots before it.
        """
        history = np.concatenate([past, energy])
        ratios = []
        for t in range(TIME_SLOTS):
            now = past.shape[0] + t
            before = history[max(0, now - 8) : now]
            ref = before.mean() if before.size else 0.0
            e = history[now]
            ratios.append(10 * np.log10((e + SILENCE) / (ref + SILENCE)) if e > SILENCE else 0.0)
        best = int(np.argmax(ratios))
        if ratios[best] > TRANSIENT_DB:
            start = 0 if best < 2 else best
            cuts = [0, start, min(start + 3, TIME_SLOTS), TIME_SLOTS]
            if TIME_SLOTS - cuts[2] < 2:
                cuts[2] = TIME_SLOTS
            borders = tuple(sorted(set(cuts)))
            l_a = borders.index(start)
            freq_res = tuple(int(b - a >= 4) for a, b in itertools.pairwise(borders))
            return borders, freq_res, False, l_a
        halves = energy.reshape(2, -1).sum(1) + SILENCE * 8
        num_env = 2 if abs(10 * np.log10(halves[0] / halves[1])) > SPLIT_DB else 1
        borders = tuple(TIME_SLOTS * i // num_env for i in range(num_env + 1))
        return borders, (1,) * num_env, True, -1

    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        """Feed aligned blocks ``[T]`` of original and decoded core; return finished payloads."""
        orig = np.concatenate([self._pending[0], np.asarray(wav48, np.float64).reshape(-1)])
        core = np.concatenate([self._pending[1], np.asarray(core_wav48, np.float64).reshape(-1)])
        whole = min(orig.shape[0], core.shape[0]) // FRAME_LENGTH * FRAME_LENGTH
        self._pending = (orig[whole:], core[whole:])
        return self._frames(orig[:whole], core[:whole])

    def flush(self) -> list[bytes]:
        """Zero-pad the last partial frame and code it; returns its payload (if any)."""
        orig, core = self._pending
        if orig.shape[0] == 0 and core.shape[0] == 0:
            return []
        size = max(orig.shape[0], core.shape[0])
        self._pending = (np.zeros(0), np.zeros(0))
        return (
            self._frames(
                np.pad(orig, (0, FRAME_LENGTH - orig.shape[0])),
                np.pad(core, (0, FRAME_LENGTH - core.shape[0])),
            )
            if size
            else []
        )

    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        """Code ``wav48 [T]`` given the decoded core ``[T]``: ``ceil(T / 2048)`` payloads."""
        return self.push(wav48, core_wav48) + self.flush()

    def _frames(self, orig_wav: np.ndarray, core_wav: np.ndarray) -> list[bytes]:
        """Code whole frames of aligned samples (a multiple of 2048 each)."""
        t = self.tables
        if orig_wav.shape[0] == 0:
            return []
        orig = np.concatenate([self._orig_tail, self._qmf_orig.process(orig_wav)])
        core = np.concatenate([self._core_tail, self._qmf_core.process(core_wav)])
        self._orig_tail, self._core_tail = orig[-LOOKBACK:], core[-LOOKBACK:]
        energy = np.sum(np.abs(orig[LOOKBACK:, t.kx : t.k2]) ** 2, axis=1).reshape(-1, 2).sum(1)
        payloads = []
        for f in range(orig_wav.shape[0] // FRAME_LENGTH):
            s0 = f * FRAME_SLOTS
            x_orig = orig[s0 : s0 + FRAME_SLOTS + LOOKBACK, t.kx : t.k2]
            x_core = core[s0 : s0 + FRAME_SLOTS + LOOKBACK]
            frame_energy = energy[f * TIME_SLOTS : (f + 1) * TIME_SLOTS]
            borders, freq_res, fixed, l_a = self._grid(self._past_energy, frame_energy)
            self._past_energy = np.concatenate([self._past_energy, frame_energy])[-8:]
            frame = self._estimate(
                x_orig, x_core, self._hfgen, borders, freq_res, fixed, l_a, self._prev_sines
            )
            held = hold_noise(np.asarray(frame.noise), self._prev_noise)
            frame = replace(frame, noise=tuple(tuple(int(v) for v in row) for row in held))
            if self._frames_coded % REFRESH_FRAMES == 0:
                self._delta = DeltaState()  # no time deltas: a decoder can start here
            self._frames_coded += 1
            payload, coded = write_frame(frame, t, self._delta, self.amp_res_db)
            self._prev_sines = np.asarray(coded.sines)
            self._prev_noise = np.asarray(coded.noise[-1], np.int64)
            payloads.append(payload)
        return payloads

    def _estimate(
        self,
        x_orig: np.ndarray,
        x_core: np.ndarray,
        hfgen: HfGenerator,
        borders: tuple[int, ...],
        freq_res: tuple[int, ...],
        fixed: bool,
        l_a: int,
        prev_sines: np.ndarray,
    ) -> SbrFrame:
        t = self.tables
        kx = t.kx
        frame = SbrFrame(borders, freq_res, fixed, l_a, (), (), (), ())
        step = frame.amp_res_db(self.amp_res_db)
        power = np.abs(x_orig[LOOKBACK:]) ** 2
        env = []
        for e in range(frame.num_env):
            band = np.asarray(t.envelope(freq_res[e])) - kx
            seg = power[2 * borders[e] : 2 * borders[e + 1]].mean(0)
            mean = np.add.reduceat(seg, band[:-1]) / np.diff(band)
            env.append(tuple(int(v) for v in np.clip(quantise_energy(mean, step), 0, None)))
        noise_spans = [
            (2 * a, 2 * b)
            for a, b in zip(frame.noise_borders[:-1], frame.noise_borders[1:], strict=True)
        ]
        noise_b = np.asarray(t.noise) - kx
        band_power = power.mean(0) + 1e-30
        rho_orig = residual_ratio(x_orig, noise_spans)
        # Tonality of the raw patch: run the generator with its chirps off (trial, no state).
        rho_raw = residual_ratio(_raw_patch(t, x_core), [(0, FRAME_SLOTS)])[0]
        rho_o = _band_mean(rho_orig, band_power, noise_b)
        excess_db = 10 * np.log10(
            np.maximum(rho_o.mean(0), 1e-6)
            / np.maximum(_band_mean(rho_raw, band_power, noise_b), 1e-6)
        )
        invf = np.searchsorted(np.asarray(_INVF_THRESHOLDS_DB), excess_db)
        patched = hfgen.generate(x_core, invf)
        gen = np.concatenate([np.zeros((LOOKBACK, t.num_sbr_bands), complex), patched])
        rho_gen = _band_mean(residual_ratio(gen, noise_spans), band_power, noise_b)
        q = np.clip(
            (rho_o - rho_gen) / np.maximum(1 - rho_o, 1e-6), 2.0**-24, 2.0**NOISE_FLOOR_OFFSET
        )
        noise = np.clip(np.round(NOISE_FLOOR_OFFSET - np.log2(q)), 0, NOISE_QUIET).astype(int)
        sines = self._sines(x_orig, gen, prev_sines)
        return SbrFrame(
            borders,
            freq_res,
            fixed,
            l_a,
            tuple(int(i) for i in invf),
            tuple(env),
            tuple(tuple(int(v) for v in row) for row in noise),
            sines,
        )

    def _sines(self, x_orig: np.ndarray, gen: np.ndarray, prev: np.ndarray) -> tuple[int, ...]:
        """Missing-harmonic flags per high-resolution band (see module doc, step 4)."""
        t = self.tables
        span = [(0, FRAME_SLOTS)]
        rho_o = residual_ratio(x_orig, span)[0]
        rho_g = residual_ratio(gen, span)[0]
        power = np.mean(np.abs(x_orig[LOOKBACK:]) ** 2, axis=0)
        flags = []
        for j, (a, b) in enumerate(zip(t.high[:-1], t.high[1:], strict=True)):
            sl = slice(a - t.kx, b - t.kx)
            k = sl.start + int(np.argmax(power[sl]))
            limit = 0.1 if prev[j] else 0.05
            dominant = power[k] >= 0.5 * power[sl].sum() and power[k] > 1e-9
            flags.append(int(bool(dominant and rho_o[k] < limit and rho_g[k] > 0.2)))
        return tuple(flags)


def _raw_patch(t: BandTables, x_core: np.ndarray) -> np.ndarray:
    """The patched high band with no inverse filtering, lookback slots kept ``[2 + S, M]``."""
    out = np.zeros((x_core.shape[0], t.num_sbr_bands), complex)
    for source, target, width in t.patches:
        out[:, target - t.kx : target - t.kx + width] = x_core[:, source : source + width]
    return out
