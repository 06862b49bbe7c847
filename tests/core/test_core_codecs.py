"""Core codecs over PyAV: alignment, length, bitrate, streaming, rebuild from params, errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pytest

from bandgen.core import CoreCodec, CoreParams, core_from_params, find_lag, make_core
from bandgen.errors import BitstreamError

Synth = Callable[..., np.ndarray]

MODES = [("aac", 12.0), ("opus", 12.0), ("mp3", 12.0)]


def _clip(synth_clip: Synth, core: CoreCodec, kind: str, seconds: float) -> np.ndarray:
    """A mono synthetic clip at the core's sample rate, float32 ``[T]``."""
    return synth_clip(kind, seconds=seconds, sample_rate=core.sample_rate, channels=1)[0]


def _decode_raw(core: CoreCodec, packets: list[bytes]) -> np.ndarray:
    """Everything the streaming decoder returns, untrimmed ``[T']``."""
    dec = core.new_decoder()
    parts = [dec.push(p) for p in packets]
    parts.append(dec.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(("name", "kbps"), MODES)
def test_decoded_core_is_aligned_and_exact_length(
    synth_clip: Synth, name: str, kbps: float
) -> None:
    core = make_core(name, kbps)
    x = _clip(synth_clip, core, "speech", 3.0)
    packets = core.encode(x[None])
    y = core.decode(packets, x.shape[0])
    assert y.shape == (1, x.shape[0]) and y.dtype == np.float32
    assert find_lag(x, y[0], max_lag=2000) == 0
    # The decoder itself delivers the whole signal: decode() never has to zero-pad.
    assert _decode_raw(core, packets[0]).shape[0] >= x.shape[0]


@pytest.mark.parametrize(
    ("name", "kbps"), [("aac", 12.0), ("aac", 16.0), ("opus", 12.0), ("mp3", 8.0)]
)
def test_measured_payload_within_10_percent(synth_clip: Synth, name: str, kbps: float) -> None:
    core = make_core(name, kbps)
    rates = []
    for kind in ("speech", "music", "sound"):
        x = _clip(synth_clip, core, kind, 4.0)
        packets = core.encode(x[None])[0]
        rates.append(sum(len(p) for p in packets) * 8 / (x.shape[0] / core.sample_rate) / 1000)
    assert abs(np.mean(rates) / kbps - 1) < 0.10, rates


@pytest.mark.parametrize(("name", "kbps"), MODES)
def test_streaming_encode_equals_whole_signal(
    synth_clip: Synth, rng: np.random.Generator, name: str, kbps: float
) -> None:
    core = make_core(name, kbps)
    x = _clip(synth_clip, core, "music", 1.5)
    whole = core.encode(x[None])[0]
    enc = core.new_encoder()
    streamed: list[bytes] = []
    start = 0
    while start < x.shape[0]:
        size = int(rng.choice([1, 7, 333, 1000, 4097]))
        streamed += enc.push(x[start : start + size])
        start += size
    streamed += enc.flush()
    assert streamed == whole


@pytest.mark.parametrize(("name", "kbps"), [*MODES, ("aac", 24.0), ("opus", 24.0), ("mp3", 32.0)])
def test_decoder_rebuilt_from_params_only(synth_clip: Synth, name: str, kbps: float) -> None:
    core = make_core(name, kbps)
    x = _clip(synth_clip, core, "sound", 1.0)
    packets = core.encode(x[None])
    # What a .bgn header stores: the params as JSON, nothing else.
    stored = json.loads(json.dumps(dataclasses.asdict(core.params)))
    rebuilt = core_from_params(CoreParams(**stored))
    assert rebuilt.params == core.params
    np.testing.assert_array_equal(
        rebuilt.decode(packets, x.shape[0]), core.decode(packets, x.shape[0])
    )


def test_multichannel_codes_each_channel(synth_clip: Synth) -> None:
    core = make_core("aac", 16.0)
    x = synth_clip("music", seconds=1.0, sample_rate=core.sample_rate)
    packets = core.encode(x)
    assert len(packets) == 2
    assert core.decode(packets, x.shape[1]).shape == x.shape


@pytest.mark.parametrize("name", ["aac", "mp3"])
def test_random_packets_raise_bitstream_error(rng: np.random.Generator, name: str) -> None:
    core = make_core(name, 12.0)
    garbage = [rng.integers(0, 256, 40, dtype=np.uint8).tobytes() for _ in range(4)]
    with pytest.raises(BitstreamError, match="packet 0"):
        core.decode([garbage], 4000)


@pytest.mark.parametrize(
    "packet",
    [b"\xff\xff\xff", b"\x18" + bytes(30)],  # bad frame count; a 60 ms frame, not 20 ms
)
def test_bad_opus_packets_raise_bitstream_error(packet: bytes) -> None:
    core = make_core("opus", 12.0)
    with pytest.raises(BitstreamError):
        core.decode([[packet]], 4000)


@pytest.mark.parametrize("name", ["aac", "opus", "mp3"])
def test_empty_packet_raises_bitstream_error(name: str) -> None:
    with pytest.raises(BitstreamError, match="empty"):
        make_core(name, 12.0).new_decoder().push(b"")
