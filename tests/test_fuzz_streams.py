"""Structure-aware fuzzing of whole ``.bgn`` streams: header fields and frame bodies mutated,
CRCs recomputed, so every parser past the CRC (header checks, core packets, SBR and n-SBG
payloads, frame layout) sees garbage. Each case must decode to finite, bounded audio or be
refused with a :class:`BitstreamError`: no other exception (a crash), none past a time limit
(a hang). The default run does a few thousand cases, ``-m slow`` ``$BANDGEN_FUZZ_CASES``
(default 100 000).
"""

from __future__ import annotations

import json
import os
import signal
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from bandgen.bitstream import encode_frame, encode_header, read_container, write_varint
from bandgen.bitstream.container import COUNT_KEYS, END_BYTE, ChannelFrame, Frame
from bandgen.codec import Codec
from bandgen.decoder import OUTPUT_LIMIT
from bandgen.errors import BitstreamError

HANG_S = 10.0
"""A case still running after this long counts as a hang."""

_VALUES: list[Any] = [
    0, 1, -1, 2, 7, 255, 256, 4096, 48000, 10**9, 2**63, -(2**31), 0.5, -2.5, 1e300,
    True, None, "", "x", "aac", "opus", "mp3", "sbr", "nsbg", "blind", "none",
    "nsbg-12k", "../../etc/passwd", "/dev/zero", "0" * 64, [], {}, [1], {"a": 1},
]  # fmt: skip


@pytest.fixture(scope="module")
def streams() -> list[bytes]:
    """Short streams of every high-band method and core (n-SBG with the shipped model)."""
    rng = np.random.default_rng(0)
    wav = (0.2 * rng.standard_normal((2, 7200))).astype(np.float32)
    made = [
        Codec.create(bitrate_kbps=16, hf="sbr", core="aac").encode(wav, 48000),
        Codec.create(bitrate_kbps=16, hf="sbr", core="opus").encode(wav[:1], 44100),
        Codec.create(bitrate_kbps=16, hf="sbr", core="mp3").encode(wav[:1], 48000),
        Codec.create(bitrate_kbps=16, hf="none", core="aac").encode(wav[:1, :3000], 48000),
        Codec.create(bitrate_kbps=12, hf="nsbg").encode(wav[:1, :4800], 48000),
    ]
    return made


