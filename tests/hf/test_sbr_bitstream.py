"""SBR side info: bit-exact quantisation/entropy-coding round trips and refusal of bad payloads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bandgen.bitstream.bits import BitReader, BitWriter
from bandgen.errors import BitstreamError
from bandgen.hf.sbr.bitstream.frame import DeltaState, SbrFrame, read_frame, write_frame
from bandgen.hf.sbr.bitstream.huffman import _CONTEXTS, code_for
from bandgen.hf.sbr.decoder import dequantise_energy, quantise_energy
from bandgen.hf.sbr.tables import mode_tables


@pytest.mark.parametrize("context", sorted(_CONTEXTS))
def test_huffman_round_trip(context: str, rng: np.random.Generator) -> None:
    code = code_for(context)
    kraft = sum(2.0**-length for _, length in code.codes)
    assert kraft == pytest.approx(1.0)
    deltas = [int(d) for d in rng.integers(-code.max_abs, code.max_abs + 1, 200)]
    w = BitWriter()
    for d in deltas:
        code.write(w, d)
    r = BitReader(w.to_bytes())
    assert [code.read(r) for _ in deltas] == deltas


@pytest.mark.parametrize("step_db", [1.5, 3.0])
def test_energy_quantiser(step_db: float) -> None:
    codes = np.arange(0, 60)
    np.testing.assert_array_equal(
        quantise_energy(dequantise_energy(codes, step_db), step_db), codes
    )


def _random_frame(rng: np.random.Generator, mode: int, fixed: bool) -> SbrFrame:
    t = mode_tables(mode)
    if fixed:
        num_env = int(rng.choice([1, 2, 4]))
        borders = tuple(16 * i // num_env for i in range(num_env + 1))
        freq_res = (int(rng.integers(2)),) * num_env
        l_a = -1
    else:
        num_env = int(rng.integers(2, 5))
        inner = sorted(rng.choice(np.arange(1, 16), num_env - 1, replace=False).tolist())
        borders = (0, *inner, 16)
        freq_res = tuple(int(v) for v in rng.integers(0, 2, num_env))
        l_a = int(rng.integers(-1, num_env))
    step = 1.5 if fixed and num_env == 1 else 3.0
    top = 127 if step == 1.5 else 63
    env = tuple(
        tuple(
            int(v)
            for v in np.clip(40 + rng.integers(-6, 7, len(t.envelope(r)) - 1).cumsum(), 0, top)
        )
        for r in freq_res
    )
    frame = SbrFrame(borders, freq_res, fixed, l_a, (), (), (), ())
    num_noise = len(frame.noise_borders) - 1
    noise = tuple(
        tuple(int(v) for v in rng.integers(0, 31, len(t.noise) - 1)) for _ in range(num_noise)
    )
    invf = tuple(int(v) for v in rng.integers(0, 4, len(t.noise) - 1))
    sines = tuple(int(v) for v in rng.random(len(t.high) - 1) < 0.2)
    return SbrFrame(borders, freq_res, fixed, l_a, invf, env, noise, sines)


@pytest.mark.parametrize("mode", [12, 16, 32])
def test_frame_round_trip_bit_exact(mode: int, rng: np.random.Generator) -> None:
    t = mode_tables(mode)
    enc_state, dec_state = DeltaState(), DeltaState()
    for i in range(30):
        frame = _random_frame(rng, mode, fixed=bool(i % 3))
        payload, coded = write_frame(frame, t, enc_state, 3.0)
        assert coded == frame  # small deltas: nothing clamped
        decoded = read_frame(payload, t, dec_state, 3.0)
        assert decoded == coded
        assert vars(dec_state) == vars(enc_state)


def test_clamped_values_are_what_the_decoder_gets() -> None:
    t = mode_tables(12)
    rng = np.random.default_rng(3)
    frame = _random_frame(rng, 12, fixed=False)
    wild = tuple(tuple(int(v) for v in rng.integers(0, 64, len(e))) for e in frame.env)
    frame = dataclasses.replace(frame, env=wild)
    payload, coded = write_frame(frame, t, DeltaState(), 3.0)
    assert read_frame(payload, t, DeltaState(), 3.0) == coded


def _payloads(mode: int = 12) -> list[bytes]:
    rng = np.random.default_rng(1)
    state = DeltaState()
    return [
        write_frame(_random_frame(rng, mode, fixed=i % 2 == 0), mode_tables(mode), state, 3.0)[0]
        for i in range(6)
    ]


def test_truncated_payload_refused() -> None:
    t = mode_tables(12)
    payloads = _payloads()
    state = DeltaState()
    read_frame(payloads[0], t, state, 3.0)
    with pytest.raises(BitstreamError, match="needs"):
        read_frame(payloads[1][:-1], t, state, 3.0)
    with pytest.raises(BitstreamError):
        read_frame(b"", t, DeltaState(), 3.0)


def test_garbage_payload_refused() -> None:
    t = mode_tables(12)
    with pytest.raises(BitstreamError, match="borders"):
        read_frame(b"\xff" * 40, t, DeltaState(), 3.0)
    with pytest.raises(BitstreamError, match="trailing"):
        read_frame(_payloads()[0] + b"\x00", t, DeltaState(), 3.0)
    with pytest.raises(BitstreamError, match="FIXFIX"):
        read_frame(b"\x60" + b"\x00" * 10, t, DeltaState(), 3.0)


def test_time_delta_without_history_refused() -> None:
    t = mode_tables(12)
    env = ((30, 34, 40, 44, 41, 38, 35, 33, 30, 28, 25, 22, 20, 18),)
    frame = SbrFrame((0, 16), (1,), True, -1, (0, 1, 0), env, ((20, 22, 25),), (0,) * 14)
    state = DeltaState()
    first, _ = write_frame(frame, t, state, 3.0)
    repeat, _ = write_frame(frame, t, state, 3.0)
    assert len(repeat) < len(first)  # all-zero time deltas
    with pytest.raises(BitstreamError, match="no previous frame"):
        read_frame(repeat, t, DeltaState(), 3.0)
