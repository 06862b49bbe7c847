"""The ``.bgn`` container: a core-codec stream plus high-band side info, frame by frame.

Layout (all integers big-endian, ``varint`` = unsigned LEB128), format version 3::

    file    = MAGIC "BGEN" | version u8 | varint len(header) | header | CRC32(header) u32
              | frame * | end
    header  = raw DEFLATE (RFC 1951) of the header JSON, with HEADER_DICTIONARY as preset
    frame   = 0xB5 | varint len(seq + body) | seq u8 | body | CRC32(seq + body) u32
    body    = channel * header["channels"]
    channel = list(core packets) | list(side-info payloads)
    list    = varint (count << 1 | same) | (same ? varint len | payload * count
                                                 : (varint len(payload) | payload) * count)
    end     = 0xE5 | varint len(JSON) | end JSON | CRC32(end JSON) u32

``seq`` is the frame's index modulo 256, so a salvaging reader knows exactly how many
frames a damaged stretch held (the skipped bytes only tell how many multiples of 256).
``same`` = 1 when every payload of the list has the same length (Opus CBR packets), which
is then written once.  Version 2 (still read and written on request) had the header JSON
uncompressed after a u32 length, frames ``0xB5 | varint len(body) | body | CRC32(body)``
without ``seq``, and lists ``varint count | (varint len(payload) | payload) * count``.

The header is a UTF-8 JSON object; ``channels`` is required, everything else (core
codec and parameters, high-band method, model name, version and sha256, sample rate)
belongs to the caller.  What is known only once the stream is over (``num_frames``,
required, and e.g. the length) goes to the end record, so a writer never seeks back:
``.bgn`` streams can go to a pipe.  A reader merges the end record into
:attr:`ContainerReader.header` before it returns the last frame.  Version 1 (still
read) had no end record: ``num_frames`` was in the header and the frames simply ended.  Every problem
found while reading is a :class:`~bandgen.errors.BitstreamError` that says what
and where (frame index, byte offset); a reader opened with ``salvage=True`` stops
cleanly at the last whole valid frame instead of raising on a truncated or
corrupt frame.  Both reading and writing stream one frame at a time.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from bandgen.bitstream.bits import MAX_VARINT_BYTES, read_varint, write_varint
from bandgen.bitstream.resync import Gap, next_frame
from bandgen.errors import BitstreamError

MAGIC = b"BGEN"
"""First four bytes of every ``.bgn`` file."""

FORMAT_VERSION = 3
"""Container format version this module writes."""

SUPPORTED_VERSIONS: tuple[int, ...] = (1, 2, FORMAT_VERSION)
"""Container format versions this module reads."""

SEQ_MODULUS = 256
"""Frames are numbered modulo this (one byte) from version 3."""

HEADER_DICTIONARY = (
    b'{"bandgen_version":"0.1.0","sample_rate":48000,"source_sample_rate":48000,'
    b'"channels":1,"stereo":{"mode":"ms","side_share":0.,"bitrate_kbps":12,"frame_packets":'
    b'"core":{"name":"opus","bitrate":1000,"sample_rate":16000,"cutoff_hz":4000.0,'
    b'"options":{"aac_coder":"twoloop","vbr":"off","application":"audio","abr":"1","b":"1'
    b'"hf":{"method":"sbr","config":{"model":"nsbg-16k","sha256":"","n_q":'
)
"""Preset dictionary of the version-3 header's DEFLATE stream: the keys and values a
bandgen header usually holds, so a header of ~350 bytes takes ~110.  Part of the format:
any header compresses with it, and changing it needs a new format version."""

END_BYTE = 0xE5
"""First byte of the end record (version 2): what follows the last frame."""

COUNT_KEYS = ("num_frames", "num_samples")
"""Header keys known only at the end of a stream: in the end record from version 2."""

SYNC_BYTE = 0xB5
"""First byte of every frame; anything else where a frame should start is garbage."""

REQUIRED_HEADER_KEYS = ("channels", "num_frames")
"""Header keys the container itself needs to parse a version-1 stream's frames (from
version 2, ``num_frames`` is in the end record)."""

MAX_HEADER_BYTES = 1 << 24
"""Largest accepted header JSON, so a corrupt length cannot make the reader allocate gigabytes."""

MAX_FRAME_BYTES = 1 << 24
"""Largest accepted frame body (a frame is a few tens of milliseconds of audio)."""

SALVAGE_HINT = "; with --salvage (salvage=True) bandgen skips damaged frames and decodes the rest"
"""Appended to frame errors raised by a reader opened without salvage."""

_PRELUDE_BYTES = len(MAGIC) + 1 + 4
_READ_CHUNK = 1 << 20


def _as_bytes(data: Any, what: str) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes, got {type(data).__name__}")
    return bytes(data)


@dataclass(frozen=True)
class ChannelFrame:
    """One channel of one frame: core-codec packets and high-band side-info payloads.

    A frame groups several short core packets (e.g. 20 ms Opus packets) so the per-frame
    sync, length and CRC32 fields cost little against a low bitrate.

    Attributes:
        core: zero or more core codec packets, in time order (each may be empty).
        side: zero or more side-info payloads (each may be empty), in time order.
    """

    core: tuple[bytes, ...] = ()
    side: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        # Accept bytearray/list inputs but store bytes/tuple, so frames compare equal after a
        # round trip and stay hashable.
        for name in ("core", "side"):
            value = getattr(self, name)
            if isinstance(value, bytes | bytearray | memoryview | str):
                raise TypeError(f"ChannelFrame.{name} must be a sequence of bytes payloads")
            packets = tuple(_as_bytes(p, f"ChannelFrame.{name} payload") for p in value)
            object.__setattr__(self, name, packets)


@dataclass(frozen=True)
class Frame:
    """One container frame: a :class:`ChannelFrame` per channel, ``header["channels"]`` of them."""

    channels: tuple[ChannelFrame, ...]

    def __post_init__(self) -> None:
        channels = tuple(self.channels)
        for ch in channels:
            if not isinstance(ch, ChannelFrame):
                raise TypeError(f"Frame.channels must hold ChannelFrame, got {type(ch).__name__}")
        object.__setattr__(self, "channels", channels)


def _where(index: int, offset: int) -> str:
    return f"frame {index} at byte offset {offset}"


def _encode_list(payloads: tuple[bytes, ...], compact: bool) -> bytes:
    """A payload list: count and lengths, then the payloads (module docstring)."""
    out = bytearray()
    same = compact and len(payloads) > 1 and len({len(p) for p in payloads}) == 1
    same = same and len(payloads[0]) > 0  # a count of empty payloads would cost no bytes
    if not compact:
        out += write_varint(len(payloads))
    else:
        out += write_varint(len(payloads) << 1 | same)
    if same:
        out += write_varint(len(payloads[0]))
    for payload in payloads:
        if not same:
            out += write_varint(len(payload))
        out += payload
    return bytes(out)


def encode_frame(frame: Frame, *, seq: int | None = None) -> bytes:
    """Serialise one frame: sync byte, length, sequence number and body, CRC32.

    Args:
        frame: the frame.
        seq: the frame's index in the stream: the version-3 layout (sequence byte, lists
            that write a common length once); ``None``: the version-1 and 2 layout.

    Raises:
        ValueError: the body exceeds :data:`MAX_FRAME_BYTES`.
    """
    numbered = seq is not None
    body = bytearray() if seq is None else bytearray((seq % SEQ_MODULUS,))
    for ch in frame.channels:
        for payloads in (ch.core, ch.side):
            body += _encode_list(payloads, numbered)
    if len(body) > MAX_FRAME_BYTES:
        raise ValueError(f"frame body of {len(body)} bytes exceeds {MAX_FRAME_BYTES} bytes")
    crc = zlib.crc32(body).to_bytes(4, "big")
    return bytes((SYNC_BYTE,)) + write_varint(len(body)) + bytes(body) + crc


def _check_sync(byte: int, where: str) -> None:
    if byte != SYNC_BYTE:
        raise BitstreamError(
            f"{where}: expected frame sync byte 0x{SYNC_BYTE:02X}, found 0x{byte:02X} "
            "(garbage or corrupt data where a frame should start)"
        )


def _check_length(length: int, where: str) -> None:
    if length > MAX_FRAME_BYTES:
        raise BitstreamError(
            f"{where}: frame body length {length} exceeds {MAX_FRAME_BYTES} bytes; "
            "the frame is corrupt"
        )


def _check_crc(body: bytes, stored: bytes, where: str) -> None:
    expected = int.from_bytes(stored, "big")
    actual = zlib.crc32(body)
    if actual != expected:
        raise BitstreamError(
            f"{where}: frame CRC32 mismatch (stored 0x{expected:08X}, computed 0x{actual:08X}); "
            "the frame is corrupt"
        )


def _parse_numbered(body: bytes, num_channels: int, where: str) -> tuple[int, Frame]:
    """Split a CRC-checked version-3 body into its sequence number and frame."""
    if not body:
        raise BitstreamError(f"{where}: empty frame (no sequence number)")
    return body[0], _parse_body(body, num_channels, where, compact=True)


def _parse_body(body: bytes, num_channels: int, where: str, *, compact: bool = False) -> Frame:
    """Split a CRC-checked body into ``num_channels`` channels (``compact``: version 3,
    whose body starts with the sequence byte)."""
    pos = 1 if compact else 0
    channels = []

    def overrun(ch: int, what: str) -> BitstreamError:
        return BitstreamError(
            f"{where}: frame body ends inside the {what} of channel {ch} "
            f"(header says {num_channels} channels); channel count mismatch or bad lengths"
        )

    def take(length: int, ch: int, what: str) -> bytes:
        nonlocal pos
        if pos + length > len(body):
            raise overrun(ch, what)
        chunk = body[pos : pos + length]
        pos += length
        return chunk

    def varint(ch: int, what: str) -> int:
        nonlocal pos
        if pos >= len(body):
            raise overrun(ch, what)
        try:
            value, pos = read_varint(body, pos, context=f"{where}: {what} of channel {ch}")
        except BitstreamError as err:
            raise BitstreamError(
                f"{err} within the frame body (header says {num_channels} channels); "
                "channel count mismatch or bad lengths"
            ) from err
        return value

    def payloads(ch: int, what: str) -> tuple[bytes, ...]:
        count = varint(ch, f"{what} count")
        if not compact:
            return tuple(take(varint(ch, f"{what} length"), ch, what) for _ in range(count))
        count, same = count >> 1, count & 1
        if not same:
            return tuple(take(varint(ch, f"{what} length"), ch, what) for _ in range(count))
        length = varint(ch, f"{what} length")
        if length == 0 or count * length > len(body) - pos:
            raise overrun(ch, what)
        return tuple(take(length, ch, what) for _ in range(count))

    for ch in range(num_channels):
        channels.append(ChannelFrame(payloads(ch, "core packet"), payloads(ch, "side-info")))
    if pos != len(body):
        raise BitstreamError(
            f"{where}: {len(body) - pos} bytes left in the frame body after "
            f"{num_channels} channels (the header's count); channel count mismatch"
        )
    return Frame(tuple(channels))


def decode_frame(
    buf: bytes | bytearray, offset: int, num_channels: int, index: int, *, version: int = 2
) -> tuple[Frame, int]:
    """Parse the frame starting at byte ``offset`` of an in-memory buffer.

    Args:
        buf: bytes holding the frame.
        offset: where the frame's sync byte is.
        num_channels: ``header["channels"]``.
        index: the frame's index, for error messages (and, version 3, checked against its
            sequence number).
        version: the container format version (the frame layout of 1 and 2 is the same).

    Returns:
        ``(frame, new_offset)``, ``new_offset`` being just past the frame's CRC.

    Raises:
        BitstreamError: missing sync byte, truncated frame, CRC mismatch or a
            body that does not hold exactly ``num_channels`` channels, or (version 3) a
            sequence number other than ``index`` modulo 256.
    """
    where = _where(index, offset)
    if offset >= len(buf):
        raise BitstreamError(f"{where}: data ends before the frame (truncated)")
    _check_sync(buf[offset], where)
    try:
        length, pos = read_varint(buf, offset + 1, context=where)
    except BitstreamError as err:
        raise BitstreamError(f"{where}: frame is truncated or corrupt inside its length") from err
    _check_length(length, where)
    end = pos + length + 4
    if end > len(buf):
        raise BitstreamError(
            f"{where}: frame is truncated: it needs {end - offset} bytes, "
            f"only {len(buf) - offset} left"
        )
    body = bytes(buf[pos : pos + length])
    _check_crc(body, bytes(buf[pos + length : end]), where)
    if version < 3:
        return _parse_body(body, num_channels, where), end
    seq, frame = _parse_numbered(body, num_channels, where)
    _check_seq(seq, index, where)
    return frame, end


def _check_seq(seq: int, index: int, where: str) -> None:
    if seq != index % SEQ_MODULUS:
        raise BitstreamError(
            f"{where}: frame sequence number {seq} where {index % SEQ_MODULUS} was expected; "
            "frames are missing or out of order"
        )


def _checked_json(data: bytes, length: int, where: str, what: str, *, packed: bool = False) -> Any:
    """Parse ``data[:length]`` as UTF-8 JSON after checking it against the CRC32 after it
    (``packed``: inflate it first, a version-3 header)."""
    text = data[:length]
    stored, actual = int.from_bytes(data[length : length + 4], "big"), zlib.crc32(text)
    if stored != actual:
        raise BitstreamError(
            f"{where}: CRC32 mismatch (stored 0x{stored:08X}, computed 0x{actual:08X}); "
            f"{what} is corrupt"
        )
    if packed:
        text = _inflate_header(text, where)
    try:
        return json.loads(text.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError, huge numbers
        raise BitstreamError(f"{where} is not valid UTF-8 JSON: {err}") from err
    except RecursionError:
        raise BitstreamError(f"{where} nests too deeply to be a bandgen header") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _validate_header(
    header: Any, error: type[Exception], where: str, version: int = FORMAT_VERSION
) -> None:
    if not isinstance(header, dict):
        raise error(f"{where} must be a JSON object, got {type(header).__name__}")
    required = REQUIRED_HEADER_KEYS if version == 1 else ("channels",)
    for key in required:
        if key not in header:
            raise error(f"{where} is missing the required key {key!r}")
    channels = header["channels"]
    if type(channels) is not int or channels < 1:
        raise error(f"{where}: 'channels' must be an integer >= 1, got {channels!r}")
    _validate_count(header, "num_frames", error, where)


def _validate_count(record: dict[str, Any], key: str, error: type[Exception], where: str) -> None:
    value = record.get(key, 0)
    if type(value) is not int or value < 0:
        raise error(f"{where}: {key!r} must be an integer >= 0, got {value!r}")


def _deflate_header(header_json: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=HEADER_DICTIONARY)
    return packer.compress(header_json) + packer.flush()


def _inflate_header(data: bytes, where: str) -> bytes:
    unpacker = zlib.decompressobj(-15, zdict=HEADER_DICTIONARY)
    try:
        text = unpacker.decompress(data, MAX_HEADER_BYTES)
    except zlib.error as err:
        raise BitstreamError(f"{where} does not inflate (corrupt DEFLATE data): {err}") from None
    if unpacker.unconsumed_tail:
        raise BitstreamError(f"{where} inflates to more than {MAX_HEADER_BYTES} bytes")
    if not unpacker.eof or unpacker.unused_data:
        raise BitstreamError(f"{where}: the DEFLATE data is incomplete or followed by garbage")
    return text


def _json_bytes(record: dict[str, Any], what: str) -> bytes:
    try:
        data = json.dumps(
            record, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} is not JSON-serialisable: {err}") from err
    if len(data) > MAX_HEADER_BYTES:
        raise ValueError(f"{what} JSON of {len(data)} bytes exceeds {MAX_HEADER_BYTES}")
    return data


def encode_header(header: dict[str, Any], *, version: int = FORMAT_VERSION) -> bytes:
    """Serialise the prelude: magic, format version, header length, header, its CRC32.

    The header is written as compact UTF-8 JSON with its key order kept (version 3:
    DEFLATEd), so a header read back and re-encoded gives the same bytes.  Frames
    (:func:`encode_frame`) follow it directly, then (from version 2) the end record
    (:func:`encode_end`); :class:`ContainerWriter` does all three.

    Args:
        header: at least ``channels`` (and, for ``version`` 1, ``num_frames``).
        version: 3, or 1 or 2 to write an old layout (tests of old streams; version 1
            for streams whose length must be in the header).

    Raises:
        ValueError: the header lacks a required key (or its counts are invalid), is not
            JSON-serialisable (NaN included), or exceeds :data:`MAX_HEADER_BYTES`.
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"cannot write .bgn format version {version}")
    _validate_header(header, ValueError, "header", version)
    header_json = _json_bytes(header, "header")
    if version >= 3:
        packed = _deflate_header(header_json)
        crc = zlib.crc32(packed).to_bytes(4, "big")
        return MAGIC + bytes((version,)) + write_varint(len(packed)) + packed + crc
    return (
        MAGIC
        + bytes((version,))
        + len(header_json).to_bytes(4, "big")
        + header_json
        + zlib.crc32(header_json).to_bytes(4, "big")
    )