def _mutate_value(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or rng.random() < 0.5:
        return _VALUES[int(rng.integers(len(_VALUES)))]
    return type(value)(value * float(rng.choice([-1, 0, 0.5, 2, 1000])))


def _mutate_header(header: dict[str, Any], rng: np.random.Generator) -> None:
    """One edit: a field replaced, scaled, removed or added, at any depth."""
    parent: Any = header
    while True:
        key = list(parent)[int(rng.integers(len(parent)))] if parent else None
        if key is not None and isinstance(parent[key], dict) and parent[key] and rng.random() < 0.6:
            parent = parent[key]
            continue
        break
    action = int(rng.integers(4))
    if key is None or action == 0:
        parent[f"k{int(rng.integers(5))}"] = _VALUES[int(rng.integers(len(_VALUES)))]
    elif action == 1:
        del parent[key]
    else:
        parent[key] = _mutate_value(parent[key], rng)


def _garble(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    kind = int(rng.integers(5))
    if kind == 0 and out:
        for _ in range(int(rng.integers(1, 4))):
            out[int(rng.integers(len(out)))] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        del out[int(rng.integers(len(out) + 1)) :]
    elif kind == 2:
        out = bytearray(rng.bytes(len(out)))
    elif kind == 3:
        out += rng.bytes(int(rng.integers(1, 40)))
    else:
        out = bytearray(rng.bytes(int(rng.integers(0, 3))))
    return bytes(out)


def _mutate_frames(frames: list[Frame], rng: np.random.Generator) -> list[Frame]:
    """One edit of the frame layer: a packet or payload garbled, dropped or moved, or a whole
    frame dropped, repeated or swapped."""
    frames = list(frames)
    if not frames:
        return frames
    i = int(rng.integers(len(frames)))
    kind = int(rng.integers(6))
    if kind == 0:
        del frames[i]
    elif kind == 1:
        frames.insert(i, frames[int(rng.integers(len(frames)))])
    elif kind == 2:
        j = int(rng.integers(len(frames)))
        frames[i], frames[j] = frames[j], frames[i]
    else:
        channels = list(frames[i].channels)
        c = int(rng.integers(len(channels)))
        core, side = list(channels[c].core), list(channels[c].side)
        target = side if side and rng.random() < 0.6 else core
        if kind == 3 and target:
            k = int(rng.integers(len(target)))
            target[k] = _garble(target[k], rng)
        elif kind == 4 and target:
            del target[int(rng.integers(len(target)))]
        else:
            target.append(target[-1] if target and rng.random() < 0.5 else rng.bytes(14))
        channels[c] = ChannelFrame(tuple(core), tuple(side))
        frames[i] = Frame(tuple(channels))
    return frames


def make_case(data: bytes, rng: np.random.Generator) -> bytes:
    """A mutated copy of stream ``data`` with valid CRCs: header edits, frame edits, or both."""
    header, frames = read_container(data)
    mode = int(rng.integers(3))
    if mode != 1:
        for _ in range(int(rng.integers(1, 3))):
            _mutate_header(header, rng)
    if mode != 0:
        for _ in range(int(rng.integers(1, 4))):
            frames = _mutate_frames(frames, rng)
    # the counts travel in the end record (format 2), mutated or not
    counts = {k: header.pop(k) for k in COUNT_KEYS if k in header}
    try:
        prelude = encode_header(header)
    except (BitstreamError, TypeError, ValueError):  # unencodable edit: frames only
        prelude = encode_header(
            {k: v for k, v in read_container(data)[0].items() if k not in COUNT_KEYS}
        )
    try:
        text = json.dumps(counts).encode()
    except (TypeError, ValueError):
        text = b'{"num_frames": 0}'
    end = bytes((END_BYTE,)) + write_varint(len(text)) + text + zlib.crc32(text).to_bytes(4, "big")
    return prelude + b"".join(encode_frame(f) for f in frames) + end


class _Hang(BaseException):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_fuzz(
    streams: list[bytes],
    cases: int,
    seed: int,
    checkpoint: Callable[[int, Counter[str]], None] | None = None,
) -> Counter[str]:
    """Run ``cases`` mutated streams; counts ``decoded``, ``refused``, ``crash``, ``hang``
    (the first few crashes' messages under ``crash:<case>:<type>: <message>``).
    ``checkpoint(cases done, counts)`` is called every 1000 cases (a long run's progress)."""
    rng = np.random.default_rng(seed)
    counts: Counter[str] = Counter()
    for case in range(cases):
        if checkpoint is not None and case and case % 1000 == 0:
            checkpoint(case, counts)
        source = streams[case % len(streams)]
        data = make_case(source, rng)
        salvage = bool(rng.random() < 0.5)
        try:
            with _time_limit(HANG_S):
                out = Codec.decode(data, salvage=salvage)
        except BitstreamError:
            counts["refused"] += 1
            continue
        except _Hang:
            counts["hang"] += 1
            continue
        except Exception as exc:  # a crash: anything but a clean refusal
            counts["crash"] += 1
            if counts["crash"] <= 5:
                counts[f"crash:{case}:{type(exc).__name__}: {str(exc)[:120]}"] += 1
            continue
        finite = bool(np.isfinite(out).all())
        loud = bool(out.size and np.abs(out).max() > OUTPUT_LIMIT)
        if not finite or loud:
            counts["crash"] += 1
            counts[f"crash:{case}:output {'not finite' if not finite else 'too loud'}"] += 1
            continue
        counts["decoded"] += 1
    return counts


def test_fuzzed_streams_are_refused_or_decode(streams: list[bytes]) -> None:
    """3 000 mutated streams (header fields and frame bodies, CRCs recomputed): 0 crashes,
    0 hangs, and a real mix of refusals and decodes."""
    start = time.perf_counter()
    counts = run_fuzz(streams, 3000, seed=16)
    assert counts["crash"] == 0 and counts["hang"] == 0, counts
    assert counts["decoded"] > 300 and counts["refused"] > 300, counts
    assert time.perf_counter() - start < 600


@pytest.mark.slow
def test_many_fuzzed_streams(streams: list[bytes]) -> None:
    """The long run: ``$BANDGEN_FUZZ_CASES`` (default 100 000) mutated streams; the counts
    are printed and, with ``$BANDGEN_FUZZ_REPORT``, written there as JSON every 1000 cases."""
    cases = int(os.environ.get("BANDGEN_FUZZ_CASES", "100000"))
    start = time.perf_counter()

    def write(done: int, counts: Counter[str]) -> None:
        report = {"cases": done, "seconds": round(time.perf_counter() - start, 1), **counts}
        if os.environ.get("BANDGEN_FUZZ_REPORT"):
            with open(os.environ["BANDGEN_FUZZ_REPORT"], "w") as f:
                json.dump(report, f, indent=2)

    counts = run_fuzz(streams, cases, seed=1, checkpoint=write)
    write(cases, counts)
    print(json.dumps({"cases": cases, **counts}, indent=2))
    assert counts["crash"] == 0 and counts["hang"] == 0, counts
    assert counts["decoded"] + counts["refused"] == cases
