"""One SBR frame's side info and its bit syntax (simplified sbr_single_channel_element, 4.4.2.8).

Per frame (32 QMF slots = 16 SBR time slots of 2 QMF slots, 2048 samples at 48 kHz):

==================  =========================================================================
field               bits
==================  =========================================================================
frame class         1: 0 = FIXFIX, 1 = VAR (transient-driven borders)
FIXFIX grid         2 (log2 of 1/2/4 envelopes) + 1 (freq_res of all envelopes)
VAR grid            2 (envelopes - 1) + 4 per interior border (time slot 1..15, increasing)
                    + 1 freq_res per envelope + ceil(log2(envelopes + 1)) transient pointer
invf modes          2 per noise band
envelopes           per envelope: 1 direction bit; freq: 6 (3 dB) / 7 (1.5 dB) bit start value
                    + Huffman deltas; time: Huffman deltas against the previous envelope
noise floor         per noise envelope: 1 direction bit; freq: 5 bit start + deltas; time: deltas
harmonics           1 flag; if set, 1 bit per high-resolution band
==================  =========================================================================

Simplified against the standard: no per-frame SBR header (the tables come from the coder's
config), the VAR class is one class with absolute borders inside the frame (the standard's
FIXVAR/VARFIX/VARVAR let borders cross frame edges), and the Huffman codes are this project's
(:mod:`.huffman`).  Amplitude resolution follows the standard: the configured one, except
1.5 dB for a FIXFIX frame with one envelope.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from bandgen.bitstream.bits import BitReader, BitWriter
from bandgen.errors import BitstreamError
from bandgen.hf.sbr.bitstream.huffman import code_for, env_context
from bandgen.hf.sbr.tables import BandTables

TIME_SLOTS = 16
"""SBR time slots per frame (each 2 QMF slots)."""
NOISE_MAX = 30
NOISE_START_BITS = 5


@dataclass(frozen=True)
class SbrFrame:
    """Quantised side info of one frame.

    Attributes:
        borders: envelope borders in SBR time slots, ``[num_env + 1]``, 0 .. 16.
        freq_res: per envelope, 0 low / 1 high resolution.
        fixed: FIXFIX class (equal envelopes) rather than VAR.
        transient_env: index of the envelope starting at a transient (``l_A``), -1 if none.
        invf: inverse-filtering mode per noise band (0..3).
        env: quantised envelope per envelope (one value per band of its resolution).
        noise: quantised noise floor per noise envelope (one per noise band).
        sines: per high-resolution band, 1 where a sinusoid is to be added.
    """

    borders: tuple[int, ...]
    freq_res: tuple[int, ...]
    fixed: bool
    transient_env: int
    invf: tuple[int, ...]
    env: tuple[tuple[int, ...], ...]
    noise: tuple[tuple[int, ...], ...]
    sines: tuple[int, ...]

    @property
    def num_env(self) -> int:
        """Number of envelopes (1..4)."""
        return len(self.borders) - 1

    @property
    def noise_borders(self) -> tuple[int, ...]:
        """Noise-floor envelope borders: one noise envelope, or two split at the transient/middle."""
        if self.num_env == 1:
            return (self.borders[0], self.borders[-1])
        middle = self.transient_env if self.transient_env > 0 else self.num_env // 2
        return (self.borders[0], self.borders[middle], self.borders[-1])

    def amp_res_db(self, configured_db: float) -> float:
        """Envelope step in dB: 1.5 for FIXFIX with one envelope, else the configured step."""
        return 1.5 if self.fixed and self.num_env == 1 else configured_db


@dataclass
class DeltaState:
    """What time-direction delta coding refers to: the previous frame's last envelope and noise."""

    env: tuple[int, ...] | None = None
    env_res: int = 1
    env_step_db: float = 3.0
    noise: tuple[int, ...] | None = None


def _env_bits(step_db: float) -> int:
    return 7 if step_db == 1.5 else 6