def encode_end(record: dict[str, Any]) -> bytes:
    """Serialise the end record (version 2): ``0xE5``, JSON length, JSON, its CRC32.

    Raises:
        ValueError: ``num_frames`` missing or invalid, or the record not JSON-serialisable.
    """
    if "num_frames" not in record:
        raise ValueError("the end record is missing the required key 'num_frames'")
    _validate_count(record, "num_frames", ValueError, "end record")
    data = _json_bytes(record, "end record")
    return bytes((END_BYTE,)) + write_varint(len(data)) + data + zlib.crc32(data).to_bytes(4, "big")


class ContainerWriter:
    """Writes a version-3 ``.bgn`` stream in one pass: prelude, frames, end record.

    Nothing is ever rewritten, so ``fileobj`` may be a pipe.

    Args:
        fileobj: binary file object opened for writing.
        header: JSON-serialisable dict with at least ``channels``; written at once.

    Attributes:
        num_frames: frames written so far.
        bytes_written: bytes written so far.
    """

    def __init__(self, fileobj: IO[bytes], header: dict[str, Any]) -> None:
        self._file = fileobj
        self._channels = header.get("channels")
        prelude = encode_header(header)
        fileobj.write(prelude)
        self.bytes_written = len(prelude)
        self.num_frames = 0
        self._closed = False

    def write(self, frame: Frame) -> None:
        """Write one frame.

        Raises:
            ValueError: the frame's channel count differs from the header's.
        """
        if len(frame.channels) != self._channels:
            raise ValueError(
                f"frame {self.num_frames} has {len(frame.channels)} channels, "
                f"header says {self._channels}"
            )
        self.write_encoded(encode_frame(frame, seq=self.num_frames))

    def write_encoded(self, data: bytes) -> None:
        """Write one frame already serialised by :func:`encode_frame` with
        ``seq=writer.num_frames``.

        Raises:
            ValueError: the writer is closed, or the frame's sequence number is not
                :attr:`num_frames` modulo 256.
        """
        if self._closed:
            raise ValueError("the container writer is closed")
        seq = data[read_varint(data, 1)[1]] if len(data) > 1 else None
        if seq != self.num_frames % SEQ_MODULUS:
            raise ValueError(
                f"frame {self.num_frames} was serialised with sequence number {seq}; "
                "pass seq=writer.num_frames to encode_frame"
            )
        self._file.write(data)
        self.bytes_written += len(data)
        self.num_frames += 1

    def close(self, **end: Any) -> None:
        """Write the end record: ``num_frames`` (counted here) and the counts in ``end``."""
        if not self._closed:
            data = encode_end({"num_frames": self.num_frames, **end})
            self._file.write(data)
            self.bytes_written += len(data)
            self._closed = True


