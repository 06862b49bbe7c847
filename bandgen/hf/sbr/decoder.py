"""Streaming SBR decoder (ISO/IEC 14496-3, 4.6.18): QMF analysis of the core, HF generation,
envelope adjustment, QMF synthesis.

Works frame by frame (2048 samples, 32 QMF slots); every frame's processing depends only on
carried state, so pushing the core in any block sizes gives the same samples as offline
decoding.  The QMF pair lags 576 samples; the decoder drops them at the start and, at
``flush``, runs the frames needed to finish the signal, holding the last frame's side info
for the tail beyond the last payload.
"""

from __future__ import annotations

import numpy as np

from bandgen.dsp.qmf import DELAY, NUM_BANDS, QmfAnalysis, QmfSynthesis
from bandgen.errors import BitstreamError
from bandgen.hf.base import HighBandDecoder
from bandgen.hf.sbr.adjust import EnvelopeAdjuster, EnvelopeParams, bound_high_band
from bandgen.hf.sbr.bitstream.frame import DeltaState, SbrFrame, read_frame
from bandgen.hf.sbr.hfgen import LOOKBACK, HfGenerator
from bandgen.hf.sbr.tables import BandTables

FRAME_SLOTS = 32
FRAME_LENGTH = FRAME_SLOTS * NUM_BANDS
"""Samples at 48 kHz per SBR frame (2048)."""
NOISE_FLOOR_OFFSET = 6
ENERGY_OFFSET = 40  # envelope code 0 <-> energy 2^-40


def dequantise_energy(values: np.ndarray, step_db: float) -> np.ndarray:
    """Envelope codes -> energies: ``2^(v / a - 40)``, ``a = 2`` for 1.5 dB, 1 for 3 dB steps."""
    a = 2.0 if step_db == 1.5 else 1.0
    return np.exp2(np.asarray(values, np.float64) / a - ENERGY_OFFSET)


def quantise_energy(energy: np.ndarray, step_db: float) -> np.ndarray:
    """Inverse of :func:`dequantise_energy`, rounded to the nearest code (unclamped)."""
    a = 2.0 if step_db == 1.5 else 1.0
    return np.round(a * (np.log2(np.maximum(energy, 1e-300)) + ENERGY_OFFSET)).astype(np.int64)


def frame_params(
    frame: SbrFrame, tables: BandTables, amp_res_db: float, prev_sines: np.ndarray
) -> EnvelopeParams:
    """Dequantise ``frame`` and map it onto the SBR QMF bands (4.6.18.3.5, 4.6.18.7.2)."""
    kx, m = tables.kx, tables.num_sbr_bands
    num_env = frame.num_env
    step = frame.amp_res_db(amp_res_db)
    noise_borders = frame.noise_borders
    energy, noise = np.zeros((num_env, m)), np.zeros((num_env, m))
    sine, in_band = np.zeros((num_env, m)), np.zeros((num_env, m))
    noise_w = np.diff(tables.noise)
    high = np.asarray(tables.high)
    mids = (high[:-1] + high[1:]) // 2 - kx
    flags = np.asarray(frame.sines, bool)
    start = np.where(prev_sines.astype(bool), 0, max(frame.transient_env, 0))
    for e in range(num_env):
        borders = tables.envelope(frame.freq_res[e])
        widths = np.diff(borders)
        energy[e] = np.repeat(dequantise_energy(np.asarray(frame.env[e]), step), widths)
        ne = 0 if len(noise_borders) == 2 or frame.borders[e] < noise_borders[1] else 1
        q = np.exp2(NOISE_FLOOR_OFFSET - np.asarray(frame.noise[ne], np.float64))
        noise[e] = np.repeat(q, noise_w)
        active = flags & (e >= start)
        sine[e, mids[active]] = 1.0
        band_has = np.add.reduceat(sine[e], np.asarray(borders[:-1]) - kx) > 0
        in_band[e] = np.repeat(band_has, widths)
    return EnvelopeParams(
        slot_borders=2 * np.asarray(frame.borders),
        energy=energy,
        noise=noise,
        sine=sine,
        sine_in_band=in_band,
        transient_env=frame.transient_env,
    )


