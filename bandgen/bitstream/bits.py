"""Bit-level and byte-level primitives for bandgen bitstreams.

:class:`BitWriter` and :class:`BitReader` pack unsigned fields MSB first, the way
side-info payloads (SBR envelopes, RVQ code indices) are laid out inside one
frame.  :func:`write_varint` and :func:`read_varint` are the unsigned LEB128
helpers the ``.bgn`` container uses for lengths and counts.
"""

from __future__ import annotations

import operator
from typing import SupportsIndex

from bandgen.errors import BitstreamError

MAX_VARINT_BYTES = 10
"""Longest accepted LEB128 encoding (enough for any value below ``2**70``)."""


class BitWriter:
    """Accumulates unsigned fields MSB first into a byte string.

    Example:
        >>> w = BitWriter()
        >>> w.write(5, 3)
        >>> w.write_bool(True)
        >>> w.to_bytes()
        b'\\xb0'
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._acc = 0  # pending bits not yet making a whole byte
        self._acc_bits = 0

    @property
    def bit_length(self) -> int:
        """Number of bits written so far (before padding)."""
        return 8 * len(self._buf) + self._acc_bits

    def write(self, value: SupportsIndex, num_bits: int) -> None:
        """Append ``value`` as an unsigned ``num_bits``-bit field, MSB first.

        Raises:
            ValueError: ``num_bits`` is negative or ``value`` is negative or
                does not fit in ``num_bits`` bits.
        """
        value_int = operator.index(value)  # numpy integers welcome
        num_bits = operator.index(num_bits)
        if num_bits < 0:
            raise ValueError(f"num_bits must be >= 0, got {num_bits}")
        if value_int < 0 or value_int >> num_bits:
            raise ValueError(f"value {value} does not fit in {num_bits} unsigned bits")
        if num_bits == 0:
            return
        acc = (self._acc << num_bits) | value_int
        acc_bits = self._acc_bits + num_bits
        num_bytes, rem = divmod(acc_bits, 8)
        if num_bytes:
            self._buf += (acc >> rem).to_bytes(num_bytes, "big")
            acc &= (1 << rem) - 1
        self._acc, self._acc_bits = acc, rem

    def write_bool(self, flag: bool) -> None:
        """Append one bit: 1 for true, 0 for false."""
        self.write(1 if flag else 0, 1)

    def write_unary(self, value: int) -> None:
        """Append ``value`` one-bits followed by a terminating zero bit (``value + 1`` bits)."""
        value = operator.index(value)
        if value < 0:
            raise ValueError(f"unary value must be >= 0, got {value}")
        self.write(((1 << value) - 1) << 1, value + 1)

    def to_bytes(self) -> bytes:
        """The bits written so far, zero-padded at the end to a whole byte."""
        if not self._acc_bits:
            return bytes(self._buf)
        last = self._acc << (8 - self._acc_bits)
        return bytes(self._buf) + bytes((last,))


class BitReader:
    """Reads unsigned fields MSB first from a byte string written by :class:`BitWriter`.

    Args:
        data: the payload.
        context: what the payload is (``"frame 12 side info"``); starts the
            message of every overrun error.

    Raises:
        BitstreamError: on any read past the end of ``data``.
    """

    def __init__(self, data: bytes | bytearray, *, context: str = "bit payload") -> None:
        self._data = bytes(data)
        self._pos = 0
        self._total = 8 * len(self._data)
        self._context = context

    @property
    def bit_offset(self) -> int:
        """Number of bits consumed so far."""
        return self._pos

    @property
    def bits_left(self) -> int:
        """Number of bits not yet read, padding included."""
        return self._total - self._pos

    def read(self, num_bits: int) -> int:
        """Read an unsigned ``num_bits``-bit field.

        Raises:
            ValueError: ``num_bits`` is negative.
            BitstreamError: fewer than ``num_bits`` bits are left.
        """
        num_bits = operator.index(num_bits)
        if num_bits < 0:
            raise ValueError(f"num_bits must be >= 0, got {num_bits}")
        self._need(num_bits)
        if num_bits == 0:
            return 0
        end = self._pos + num_bits
        first, last = self._pos // 8, (end + 7) // 8
        chunk = int.from_bytes(self._data[first:last], "big")
        value = (chunk >> (8 * last - end)) & ((1 << num_bits) - 1)
        self._pos = end
        return value

    def read_bool(self) -> bool:
        """Read one bit as a boolean."""
        return bool(self.read(1))

    def read_unary(self) -> int:
        """Read a :meth:`BitWriter.write_unary` value: count one-bits up to the zero bit."""
        start = self._pos
        count = 0
        while True:
            if self._pos >= self._total:
                raise BitstreamError(
                    f"{self._context} needs a unary terminator after bit offset {start}, "
                    f"only {self._total - start} bits left"
                )
            if not self.read(1):
                return count
            count += 1

    def _need(self, num_bits: int) -> None:
        if num_bits > self.bits_left:
            raise BitstreamError(
                f"{self._context} needs {num_bits} bits at bit offset {self._pos}, "
                f"only {self.bits_left} left"
            )


def write_varint(value: int) -> bytes:
    """Encode a non-negative integer as unsigned LEB128 (7 bits a byte, low bits first).

    Raises:
        ValueError: ``value`` is negative or needs more than :data:`MAX_VARINT_BYTES` bytes.
    """
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"varint value must be >= 0, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    if len(out) > MAX_VARINT_BYTES:
        raise ValueError(f"varint value needs {len(out)} bytes, limit is {MAX_VARINT_BYTES}")
    return bytes(out)


def read_varint(
    buf: bytes | bytearray, offset: int = 0, *, context: str = "varint"
) -> tuple[int, int]:
    """Decode an unsigned LEB128 integer from ``buf`` at byte ``offset``.

    Returns:
        ``(value, new_offset)``, ``new_offset`` being just past the varint.

    Raises:
        BitstreamError: ``buf`` ends inside the varint, or it is longer than
            :data:`MAX_VARINT_BYTES` bytes or not minimally encoded; the message
            starts with ``context``.
    """
    value = 0
    for i in range(MAX_VARINT_BYTES):
        pos = offset + i
        if pos >= len(buf):
            raise BitstreamError(f"{context}: data ends inside a varint at byte offset {offset}")
        byte = buf[pos]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                # Only the shortest encoding is valid, so every accepted stream re-encodes
                # to the same bytes.
                raise BitstreamError(
                    f"{context}: varint at byte offset {offset} is not minimally encoded"
                )
            return value, pos + 1
    raise BitstreamError(
        f"{context}: varint at byte offset {offset} is longer than {MAX_VARINT_BYTES} bytes"
    )