def write_container(fileobj: BinaryIO, header: dict[str, Any], frames: Iterable[Frame]) -> int:
    """Write a ``.bgn`` stream (version 3), one frame at a time, never seeking.

    Args:
        fileobj: binary file object opened for writing.
        header: JSON-serialisable dict holding at least ``channels``; its
            :data:`COUNT_KEYS` (``num_frames``, the length), if given, go to the end
            record, and ``num_frames`` is checked against the frames written.
        frames: frames of ``header["channels"]`` channels each; may be a generator
            (it is consumed lazily).

    Returns:
        Number of bytes written.

    Raises:
        ValueError: the header is invalid (see :func:`encode_header`), a frame has
            the wrong channel count, or the number of frames differs from
            ``num_frames`` (detected while streaming, so the file is then incomplete).
    """
    _validate_header(header, ValueError, "header", FORMAT_VERSION)
    counts = {k: header[k] for k in COUNT_KEYS if k in header}
    expected = counts.pop("num_frames", None)
    writer = ContainerWriter(fileobj, {k: v for k, v in header.items() if k not in COUNT_KEYS})
    for frame in frames:
        if expected is not None and writer.num_frames >= expected:
            raise ValueError(f"more frames than the header's num_frames={expected}")
        writer.write(frame)
    if expected is not None and writer.num_frames != expected:
        raise ValueError(f"got {writer.num_frames} frames, the header's num_frames is {expected}")
    writer.close(**counts)
    return writer.bytes_written


