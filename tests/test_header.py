"""The decoder checks every header field: a hostile header is a BitstreamError, never a crash."""

from __future__ import annotations

import json
import os
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bandgen.bitstream.container import (
    MAGIC,
    ChannelFrame,
    Frame,
    encode_end,
    encode_frame,
    encode_header,
    read_container,
)
from bandgen.codec import Codec
from bandgen.errors import BitstreamError


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A stream's header, with the counts of its end record, and its frames' bytes
    in the version-1 and 2 layout (:func:`_join` writes them back as a version-1 stream:
    counts in the header)."""
    header, frames = read_container(data)
    return header, b"".join(encode_frame(frame) for frame in frames)


def _join(header: Any, frames: bytes, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header, allow_nan=True).encode()
    return (
        MAGIC
        + bytes((1,))
        + len(text).to_bytes(4, "big")
        + text
        + zlib.crc32(text).to_bytes(4, "big")
        + frames
    )


@pytest.fixture(scope="module")
def streams() -> list[bytes]:
    rng = np.random.default_rng(0)
    wav = (0.2 * rng.standard_normal((2, 12000))).astype(np.float32)
    return [
        Codec.create(bitrate_kbps=16, hf="sbr", core="aac").encode(wav, 48000),
        Codec.create(bitrate_kbps=16, hf="none", core="opus").encode(wav[:1], 48000),
        Codec.create(bitrate_kbps=16, hf="sbr", core="mp3").encode(wav[:1, :2], 44100),
    ]


def _decode_or_refuse(data: bytes) -> np.ndarray | None:
    try:
        out = Codec.decode(data)
    except BitstreamError:
        return None
    assert np.isfinite(out).all()
    return out


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("channels",), 100_000, "channels"),
        (("channels",), 2.0, "channels"),
        (("num_samples",), 10**9, "num_samples"),
        (("num_samples",), -5, "num_samples"),
        (("sample_rate",), 44100, "sample_rate"),
        (("bitrate_kbps",), "12", "bitrate_kbps"),
        (("core",), [], "core"),
        (("core", "name"), "flac", "core.name"),
        (("core", "sample_rate"), 0, "core.sample_rate"),
        (("core", "cutoff_hz"), 1e9, "core.cutoff_hz"),
        (("core", "options"), {"b": 5}, "core.options"),
        (("hf", "method"), "../../x", "hf.method"),
        (("hf", "config", "mode_kbps"), 13, "mode_kbps"),
        (("hf", "config", "start_band"), 63, "band"),
        (("hf", "config", "amp_res_db"), None, "amp_res_db"),
        (("hf", "config", "colour"), "red", "colour"),
    ],
)
def test_bad_fields_are_named(
    streams: list[bytes], path: tuple[str, ...], value: Any, match: str
) -> None:
    header, frames = _split(streams[0])
    target = header
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(BitstreamError, match=match):
        Codec.decode(_join(header, frames))


def test_nested_huge_and_non_finite_json(streams: list[bytes]) -> None:
    _, frames = _split(streams[0])
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"channels": 1' + b"0" * 5000 + b"}"):
        with pytest.raises(BitstreamError):
            Codec.decode(_join(None, frames, raw))
    header, _ = _split(streams[0])
    header["bitrate_kbps"] = float("nan")
    with pytest.raises(BitstreamError, match="JSON"):
        Codec.decode(_join(header, frames))
    header["bitrate_kbps"] = 12
    header["hf"]["config"]["extra"] = [[[[[[1]]]]]]
    with pytest.raises(BitstreamError, match="deeper"):
        Codec.decode(_join(header, frames))


def test_a_long_length_claim_allocates_nothing(streams: list[bytes]) -> None:
    """A 3 s file whose header claimed 10^9 samples grew past 4 GB."""
    header, frames = _split(streams[0])
    header["num_samples"] = 10**9
    with pytest.raises(BitstreamError, match=r"more than \d+ frames can hold"):
        Codec.decode(_join(header, frames), salvage=True)
    # many frames that hold nothing: the claim is checked against the packets decoded
    empty = encode_frame(Frame((ChannelFrame(), ChannelFrame())))
    header.update(num_frames=2000, num_samples=2000 * 6144)
    data = _join(header, empty * 2000)
    with pytest.raises(BitstreamError, match=r"frames hold about 0"):
        Codec.decode(data)
    start = time.perf_counter()
    out = Codec.decode(data, salvage=True)
    assert out.shape[1] < 48000 and time.perf_counter() - start < 5


_VALUES: list[Any] = [
    0,
    1,
    -1,
    2,
    3,
    8,
    255,
    256,
    1024,
    2048,
    44100,
    48000,
    10**6,
    10**12,
    2**63,
    -(2**63),
    0.0,
    0.5,
    1.5,
    3.0,
    1e-300,
    1e300,
    -2.5,
    True,
    False,
    None,
    "",
    "x",
    "aac",
    "opus",
    "mp3",
    "none",
    "sbr",
    "nsbg",
    "blind",
    "0" * 64,
    "/etc/passwd",
    [],
    {},
    [1, 2],
    {"a": 1},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    return out


def _mutate(header: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    header = json.loads(json.dumps(header))
    for _ in range(int(rng.integers(1, 4))):
        paths = _paths(header)
        path = paths[int(rng.integers(len(paths)))]
        parent = header
        for key in path[:-1]:
            parent = parent[key]
        if not isinstance(parent, dict):
            continue
        action = rng.integers(4)
        if action == 0:
            del parent[path[-1]]
        elif action == 1:
            parent[f"k{int(rng.integers(9))}"] = _VALUES[int(rng.integers(len(_VALUES)))]
        elif action == 2 and isinstance(parent[path[-1]], int | float):
            parent[path[-1]] = type(parent[path[-1]])(
                parent[path[-1]] * int(rng.choice([-1, 2, 1000]))
            )
        else:
            parent[path[-1]] = _VALUES[int(rng.integers(len(_VALUES)))]
    return header


def _fuzz(streams: list[bytes], cases: int, seed: int) -> tuple[int, int]:
    """``cases`` header edits with valid CRCs; returns (decoded, refused), asserting no crash."""
    rng = np.random.default_rng(seed)
    decoded = refused = 0
    for case in range(cases):
        header, frames = _split(streams[case % len(streams)])
        data = _join(_mutate(header, rng), frames)
        began = time.perf_counter()
        if _decode_or_refuse(data) is None:
            refused += 1
        else:
            decoded += 1
        assert time.perf_counter() - began < 5, case  # no hang
    return decoded, refused


def test_fuzzed_headers_are_refused_or_decode(streams: list[bytes]) -> None:
    """300 header edits with valid CRCs: each a BitstreamError or a finite decode, fast."""
    start = time.perf_counter()
    decoded, refused = _fuzz(streams, 300, seed=16)
    assert decoded > 10 and refused > 150, (decoded, refused)
    assert time.perf_counter() - start < 60


@pytest.mark.slow
def test_many_fuzzed_headers(streams: list[bytes]) -> None:
    """The long run: ``$BANDGEN_FUZZ_CASES`` (default 100 000) header edits, 0 crashes, 0 hangs."""
    cases = int(os.environ.get("BANDGEN_FUZZ_CASES", "100000"))
    decoded, refused = _fuzz(streams, cases, seed=1)
    assert decoded + refused == cases


def test_info_checks_the_header_too(streams: list[bytes], tmp_path: Path) -> None:
    from bandgen.cli import main

    header, frames = _split(streams[0])
    header["core"] = 7
    (tmp_path / "x.bgn").write_bytes(_join(header, frames))
    assert main(["info", str(tmp_path / "x.bgn")]) == 2


def test_a_forged_end_record_length_allocates_nothing(streams: list[bytes]) -> None:
    """Version 2 carries the length in the end record: a false claim there is caught too."""
    header, frames = _split(streams[0])
    prelude = {k: v for k, v in header.items() if k not in ("num_frames", "num_samples")}
    end = encode_end({"num_frames": header["num_frames"], "num_samples": 10**9})
    data = encode_header(prelude, version=2) + frames + end
    with pytest.raises(BitstreamError, match=r"frames hold about"):
        Codec.decode(data)
    start = time.perf_counter()
    out = Codec.decode(data, salvage=True)
    assert out.shape[1] < 4 * 48000 and time.perf_counter() - start < 5
    bad = (
        encode_header(prelude, version=2)
        + frames
        + encode_end({"num_frames": 0, "num_samples": "x"})
    )
    with pytest.raises(BitstreamError, match="counts 0 frames"):
        Codec.decode(bad)