class SbrDecoder(HighBandDecoder):
    """Streaming SBR decoder for one channel (see module doc)."""

    def __init__(self, tables: BandTables, amp_res_db: float) -> None:
        self.tables = tables
        self.amp_res_db = amp_res_db
        self.delta = DeltaState()
        self.hfgen = HfGenerator(tables)
        self.adjuster = EnvelopeAdjuster(tables)
        self.analysis = QmfAnalysis()
        self.synthesis = QmfSynthesis()
        self.lookback = np.zeros((LOOKBACK, NUM_BANDS), np.complex128)
        self.pending = np.zeros(0)
        self.payloads: list[bytes] = []
        self.last: SbrFrame | None = None
        self.prev_sines = np.zeros(len(tables.high) - 1)
        self.to_skip = DELAY
        self.pushed = 0
        self.emitted = 0
        self.frame_index = 0

    def _decode_frame(self, core: np.ndarray, payload: bytes | None) -> np.ndarray:
        """Decode one frame of core ``[2048]`` (``payload=None`` holds the last side info)."""
        if payload is not None:
            try:
                self.last = read_frame(payload, self.tables, self.delta, self.amp_res_db)
            except BitstreamError as exc:
                raise BitstreamError(f"SBR frame {self.frame_index}: {exc}") from None
        frame = self.last
        if frame is None:
            raise BitstreamError("SBR decoder has core audio but no side-info payload to decode it")
        self.frame_index += 1
        x = self.analysis.process(core)
        x_low = np.concatenate([self.lookback, x])
        self.lookback = x[-LOOKBACK:]
        params = frame_params(frame, self.tables, self.amp_res_db, self.prev_sines)
        self.prev_sines = np.asarray(frame.sines, np.float64)
        high = self.hfgen.generate(x_low, np.asarray(frame.invf))
        t = self.tables
        full = np.zeros_like(x)
        full[:, : t.kx] = x[:, : t.kx]
        full[:, t.kx : t.k2] = bound_high_band(x[:, : t.kx], self.adjuster.adjust(high, params))
        return self._emit(self.synthesis.process(full))

    def _emit(self, samples: np.ndarray) -> np.ndarray:
        skip = min(self.to_skip, samples.shape[0])
        self.to_skip -= skip
        out = samples[skip:]
        self.emitted += out.shape[0]
        return out

    def push(self, core_wav48: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        """Feed core ``[T]`` and payloads; returns the finished output samples ``[T']`` float32."""
        self.pending = np.concatenate([self.pending, np.asarray(core_wav48, np.float64)])
        self.pushed += np.asarray(core_wav48).shape[0]
        self.payloads.extend(payloads)
        outs = [np.zeros(0)]
        while self.pending.shape[0] >= FRAME_LENGTH and self.payloads:
            block, self.pending = self.pending[:FRAME_LENGTH], self.pending[FRAME_LENGTH:]
            outs.append(self._decode_frame(block, self.payloads.pop(0)))
        return np.concatenate(outs).astype(np.float32)

    def flush(self) -> np.ndarray:
        """Finish the stream: decode what is left (zero-padded core), trimmed to the pushed length."""
        outs = [np.zeros(0)]
        while self.emitted < self.pushed:
            block = np.zeros(FRAME_LENGTH)
            take = min(FRAME_LENGTH, self.pending.shape[0])
            block[:take], self.pending = self.pending[:take], self.pending[take:]
            payload = self.payloads.pop(0) if self.payloads else None
            before = self.emitted
            out = self._decode_frame(block, payload)
            keep = min(out.shape[0], self.pushed - before)
            self.emitted = before + keep
            outs.append(out[:keep])
        return np.concatenate(outs).astype(np.float32)
