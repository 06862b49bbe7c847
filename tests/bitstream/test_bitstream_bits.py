"""Bit packing and LEB128 varints: round trips, known vectors, overrun errors."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.bitstream import BitReader, BitWriter, read_varint, write_varint
from bandgen.errors import BitstreamError


def test_known_vector_is_msb_first() -> None:
    w = BitWriter()
    w.write(5, 3)
    w.write_bool(True)
    assert w.bit_length == 4
    assert w.to_bytes() == b"\xb0"
    w.write(0xABC, 12)
    assert w.to_bytes() == b"\xba\xbc"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_fields_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    widths = [int(n) for n in rng.integers(0, 33, size=500)] + [1, 32, 64, 0]
    values = [int(rng.integers(0, 1 << n, dtype=np.uint64)) if n else 0 for n in widths]
    w = BitWriter()
    for value, n in zip(values, widths, strict=True):
        w.write(value, n)
    total = sum(widths)
    data = w.to_bytes()
    assert w.bit_length == total
    assert len(data) == (total + 7) // 8
    r = BitReader(data)
    assert [r.read(n) for n in widths] == values
    assert r.bit_offset == total
    assert r.bits_left == 8 * len(data) - total
    assert r.read(r.bits_left) == 0  # zero padding


def test_unary_and_bool_round_trip() -> None:
    w = BitWriter()
    for v in [0, 3, 1, 17, 0]:
        w.write_unary(v)
        w.write_bool(v % 2 == 1)
    r = BitReader(w.to_bytes())
    for v in [0, 3, 1, 17, 0]:
        assert r.read_unary() == v
        assert r.read_bool() == (v % 2 == 1)


def test_writer_rejects_values_that_do_not_fit() -> None:
    w = BitWriter()
    with pytest.raises(ValueError, match="does not fit"):
        w.write(8, 3)
    with pytest.raises(ValueError, match="does not fit"):
        w.write(-1, 8)
    with pytest.raises(ValueError, match="num_bits"):
        w.write(0, -1)
    assert w.bit_length == 0
    w.write(np.int64(7), 3)  # numpy integers are accepted
    assert w.to_bytes() == b"\xe0"


def test_reader_overrun_says_where() -> None:
    r = BitReader(b"\xff\x00", context="frame 3 side info")
    assert r.read(12) == 0xFF0
    with pytest.raises(
        BitstreamError, match=r"frame 3 side info needs 5 bits at bit offset 12, only 4 left"
    ):
        r.read(5)
    r = BitReader(b"\xff")
    with pytest.raises(BitstreamError, match="unary"):
        r.read_unary()


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32, 2**63])
def test_varint_round_trip(value: int) -> None:
    data = b"\x01" + write_varint(value) + b"\x02"
    decoded, end = read_varint(data, 1)
    assert decoded == value
    assert end == len(data) - 1


def test_varint_known_encodings() -> None:
    assert write_varint(0) == b"\x00"
    assert write_varint(127) == b"\x7f"
    assert write_varint(300) == b"\xac\x02"


def test_varint_errors() -> None:
    with pytest.raises(ValueError):
        write_varint(-1)
    with pytest.raises(BitstreamError, match="ends inside a varint at byte offset 1"):
        read_varint(b"\x00\x80\x80", 1)
    with pytest.raises(BitstreamError, match="longer than"):
        read_varint(b"\x80" * 11 + b"\x00")
    with pytest.raises(BitstreamError, match="not minimally encoded"):
        read_varint(b"\x80\x00")