def map_resolution(
    prev: tuple[int, ...], prev_borders: tuple[int, ...], borders: tuple[int, ...]
) -> list[int]:
    """Previous envelope values re-indexed to ``borders``: each band takes the old band holding its start."""
    return [prev[_band_of(prev_borders, b)] for b in borders[:-1]]


def _band_of(borders: tuple[int, ...], k: int) -> int:
    for i in range(len(borders) - 1):
        if borders[i] <= k < borders[i + 1]:
            return i
    return len(borders) - 2


def _rescale_prev(values: list[int], from_db: float, to_db: float) -> list[int]:
    """Previous envelope values in another step size (1.5 <-> 3 dB), for time deltas."""
    if from_db == to_db:
        return values
    return [v * 2 for v in values] if to_db == 1.5 else [v // 2 for v in values]


def _write_values(
    writer: BitWriter,
    values: tuple[int, ...],
    ref: list[int] | None,
    context: str,
    start_bits: int,
    top: int,
) -> tuple[int, ...]:
    """Write one envelope/noise vector (direction bit + deltas); return what the decoder will hold."""
    freq_code, time_code = code_for(context.format("freq")), code_for(context.format("time"))

    def plan(direction: str) -> tuple[int, list[int], list[int]]:
        code = freq_code if direction == "freq" else time_code
        bits, deltas, recon = 1, [], []
        prev = 0
        for i, v in enumerate(values):
            if direction == "freq" and i == 0:
                rec = min(max(v, 0), top)
                bits += start_bits
                deltas.append(rec)
            else:
                base = prev if direction == "freq" or ref is None else ref[i]
                d = max(-code.max_abs, min(code.max_abs, v - base))
                rec = min(max(base + d, 0), top)
                d = rec - base
                bits += code.length(d)
                deltas.append(d)
            recon.append(rec)
            prev = rec
        return bits, deltas, recon

    options = [("freq", *plan("freq"))]
    if ref is not None:
        options.append(("time", *plan("time")))
    direction, _, deltas, recon = min(options, key=lambda o: o[1])
    writer.write(1 if direction == "time" else 0, 1)
    code = freq_code if direction == "freq" else time_code
    for i, d in enumerate(deltas):
        if direction == "freq" and i == 0:
            writer.write(d, start_bits)
        else:
            code.write(writer, d)
    return tuple(recon)


def _read_values(
    reader: BitReader,
    count: int,
    ref: list[int] | None,
    context: str,
    start_bits: int,
    top: int,
    what: str,
) -> tuple[int, ...]:
    direction = "time" if reader.read(1) else "freq"
    if direction == "time" and ref is None:
        raise BitstreamError(f"SBR {what} is time-delta coded but no previous frame was decoded")
    code = code_for(context.format(direction))
    out: list[int] = []
    for i in range(count):
        if direction == "freq" and i == 0:
            v = reader.read(start_bits)
        else:
            base = out[-1] if direction == "freq" or ref is None else ref[i]
            v = base + code.read(reader)
        if not 0 <= v <= top:
            raise BitstreamError(f"SBR {what} value {v} out of range 0..{top}")
        out.append(v)
    return tuple(out)


def _env_context(step_db: float) -> str:
    return env_context("{}", step_db)


def write_frame(
    frame: SbrFrame, tables: BandTables, state: DeltaState, amp_res_db: float
) -> tuple[bytes, SbrFrame]:
    """Serialise ``frame``; returns the payload and the frame as the decoder will see it.

    Values that the delta codes cannot reach are clamped, so the returned frame (not the input)
    is what encoder and decoder both hold afterwards; ``state`` is advanced.
    """
    w = BitWriter()
    w.write(0 if frame.fixed else 1, 1)
    if frame.fixed:
        w.write(int(math.log2(frame.num_env)), 2)
        w.write(frame.freq_res[0], 1)
    else:
        w.write(frame.num_env - 1, 2)
        for b in frame.borders[1:-1]:
            w.write(b, 4)
        for r in frame.freq_res:
            w.write(r, 1)
        w.write(frame.transient_env + 1, _pointer_bits(frame.num_env))
    for mode in frame.invf:
        w.write(mode, 2)
    step = frame.amp_res_db(amp_res_db)
    envs = []
    for e, values in enumerate(frame.env):
        borders = tables.envelope(frame.freq_res[e])
        ref = _time_ref(state, tables, borders, step)
        top = (1 << _env_bits(step)) - 1
        rec = _write_values(w, values, ref, _env_context(step), _env_bits(step), top)
        envs.append(rec)
        state.env, state.env_res, state.env_step_db = rec, frame.freq_res[e], step
    noises = []
    for values in frame.noise:
        ref = list(state.noise) if state.noise is not None else None
        rec = _write_values(w, values, ref, "noise_{}", NOISE_START_BITS, NOISE_MAX)
        noises.append(rec)
        state.noise = rec
    w.write(1 if any(frame.sines) else 0, 1)
    if any(frame.sines):
        for s in frame.sines:
            w.write(s, 1)
    return w.to_bytes(), replace(frame, env=tuple(envs), noise=tuple(noises))


def _pointer_bits(num_env: int) -> int:
    return max(1, math.ceil(math.log2(num_env + 1)))


def _time_ref(
    state: DeltaState, tables: BandTables, borders: tuple[int, ...], step: float
) -> list[int] | None:
    if state.env is None:
        return None
    prev = map_resolution(state.env, tables.envelope(state.env_res), borders)
    return _rescale_prev(prev, state.env_step_db, step)


def read_frame(
    payload: bytes, tables: BandTables, state: DeltaState, amp_res_db: float
) -> SbrFrame:
    """Parse one payload written by :func:`write_frame`; advances ``state``.

    Raises:
        BitstreamError: truncated payload, impossible grid, out-of-range value, trailing data.
    """
    r = BitReader(payload, context="SBR frame side info")
    fixed = r.read(1) == 0
    if fixed:
        log_env = r.read(2)
        if log_env > 2:
            raise BitstreamError(f"SBR FIXFIX frame with invalid envelope count code {log_env}")
        num_env = 1 << log_env
        res = r.read(1)
        borders = tuple(TIME_SLOTS * i // num_env for i in range(num_env + 1))
        freq_res, transient = (res,) * num_env, -1
    else:
        num_env = r.read(2) + 1
        inner = [r.read(4) for _ in range(num_env - 1)]
        borders = (0, *inner, TIME_SLOTS)
        if any(b <= a for a, b in itertools.pairwise(borders)):
            raise BitstreamError(f"SBR envelope borders {borders} are not strictly increasing")
        freq_res = tuple(r.read(1) for _ in range(num_env))
        transient = r.read(_pointer_bits(num_env)) - 1
        if transient >= num_env:
            raise BitstreamError(f"SBR transient pointer {transient} beyond {num_env} envelopes")
    invf = tuple(r.read(2) for _ in range(len(tables.noise) - 1))
    frame = SbrFrame(borders, freq_res, fixed, transient, invf, (), (), ())
    step = frame.amp_res_db(amp_res_db)
    envs = []
    for e in range(num_env):
        env_borders = tables.envelope(freq_res[e])
        ref = _time_ref(state, tables, env_borders, step)
        top = (1 << _env_bits(step)) - 1
        rec = _read_values(
            r, len(env_borders) - 1, ref, _env_context(step), _env_bits(step), top, "envelope"
        )
        envs.append(rec)
        state.env, state.env_res, state.env_step_db = rec, freq_res[e], step
    noises = []
    for _ in range(len(frame.noise_borders) - 1):
        ref = list(state.noise) if state.noise is not None else None
        rec = _read_values(
            r, len(tables.noise) - 1, ref, "noise_{}", NOISE_START_BITS, NOISE_MAX, "noise floor"
        )
        noises.append(rec)
        state.noise = rec
    num_high = len(tables.high) - 1
    sines = tuple(r.read(1) for _ in range(num_high)) if r.read(1) else (0,) * num_high
    left = r.bits_left
    if left >= 8 or r.read(left):
        raise BitstreamError(f"SBR frame side info has {left} trailing bits that are not padding")
    return replace(frame, env=tuple(envs), noise=tuple(noises), sines=sines)
