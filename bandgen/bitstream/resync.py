"""Finding the next whole frame after a damaged one (``--salvage``).

Every frame starts with the sync byte and ends with the CRC32 of its body, so after a
damaged frame the reader scans forward for a position where a sync byte, a plausible
length, a matching CRC and a body of exactly the header's channel count all agree: the
chance that garbage passes all four is negligible.  The scan reads ahead in chunks and
never holds more than one candidate frame beyond what it has scanned.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

from bandgen.bitstream.bits import MAX_VARINT_BYTES, read_varint
from bandgen.errors import BitstreamError

SYNC_BYTE = 0xB5
"""First byte of every frame (also :data:`bandgen.bitstream.container.SYNC_BYTE`)."""

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Gap:
    """Frames a salvaging reader skipped.

    Attributes:
        first_frame: index the first lost frame had (frames before it were read).
        num_frames: estimated number of frames lost (skipped bytes / mean frame size).
        byte_offset: where the damaged data starts.
        num_bytes: bytes skipped.
        problem: what was wrong with the first damaged frame.
    """

    first_frame: int
    num_frames: int
    byte_offset: int
    num_bytes: int
    problem: str


def _fill(buf: bytearray, size: int, read: Callable[[int], bytes]) -> bool:
    """Read until ``buf`` holds ``size`` bytes; false at end of data."""
    while len(buf) < size:
        chunk = read(max(size - len(buf), _CHUNK))
        if not chunk:
            return False
        buf += chunk
    return True


def frame_at(
    buf: bytearray,
    read: Callable[[int], bytes],
    parse: Callable[[bytes], object],
    max_body: int,
) -> tuple[object, int] | None:
    """Parse a frame starting at ``buf[0]`` (reading more as needed).

    Returns:
        ``(frame, size)``, or ``None`` if no valid frame starts there.
    """
    if not buf or buf[0] != SYNC_BYTE:
        return None
    _fill(buf, 1 + MAX_VARINT_BYTES, read)
    try:
        length, pos = read_varint(buf, 1, context="resync")
    except BitstreamError:
        return None
    if length > max_body or not _fill(buf, pos + length + 4, read):
        return None
    body = bytes(buf[pos : pos + length])
    if zlib.crc32(body) != int.from_bytes(buf[pos + length : pos + length + 4], "big"):
        return None
    try:
        frame = parse(body)
    except BitstreamError:
        return None
    return frame, pos + length + 4


def next_frame(
    buf: bytearray,
    read: Callable[[int], bytes],
    parse: Callable[[bytes], object],
    max_body: int,
) -> tuple[object | None, int, int]:
    """Drop bytes from the front of ``buf`` up to the next valid frame, and take that frame.

    Args:
        buf: data already read; refilled with ``read``; what follows the frame stays in it.
        read: reads up to ``n`` more bytes (``b""`` at end of data).
        parse: body -> frame; raises :class:`BitstreamError` on a body that is not one.
        max_body: largest body length to consider.

    Returns:
        ``(frame, skipped, size)``: the frame (``None`` if the data ended first), the
        number of bytes dropped before it and its own size in bytes.
    """
    skipped = 0
    while True:
        pos = buf.find(SYNC_BYTE)
        while pos < 0:
            skipped += len(buf)
            buf.clear()
            chunk = read(_CHUNK)
            if not chunk:
                return None, skipped, 0
            buf += chunk
            pos = buf.find(SYNC_BYTE)
        skipped += pos
        del buf[:pos]
        found = frame_at(buf, read, parse, max_body)
        if found is not None:
            del buf[: found[1]]
            return found[0], skipped, found[1]
        del buf[:1]
        skipped += 1