class ContainerReader:
    """Streams the frames of a ``.bgn`` file object, holding one frame in memory at a time.

    The prelude and header are read and checked on construction; iterating
    yields :class:`Frame` objects.  After the last frame the reader checks that
    the stream ends there (trailing garbage is an error).

    Args:
        fileobj: binary file object positioned at the start of the container.
        salvage: on a corrupt frame, skip to the next whole valid frame (resynchronising
            on its sync byte and CRC); on truncation or trailing garbage, stop after the
            last whole valid frame; record the problems instead of raising.

    Attributes:
        header: the header dict.
        version: the file's format version.
        salvage: whether salvage mode is on.
        salvaged: true once salvage mode has swallowed a problem.
        problem: the message of the first such problem, else ``None``.
        gaps: the damaged stretches a salvaging reader skipped (:class:`Gap`).
        lost_before: frames lost just before the frame last returned (0 if none).
        truncated: the data ended inside a frame or before the header's frame count.

    Raises:
        BitstreamError: on construction, a bad magic, unknown version or a
            corrupt, truncated or incomplete header (never salvaged); while
            iterating, any frame problem (unless ``salvage``).
    """

    def __init__(self, fileobj: BinaryIO, *, salvage: bool = False) -> None:
        self._file = fileobj
        self._offset = 0
        self._index = 0
        self._done = False
        self._ahead = bytearray()  # read from the file but not consumed yet (resync)
        self._frame_raw = bytearray()  # bytes of the frame being read
        self._good_bytes = self._good_frames = self._largest = 0
        self._seq = 0  # sequence number of the frame last read (version 3)
        self.salvage = salvage
        self.salvaged = False
        self.problem: str | None = None
        self.gaps: list[Gap] = []
        self.lost_before = 0
        self.truncated = False
        self.ended = False  # the end record (from version 2) has been read
        self.version, self.header = self._read_prelude()
        if self.version >= 2:
            self._peek_end()

    @property
    def num_channels(self) -> int:
        """``header["channels"]``."""
        return int(self.header["channels"])

    @property
    def num_frames(self) -> int | None:
        """``header["num_frames"]``: how many frames a whole file holds (from version 2,
        known once the end record is read, ``None`` before)."""
        value = self.header.get("num_frames")
        return None if value is None else int(value)

    def _at_end(self) -> bool:
        """Whether every frame the stream holds has been read."""
        if self.version >= 2:
            return self.ended
        return self._index >= int(self.header["num_frames"]) and not self.gaps

    @property
    def frames_read(self) -> int:
        """Number of valid frames yielded so far."""
        return self._index

    def __iter__(self) -> Iterator[Frame]:
        """The reader itself: a single pass over the remaining frames."""
        return self

    def __next__(self) -> Frame:
        """Read, check and return the next frame.

        In salvage mode a damaged frame is skipped: the reader resynchronises on the next
        whole valid frame, sets :attr:`lost_before` to the estimated number of frames lost
        just before the one returned, and records a :class:`Gap`.
        """
        self.lost_before = 0
        if self._done:
            raise StopIteration
        start = self._offset
        try:
            if self._at_end():
                self._done = True
                self._check_end()
                raise StopIteration
            frame = self._read_frame()
            if self.version >= 3:
                self._check_numbered()
        except BitstreamError as err:
            if not self.salvage:
                self._done = True
                raise BitstreamError(f"{err}{SALVAGE_HINT}") from err
            if self.gaps and not self._frame_raw:
                self._done = True  # after a resync, the data ending between frames is the end
                raise StopIteration from None
            self.salvaged = True
            self.problem = self.problem or str(err)
            if self._at_end():
                self._done = True  # trailing garbage after a whole stream: nothing lost
                raise StopIteration from None
            frame = self._resync(start, str(err))
        self._good_frames += 1
        self._good_bytes += len(self._frame_raw)
        self._largest = max(self._largest, len(self._frame_raw))
        self._index += 1
        if self.version >= 2:
            self._peek_end()  # so the counts are known when the last frame is returned
        return frame

    def _check_numbered(self) -> None:
        """Check a whole valid frame's sequence number (version 3).

        A mismatch means whole frames are missing; a salvaging reader counts them as a gap
        and goes on from this frame.
        """
        lost = (self._seq - self._index) % SEQ_MODULUS
        if not lost:
            return
        where = _where(self._index, self._offset - len(self._frame_raw))
        if not self.salvage:
            _check_seq(self._seq, self._index, where)
        self.salvaged = True
        message = f"{where}: frame sequence number {self._seq}: {lost} whole frame(s) missing"
        self.problem = self.problem or message
        self.gaps.append(Gap(self._index, lost, self._offset - len(self._frame_raw), 0, message))
        self.lost_before = lost
        self._index += lost

    def _peek_end(self) -> None:
        """Read the end record if it comes next (version 2); else leave the data unread."""
        start = self._offset
        first = self._read_exact(1)
        if not first:
            return  # the data ends here: reading the next frame reports the truncation
        if first[0] != END_BYTE:
            self._ahead[:0] = first
            self._offset = start
            return
        try:
            self._read_end(start)
        except BitstreamError as err:
            if not self.salvage:
                self._done = True
                raise BitstreamError(f"{err}{SALVAGE_HINT}") from err
            self.salvaged = self.truncated = self._done = True
            self.problem = self.problem or str(err)

    def _read_end(self, start: int) -> None:
        where = f"end record at byte offset {start}"
        length = self._read_length(bytearray(), where)
        if length > MAX_HEADER_BYTES:
            raise BitstreamError(f"{where}: length {length} exceeds {MAX_HEADER_BYTES} bytes")
        rest = self._read_exact(length + 4)
        if len(rest) < length + 4:
            raise BitstreamError(f"{where}: file ends inside the end record (truncated file)")
        record = _checked_json(rest, length, where, "the end record")
        if not isinstance(record, dict) or "num_frames" not in record:
            raise BitstreamError(f"{where} must be a JSON object holding 'num_frames'")
        _validate_count(record, "num_frames", BitstreamError, where)
        if record["num_frames"] != self._index and not self.gaps:
            raise BitstreamError(
                f"{where}: it counts {record['num_frames']} frames, the stream holds "
                f"{self._index}; frames are missing or the record is corrupt"
            )
        clash = sorted(k for k in record if k in self.header)
        if clash:
            raise BitstreamError(f"{where} repeats header keys {clash}")
        self.header.update(record)
        self.ended = True

    def _resync(self, start: int, problem: str) -> Frame:
        """Skip from the damaged frame at byte ``start`` to the next valid one."""
        self._ahead[:0] = self._frame_raw[1:]  # rescan all but the damaged frame's sync byte
        self._offset = start + 1
        max_body = min(MAX_FRAME_BYTES, max(4 * self._largest, 1 << 16))
        found, skipped, size = next_frame(
            self._ahead, self._file.read, self._parse_resync, max_body
        )
        skipped += 1
        if found is None:
            self._done = self.truncated = True
            raise StopIteration
        if isinstance(found, tuple):
            self._seq, found = found
        assert isinstance(found, Frame)
        self._frame_raw = bytearray(size)  # only its size counts from here
        self._offset += skipped - 1 + size
        mean = self._good_bytes / self._good_frames if self._good_frames else skipped
        estimate = skipped / max(mean, 1)
        if self.version >= 3:
            # the sequence number says how many frames modulo 256; the bytes, how many times 256
            lost = (self._seq - self._index) % SEQ_MODULUS
            lost += SEQ_MODULUS * max(0, round((estimate - lost) / SEQ_MODULUS))
        else:
            lost = max(1, round(estimate))
        self.gaps.append(Gap(self._index, lost, start, skipped, problem))
        self.lost_before = lost
        self._index += lost
        return found

    def _parse_resync(self, body: bytes) -> Frame | tuple[int, Frame]:
        if self.version >= 3:
            return _parse_numbered(body, self.num_channels, "resync")
        return _parse_body(body, self.num_channels, "resync")

    def _read_exact(self, num_bytes: int) -> bytes:
        """Read ``num_bytes`` bytes, fewer only at end of file."""
        if self._ahead:
            data = bytes(self._ahead[:num_bytes])
            del self._ahead[:num_bytes]
            if len(data) < num_bytes:
                data += self._read_file(num_bytes - len(data))
        else:
            data = self._read_file(num_bytes)
        self._offset += len(data)
        return data

    def _read_file(self, num_bytes: int) -> bytes:
        data = self._file.read(min(num_bytes, _READ_CHUNK))
        if len(data) < num_bytes and data:
            # A short read (pipe, raw file, large frame) need not be the end of the stream.
            chunks = [data]
            remaining = num_bytes - len(data)
            while remaining > 0:
                chunk = self._file.read(min(remaining, _READ_CHUNK))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
        return data

    def _read_prelude(self) -> tuple[int, dict[str, Any]]:
        prelude = self._read_exact(len(MAGIC) + 1)
        if not prelude:
            raise BitstreamError("not a bandgen file: it is empty")
        if prelude[: len(MAGIC)] != MAGIC[: len(prelude)]:
            raise BitstreamError(
                f"not a bandgen file: expected magic {MAGIC!r} at byte offset 0, "
                f"found {prelude[: len(MAGIC)]!r}"
            )
        if len(prelude) > len(MAGIC):
            version = prelude[len(MAGIC)]
            if version not in SUPPORTED_VERSIONS:
                supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
                raise BitstreamError(
                    f"unknown .bgn format version {version} (byte offset {len(MAGIC)}); this "
                    f"bandgen reads version {supported}; a newer bandgen may read this file"
                )
        truncated = "truncated .bgn file: it ends at byte offset {{}}, inside the prelude"
        if len(prelude) <= len(MAGIC):
            raise BitstreamError(truncated.format(len(prelude)))
        if version >= 3:
            raw = bytearray(prelude)
            header_len = self._read_length(raw, "header length at byte offset 5")
        else:
            raw = bytearray(prelude + self._read_exact(4))
            if len(raw) < _PRELUDE_BYTES:
                raise BitstreamError(truncated.format(len(raw)))
            header_len = int.from_bytes(raw[len(MAGIC) + 1 :], "big")
        if header_len > MAX_HEADER_BYTES:
            raise BitstreamError(
                f"header length {header_len} at byte offset {len(MAGIC) + 1} exceeds "
                f"{MAX_HEADER_BYTES} bytes; the header is corrupt"
            )
        rest = self._read_exact(header_len + 4)
        if len(rest) < header_len + 4:
            raise BitstreamError(
                f"truncated .bgn file: it ends at byte offset {self._offset}, inside the "
                f"{header_len}-byte header starting at byte offset {len(raw)}"
            )
        where = f"header at byte offset {len(raw)}"
        header = _checked_json(rest, header_len, where, "the header", packed=version >= 3)
        _validate_header(header, BitstreamError, where, version)
        return version, header

    def _read_frame(self) -> Frame:
        start = self._offset
        where = _where(self._index, start)
        raw = bytearray(self._read_exact(1))
        self._frame_raw = raw
        if not raw:
            if self.version >= 2:
                raise BitstreamError(
                    f"{where}: file ends after {self._index} frames, without its end record "
                    "(truncated file)"
                )
            raise BitstreamError(
                f"{where}: file ends after {self._index} of {self.num_frames} frames "
                "(truncated file)"
            )
        _check_sync(raw[0], where)
        length = self._read_length(raw, where)
        _check_length(length, where)
        rest = self._read_exact(length + 4)
        self._frame_raw = raw + rest
        if len(rest) < length + 4:
            raise BitstreamError(
                f"{where}: file ends mid-frame: the frame needs {len(raw) + length + 4} bytes, "
                f"only {len(raw) + len(rest)} left (truncated file)"
            )
        body = rest[:length]
        _check_crc(body, rest[length:], where)
        if self.version < 3:
            return _parse_body(body, self.num_channels, where)
        self._seq, frame = _parse_numbered(body, self.num_channels, where)
        return frame

    def _read_length(self, raw: bytearray, where: str) -> int:
        """Read a varint length from the file, appending its bytes to ``raw``."""
        start = len(raw)
        while len(raw) - start < MAX_VARINT_BYTES:
            byte = self._read_exact(1)
            if not byte:
                raise BitstreamError(f"{where}: file ends inside the length (truncated)")
            raw += byte
            if not byte[0] & 0x80:
                break
        return read_varint(raw, start, context=where)[0]

    def _check_end(self) -> None:
        start = self._offset
        extra = len(self._read_exact(1))
        if not extra:
            return
        while chunk := self._read_exact(_READ_CHUNK):
            extra += len(chunk)
        after = f"frame {self._index - 1}" if self._index else "the header"
        if self.version >= 2:
            after += " and the end record"
        raise BitstreamError(
            f"trailing garbage after the last frame ({after}): {extra} bytes at byte offset "
            f"{start} where the file should end (num_frames={self.num_frames})"
        )


def read_container(
    source: str | os.PathLike[str] | bytes | bytearray, salvage: bool = False
) -> tuple[dict[str, Any], list[Frame]]:
    """Read a whole ``.bgn`` file or buffer into memory.

    Use :class:`ContainerReader` to stream long files, or to learn whether
    salvage mode dropped anything (``reader.salvaged``, ``reader.problem``).

    Args:
        source: a path, or the container's bytes.
        salvage: see :class:`ContainerReader`.

    Returns:
        ``(header, frames)``.

    Raises:
        BitstreamError: see :class:`ContainerReader`.
        OSError: the path cannot be opened.
    """
    if isinstance(source, bytes | bytearray):
        reader = ContainerReader(io.BytesIO(bytes(source)), salvage=salvage)
        return reader.header, list(reader)
    with open(source, "rb") as fileobj:
        reader = ContainerReader(fileobj, salvage=salvage)
        return reader.header, list(reader)
