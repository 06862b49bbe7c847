"""The Opus core's CBR guard: no libopus SILK blow-up reaches the stream (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.core import find_lag, make_core
from bandgen.core.engine import PyAVEncoder
from bandgen.core.opus import OPUS_FRAME_LENGTH, OpusCore
from bandgen.core.opus_guard import FALLBACK_FRAMES, GuardedEncoder
from bandgen.core.pyav_core import PyAVCore

RATE = 48_000


def _sweep(seconds: float = 0.5, f0: float = 200.0, f1: float = 4000.0) -> np.ndarray:
    """A linear sine sweep at 0.1 (rms 0.071), then 0.1 s of silence, float32 ``[T]``."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = 0.1 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))
    return np.concatenate([tone, np.zeros(RATE // 10)]).astype(np.float32)


def _frame_rms(wav: np.ndarray) -> np.ndarray:
    n = wav.shape[0] // OPUS_FRAME_LENGTH * OPUS_FRAME_LENGTH
    return np.sqrt(np.mean(wav[:n].reshape(-1, OPUS_FRAME_LENGTH) ** 2, axis=1))


def _code(core: OpusCore, wav: np.ndarray, *, guarded: bool = True) -> list[bytes]:
    enc = core.new_encoder() if guarded else PyAVCore.new_encoder(core)
    return [*enc.push(wav), *enc.flush()]


@pytest.mark.parametrize("kbps", [12.0, 16.0])
def test_unguarded_libopus_blows_up_on_a_sine_sweep(kbps: float) -> None:
    """Why the guard exists: plain libopus CBR turns a 0.1 sweep into a full-scale tone."""
    core = make_core("opus", kbps, exact_rate=True)
    x = _sweep()
    y = core.decode([_code(core, x, guarded=False)], x.shape[0])[0]
    assert _frame_rms(y).max() > 0.5


@pytest.mark.parametrize("kbps", [12.0, 16.0])
def test_guarded_cbr_core_codes_a_sine_sweep_at_its_level(kbps: float) -> None:
    """Through the core (guarded), no frame comes out far louder than the sweep."""
    core = make_core("opus", kbps, exact_rate=True)
    x = _sweep()
    y = core.decode(core.encode(x[None]), x.shape[0])[0]
    assert _frame_rms(y).max() < 0.25  # input 0.071; unguarded 0.8 and more
    assert np.abs(y).max() < 0.6  # unguarded: full scale


def test_replaced_packets_keep_the_rate_the_count_and_the_alignment() -> None:
    """Fallback packets are CBR at the same size, one per frame, and decode aligned."""
    core = make_core("opus", 16.0, exact_rate=True)
    x = _sweep()
    enc = core.new_encoder()
    assert isinstance(enc, GuardedEncoder)
    packets = [*enc.push(x), *enc.flush()]
    assert enc.blowups
    plain = _code(core, x, guarded=False)
    assert len(packets) == len(plain)
    assert {len(p) for p in packets} == {len(plain[1])}
    y = core.decode([packets], x.shape[0])[0]
    start = enc.blowups[0] * OPUS_FRAME_LENGTH
    span = slice(start, start + FALLBACK_FRAMES * OPUS_FRAME_LENGTH // 2)
    assert abs(find_lag(x[span], y[span], 48)) <= 3


@pytest.mark.parametrize("kind", ["speech", "music"])
def test_streams_that_never_blow_up_are_unchanged(synth_clip, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Without a blow-up the guarded stream is byte-identical to plain libopus's."""
    core = make_core("opus", 16.0, exact_rate=True)
    x = synth_clip(kind, seconds=2.0, sample_rate=RATE, channels=1)[0]
    enc = core.new_encoder()
    packets = [*enc.push(x), *enc.flush()]
    assert isinstance(enc, GuardedEncoder) and not enc.blowups
    assert packets == _code(core, x, guarded=False)


def test_guarded_packets_do_not_depend_on_block_sizes() -> None:
    core = make_core("opus", 12.0, exact_rate=True)
    x = _sweep()
    whole = core.encode(x[None])[0]
    enc = core.new_encoder()
    blocks = []
    for at in range(0, x.shape[0], 777):
        blocks += enc.push(x[at : at + 777])
    assert [*blocks, *enc.flush()] == whole


def test_the_vbr_anchor_stays_plain_libopus() -> None:
    assert isinstance(make_core("opus", 12.0).new_encoder(), PyAVEncoder)


def test_an_empty_stream_has_no_packets() -> None:
    core = make_core("opus", 16.0, exact_rate=True)
    assert core.new_encoder().flush() == _code(core, np.zeros(0, np.float32), guarded=False) == []


def _celt_only(packet: bytes) -> bool:
    """The packet's TOC names a CELT-only configuration (RFC 6716, 3.1: configs 16-31)."""
    return packet[0] >> 3 >= 16


def test_the_primary_resumes_after_the_fallback_span(synth_clip) -> None:  # type: ignore[no-untyped-def]
    """CELT-only for FALLBACK_FRAMES, then SILK/hybrid again on content that does not blow up."""
    core = make_core("opus", 12.0, exact_rate=True)
    speech = synth_clip("speech", seconds=1.5, sample_rate=RATE, channels=1)[0]
    x = np.concatenate([_sweep(), speech.astype(np.float32)])
    enc = core.new_encoder()
    packets = [*enc.push(x), *enc.flush()]
    assert len(enc.blowups) == 1
    first = enc.blowups[0]
    assert all(_celt_only(p) for p in packets[first : first + FALLBACK_FRAMES])
    assert not any(_celt_only(p) for p in packets[first + FALLBACK_FRAMES : -1])


def test_the_fallback_span_doubles_while_the_primary_keeps_blowing_up() -> None:
    core = make_core("opus", 16.0, exact_rate=True)
    x = np.tile(_sweep()[: RATE // 2], 8)  # 4 s of back-to-back sweeps
    enc = core.new_encoder()
    packets = [*enc.push(x), *enc.flush()]
    gaps = np.diff(enc.blowups)
    assert len(gaps) >= 2
    assert all(g >= FALLBACK_FRAMES * 2**i for i, g in enumerate(gaps))
    assert all(_celt_only(p) for p in packets[enc.blowups[0] :])
