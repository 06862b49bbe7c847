"""64-band complex-exponential-modulated QMF bank of the SBR tool (ISO/IEC 14496-3, 4.6.18.4).

The SBR decoder of HE-AAC analyses the decoded core into complex QMF sub-band samples, patches
and shapes the high sub-bands, and synthesises the full band with a real-output bank.  This
module is that filter-bank pair at 48 kHz: ``M = 64`` bands of 375 Hz, one sub-band sample per
band every 64 input samples (one "QMF slot", 1.333 ms), a 640-tap (``10 M``) lowpass prototype.

Prototype.  The standard tabulates its prototype; here it is derived instead: a Kaiser-windowed
sinc with cutoff near ``pi / (2 M)`` whose cutoff is tuned so that ``p * p`` is a ``2M``-th band
Nyquist filter (Lin & Vaidyanathan, IEEE SPL 1998) phase by phase, then each polyphase phase is
rescaled so the
power-complementary condition ``sum_l p(n + l M)^2 = 1 / M`` holds exactly.

Why that is enough.  With analysis ``X_k(l) = sum_n p(n) x(lM + n) exp(-i pi/M (k+1/2)(n + n0))``
and synthesis ``y(lM + n) += p(n) Re{sum_k X_k(l) exp(+i pi/M (k+1/2)(n + n0))}``, the sum over
all ``k`` of the modulation kernels is ``M (-1)^j`` at lags ``2 M j`` and zero elsewhere, so
``y(t) = M sum_j (-1)^j x(t - 2Mj) sum_l p(t - lM) p(t - lM - 2Mj)``: the ``j = 0`` term is
exact by the rescaling and the ``j != 0`` echo terms are the (tiny) Nyquist error of ``p * p``.
Each complex band passes only positive frequencies and its two-sided bandwidth is below
``2 pi / M``, so sub-bands can be scaled independently with negligible aliasing, which is what
SBR's envelope adjuster relies on.

Alignment.  Slot ``l`` analyses ``x[(l - 9) M : (l + 1) M]`` (the newest 640 samples once
``(l + 1) M`` samples are in) and synthesis writes back to the same span, so a causal
(streaming) implementation lags by :data:`DELAY` = 576 samples (the standard's pair: 577).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

NUM_BANDS = 64
"""QMF bands ``M`` (375 Hz each at 48 kHz)."""
PROTOTYPE_TAPS = 10 * NUM_BANDS
"""Prototype length (640)."""
DELAY = PROTOTYPE_TAPS - NUM_BANDS
"""Analysis + synthesis lag in samples of the causal pair (576)."""
_KAISER_BETA = 9.0
_PHASE_OFFSET = 0.5 + NUM_BANDS / 2  # n0; any value reconstructs, this one is the MLT phase


def _echo_error(prototype: np.ndarray, num_bands: int) -> float:
    """Largest reconstruction echo ``M |sum_l p(n + lM) p(n + lM + 2Mj)|`` over phases ``n``, ``j != 0``.

    Measured after the polyphase power normalisation, so it is the amplitude of the worst
    echo the analysis/synthesis pair leaves (0 for a perfect-reconstruction prototype).
    """
    blocks = prototype.reshape(-1, num_bands)
    blocks = blocks / np.sqrt(num_bands * np.sum(blocks**2, axis=0))
    lags = range(2, blocks.shape[0], 2)
    return float(
        max(np.max(np.abs(np.sum(blocks[:-j] * blocks[j:], axis=0))) for j in lags) * num_bands
    )


@functools.cache
def prototype_filter() -> np.ndarray:
    """The derived 640-tap lowpass prototype ``p`` (float64 ``[640]``, symmetric).

    Kaiser (beta 9) windowed sinc; cutoff chosen by golden-section search minimising the
    worst reconstruction echo (:func:`_echo_error`); polyphase power normalised to ``1 / M`` exactly.
    """
    m, taps = NUM_BANDS, PROTOTYPE_TAPS
    n = np.arange(taps) - (taps - 1) / 2
    window = np.kaiser(taps, _KAISER_BETA)

    def design(cutoff: float) -> np.ndarray:
        return window * cutoff / np.pi * np.sinc(cutoff / np.pi * n)

    lo, hi = 0.7 * np.pi / (2 * m), 1.3 * np.pi / (2 * m)
    golden = (np.sqrt(5.0) - 1) / 2
    for _ in range(60):
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if _echo_error(design(a), m) < _echo_error(design(b), m):
            hi = b
        else:
            lo = a
    proto = design((lo + hi) / 2)
    power = np.sum(proto.reshape(-1, m) ** 2, axis=0)  # sum_l p(n + lM)^2 per phase n
    return proto / np.sqrt(m * np.tile(power, taps // m))


@functools.cache
def _modulation() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Folded prototype ``[5, 128]`` (sign-alternated blocks) and the FFT twiddles.

    The modulation ``sum_n u(n) exp(-i pi/M (k+1/2)(n + n0))`` is a length-``2M`` FFT between a
    pre-twiddle ``exp(-i pi n / 2M)`` ``[128]`` and a post-twiddle
    ``exp(-i pi/M (k+1/2) n0)`` ``[64]`` (numpy's FFT, unlike a BLAS matmul, spawns no threads).
    """
    m = NUM_BANDS
    pre = np.exp(-1j * np.pi * np.arange(2 * m) / (2 * m))
    post = np.exp(-1j * np.pi / m * (np.arange(m) + 0.5) * _PHASE_OFFSET)
    signs = (-1.0) ** np.arange(PROTOTYPE_TAPS // (2 * m))
    folded = prototype_filter().reshape(-1, 2 * m) * signs[:, None]
    return folded, pre, post


def analysis_frames(frames: np.ndarray) -> np.ndarray:
    """QMF analysis of windows ``[L, 640]`` (each the 640 samples of one slot) -> ``[L, 64]`` complex."""
    folded, pre, post = _modulation()
    u = (frames.reshape(frames.shape[0], -1, 2 * NUM_BANDS) * folded).sum(axis=1)
    return np.fft.fft(u * pre, axis=-1)[:, :NUM_BANDS] * post


def analysis(wav: np.ndarray) -> np.ndarray:
    """Offline QMF analysis of ``wav [T]``: ``[ceil(T / 64) + 9, 64]`` complex128 slots.

    Slot ``l`` covers ``wav[(l - 9) 64 : (l + 1) 64]`` (zeros outside the signal); the nine
    extra slots cover the end of the signal so that :func:`synthesis` can rebuild all of it.
    """
    wav = np.asarray(wav, dtype=np.float64)
    return QmfAnalysis().process(np.concatenate([wav, np.zeros(DELAY)]))


def synthesis(subbands: np.ndarray) -> np.ndarray:
    """Offline real QMF synthesis of ``subbands [L, 64]`` -> ``[64 (L - 9)]`` float64, lag-free.

    Only the samples no later slot would add to are returned, so
    ``synthesis(analysis(x))[:T]`` reconstructs ``x [T]`` (to the prototype's accuracy).
    """
    return QmfSynthesis().process(subbands)[DELAY:]


@dataclass
class QmfAnalysis:
    """Streaming analysis: push ``M``-multiples of samples, get one slot per 64 samples.

    Attributes:
        history: the last 576 input samples (state carried between calls).
    """

    history: np.ndarray = field(default_factory=lambda: np.zeros(DELAY))

    def process(self, wav: np.ndarray) -> np.ndarray:
        """Analyse ``wav [T]`` (zero-padded to a multiple of 64) -> slots ``[ceil(T/64), 64]``."""
        wav = np.asarray(wav, dtype=np.float64)
        pad = -wav.shape[0] % NUM_BANDS
        buf = np.concatenate([self.history, wav, np.zeros(pad)])
        num_slots = (buf.shape[0] - DELAY) // NUM_BANDS
        self.history = buf[buf.shape[0] - DELAY :].copy()
        if num_slots == 0:
            return np.zeros((0, NUM_BANDS), np.complex128)
        frames = np.lib.stride_tricks.sliding_window_view(buf, PROTOTYPE_TAPS)[::NUM_BANDS]
        return analysis_frames(frames[:num_slots])


@dataclass
class QmfSynthesis:
    """Streaming real-output synthesis: one slot ``[64]`` in, 64 finished samples out (lag 576).

    Attributes:
        tail: partial overlap-add sums of the last 576 output samples (state).
    """

    tail: np.ndarray = field(default_factory=lambda: np.zeros(DELAY))

    def process(self, subbands: np.ndarray) -> np.ndarray:
        """Synthesise ``subbands [L, 64]`` -> ``[64 L]`` samples (lagging the input by 576)."""
        m = NUM_BANDS
        num_slots = subbands.shape[0]
        folded, pre, post = _modulation()
        spec = np.zeros((num_slots, 2 * m), np.complex128)
        spec[:, :m] = subbands * post.conj()
        half = (np.fft.ifft(spec, axis=-1) * (2 * m) * pre.conj()).real  # [L, 128]
        frames = (half[:, None, :] * folded[None]).reshape(num_slots, -1, m)  # [L, 10, 64]
        blocks = frames.shape[1]
        acc = np.zeros((num_slots + blocks - 1, m))
        acc[: blocks - 1] = self.tail.reshape(blocks - 1, m)
        for q in range(blocks):
            acc[q : q + num_slots] += frames[:, q]
        self.tail = acc[num_slots:].reshape(-1).copy()
        return acc[:num_slots].reshape(-1)
