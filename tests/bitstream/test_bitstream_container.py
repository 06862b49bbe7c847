"""The ``.bgn`` container: byte-exact round trips, every error case, salvage of damaged files."""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bandgen.bitstream import (
    FORMAT_VERSION,
    MAGIC,
    SUPPORTED_VERSIONS,
    ChannelFrame,
    ContainerReader,
    ContainerWriter,
    Frame,
    decode_frame,
    encode_end,
    encode_frame,
    encode_header,
    read_container,
    write_container,
    write_varint,
)
from bandgen.bitstream.container import HEADER_DICTIONARY
from bandgen.errors import BitstreamError


def random_payload(rng: np.random.Generator) -> bytes:
    size = int(rng.choice([0, 1, 5, 40, 200]))  # empty payloads included
    return rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()


def random_frames(seed: int, num_frames: int, num_channels: int) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [
        Frame(
            tuple(
                ChannelFrame(
                    tuple(random_payload(rng) for _ in range(int(rng.integers(0, 4)))),
                    tuple(random_payload(rng) for _ in range(int(rng.integers(0, 4)))),
                )
                for _ in range(num_channels)
            )
        )
        for _ in range(num_frames)
    ]


def make_header(num_channels: int, num_frames: int) -> dict[str, Any]:
    return {
        "core": {"codec": "aac", "sample_rate": 16000, "bitrate": 9000},
        "hf": "nsbg",
        "model": {"name": "nsbg-12k", "sha256": "ab" * 32},
        "sample_rate": 48000,
        "channels": num_channels,
        "num_frames": num_frames,
        "length": 123456,
        "note": "ünïcødé",
    }


def write_bytes(header: dict[str, Any], frames: Any) -> bytes:
    buf = io.BytesIO()
    total = write_container(buf, header, frames)
    assert total == len(buf.getvalue())
    return buf.getvalue()


def raw_prelude(header_json: bytes, version: int = FORMAT_VERSION, crc: int | None = None) -> bytes:
    if version >= 3:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=HEADER_DICTIONARY)
        packed = packer.compress(header_json) + packer.flush()
        crc = zlib.crc32(packed) if crc is None else crc
        return (
            MAGIC + bytes((version,)) + write_varint(len(packed)) + packed + crc.to_bytes(4, "big")
        )
    crc = zlib.crc32(header_json) if crc is None else crc
    return (
        MAGIC
        + bytes((version,))
        + len(header_json).to_bytes(4, "big")
        + header_json
        + crc.to_bytes(4, "big")
    )


def frame_offsets(data: bytes, frames: list[Frame]) -> list[int]:
    """Byte offset of every frame, then of the end record."""
    end = len(encode_end({"num_frames": len(frames)}))
    sizes = [len(encode_frame(f, seq=i)) for i, f in enumerate(frames)]
    offsets = [len(data) - end - sum(sizes)]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    assert offsets[-1] == len(data) - end
    return offsets


@pytest.fixture
def sample() -> tuple[bytes, list[Frame]]:
    frames = random_frames(7, 12, 2)
    return write_bytes(make_header(2, len(frames)), frames), frames


@pytest.mark.parametrize(("num_channels", "num_frames"), [(1, 0), (1, 1), (1, 40), (2, 25), (6, 5)])
def test_round_trip_is_byte_exact(num_channels: int, num_frames: int) -> None:
    frames = random_frames(num_channels * 100 + num_frames, num_frames, num_channels)
    header = make_header(num_channels, num_frames)
    data = write_bytes(header, iter(frames))
    header2, frames2 = read_container(data)
    assert header2 == header
    assert frames2 == frames
    prelude = {k: v for k, v in header.items() if k != "num_frames"}
    assert data.startswith(encode_header(prelude))  # the count comes last, in the end record
    assert data.endswith(encode_end({"num_frames": num_frames}))
    assert write_bytes(header2, frames2) == data


def test_empty_payloads_round_trip() -> None:
    frames = [Frame((ChannelFrame((b"",)),)), Frame((ChannelFrame((), (b"", b"")),))]
    data = write_bytes(make_header(1, 2), frames)
    assert read_container(data)[1] == frames


def test_frames_accept_bytearray_and_lists() -> None:
    frame = Frame([ChannelFrame([bytearray(b"ab")], [b"c", bytearray()])])  # type: ignore[arg-type]
    assert frame == Frame((ChannelFrame((b"ab",), (b"c", b"")),))
    with pytest.raises(TypeError):
        ChannelFrame(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sequence of bytes"):
        ChannelFrame(b"one packet, not a list")  # type: ignore[arg-type]


def test_decode_frame_in_memory() -> None:
    frames = random_frames(3, 4, 3)
    buf = b"junk" + b"".join(encode_frame(f) for f in frames)
    offset = 4
    for index, frame in enumerate(frames):
        decoded, offset = decode_frame(buf, offset, 3, index)
        assert decoded == frame
    assert offset == len(buf)
    with pytest.raises(BitstreamError, match="frame 1 at byte offset 4: frame is truncated"):
        decode_frame(buf[: 3 + len(encode_frame(frames[0]))], 4, 3, 1)
    with pytest.raises(BitstreamError, match="frame 0 at byte offset 0: expected frame sync"):
        decode_frame(buf, 0, 3, 0)


def test_reader_streams(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    fileobj = io.BytesIO(data)
    reader = ContainerReader(fileobj)
    assert reader.version == FORMAT_VERSION
    assert (reader.num_channels, reader.num_frames) == (2, None)  # counted at the end
    assert next(reader) == frames[0]
    # only the first frame was read, and the byte after it (is the end record next?)
    assert fileobj.tell() == frame_offsets(data, frames)[1] + 1
    assert list(reader) == frames[1:]
    assert reader.frames_read == reader.num_frames == len(frames) and not reader.salvaged


def test_read_container_from_path(tmp_path: Path, sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    path = tmp_path / "x.bgn"
    path.write_bytes(data)
    assert read_container(path)[1] == frames
    assert read_container(str(path))[1] == frames


def test_writer_validates() -> None:
    frames = random_frames(0, 3, 1)
    with pytest.raises(ValueError, match="got 3 frames"):
        write_bytes(make_header(1, 4), (f for f in frames))
    with pytest.raises(ValueError, match="more frames"):
        write_bytes(make_header(1, 2), (f for f in frames))
    with pytest.raises(ValueError, match="frame 0 has 1 channels, header says 2"):
        write_bytes(make_header(1, 3) | {"channels": 2}, frames)
    with pytest.raises(ValueError, match="'channels'"):
        write_bytes({"num_frames": 0}, [])
    assert read_container(write_bytes({"channels": 1}, [])) == (
        {"channels": 1, "num_frames": 0},
        [],
    )
    with pytest.raises(ValueError, match="JSON"):
        write_bytes(make_header(1, 0) | {"x": object()}, [])
    with pytest.raises(ValueError, match="JSON"):
        write_bytes(make_header(1, 0) | {"x": float("nan")}, [])


# ----- errors in the prelude and header (never salvaged) -----


@pytest.mark.parametrize("salvage", [False, True])
def test_bad_magic(salvage: bool) -> None:
    with pytest.raises(BitstreamError, match=r"not a bandgen file.*found b'RIFF'"):
        read_container(b"RIFF\x00\x00\x00\x00WAVE", salvage=salvage)
    with pytest.raises(BitstreamError, match="empty"):
        read_container(b"", salvage=salvage)


def test_unknown_version(sample: tuple[bytes, list[Frame]]) -> None:
    assert SUPPORTED_VERSIONS == (1, 2, 3)
    data = bytearray(sample[0])
    data[4] = 4
    with pytest.raises(
        BitstreamError, match=r"unknown \.bgn format version 4.*reads version 1, 2, 3"
    ):
        read_container(bytes(data), salvage=True)


def test_header_crc_mismatch(sample: tuple[bytes, list[Frame]]) -> None:
    data = bytearray(sample[0])
    assert data[5] < 0x80  # a one-byte length: the header starts at byte 6
    data[12] ^= 0x01
    with pytest.raises(BitstreamError, match="header at byte offset 6: CRC32 mismatch"):
        read_container(bytes(data), salvage=True)


def test_header_is_deflated_with_a_preset_dictionary() -> None:
    header = {k: v for k, v in make_header(2, 0).items() if k != "num_frames"}
    data = encode_header(header)
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    assert len(data) < len(text)
    assert len(encode_header(header, version=2)) == 9 + len(text) + 4
    assert read_container(data + encode_end({"num_frames": 0}))[0] == header | {"num_frames": 0}


def test_header_that_does_not_inflate_is_refused() -> None:
    garbage = b"\xff\xfe\xfd\xfc"
    data = MAGIC + bytes((3, len(garbage))) + garbage + zlib.crc32(garbage).to_bytes(4, "big")
    with pytest.raises(BitstreamError, match="header at byte offset 6 does not inflate"):
        read_container(data)


def test_header_truncated(sample: tuple[bytes, list[Frame]]) -> None:
    for cut in (3, 7, 20):
        with pytest.raises(BitstreamError, match="truncated"):
            read_container(sample[0][:cut], salvage=True)


@pytest.mark.parametrize(
    ("header_json", "match"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"num_frames": 0}', "missing the required key 'channels'"),
        (b'{"channels": 0, "num_frames": 0}', "'channels' must be an integer >= 1"),
        (b'{"channels": 1, "num_frames": -1}', "'num_frames' must be an integer >= 0"),
    ],
)
def test_bad_header(header_json: bytes, match: str) -> None:
    with pytest.raises(BitstreamError, match=match):
        read_container(raw_prelude(header_json))


def test_version_1_header_needs_the_frame_count() -> None:
    with pytest.raises(BitstreamError, match="missing the required key 'num_frames'"):
        read_container(raw_prelude(b'{"channels": 1}', version=1))


# ----- errors in the frames -----


def test_flipped_byte_in_frame(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    bad = bytearray(data)
    bad[offsets[5] + 4] ^= 0x40
    with pytest.raises(BitstreamError) as info:
        read_container(bytes(bad))
    message = str(info.value)
    assert f"frame 5 at byte offset {offsets[5]}" in message
    assert "CRC32 mismatch" in message and "--salvage" in message


def test_missing_sync_byte(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    bad = bytearray(data)
    bad[offsets[3]] = 0x00
    with pytest.raises(
        BitstreamError,
        match=f"frame 3 at byte offset {offsets[3]}: expected frame sync byte 0xB5, found 0x00",
    ):
        read_container(bytes(bad))


def test_truncated_mid_frame(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    with pytest.raises(BitstreamError, match=r"frame 7 .*mid-frame.*--salvage"):
        read_container(data[: offsets[7] + 5])


def test_missing_frames(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    with pytest.raises(
        BitstreamError,
        match=f"frame 9 at byte offset {offsets[9]}: file ends after 9 frames, without its end",
    ):
        read_container(data[: offsets[9]])


def test_trailing_garbage(sample: tuple[bytes, list[Frame]]) -> None:
    data, _ = sample
    with pytest.raises(
        BitstreamError,
        match=rf"trailing garbage.*frame 11 and the end record\): 3 bytes at byte offset {len(data)}",
    ):
        read_container(data + b"xyz")
    reader = ContainerReader(io.BytesIO(data + b"xyz"), salvage=True)
    assert len(list(reader)) == 12 and reader.salvaged


def test_channel_count_mismatch() -> None:
    frames = random_frames(5, 3, 2)
    body = b"".join(encode_frame(f, seq=i) for i, f in enumerate(frames))
    too_many = raw_prelude(json.dumps({"channels": 3, "num_frames": 3}).encode()) + body
    with pytest.raises(
        BitstreamError,
        match=r"frame 0 .*ends inside the core packet count of channel 2 \(header says 3",
    ):
        read_container(too_many)
    too_few = raw_prelude(json.dumps({"channels": 1, "num_frames": 3}).encode()) + body
    with pytest.raises(BitstreamError, match=r"frame 0 .*after 1 channels.*channel count mismatch"):
        read_container(too_few)


# ----- salvage -----


def test_salvage_every_cut(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    for cut in range(offsets[0], len(data) + 1):
        reader = ContainerReader(io.BytesIO(data[:cut]), salvage=True)
        got = list(reader)
        whole = sum(1 for end in offsets[1:] if end <= cut)
        assert got == frames[:whole], cut
        assert reader.salvaged == (cut < len(data))
        if reader.salvaged:
            where = f"frame {whole}" if cut <= offsets[-1] else "end record"
            assert reader.problem is not None and where in reader.problem
            assert "--salvage" not in reader.problem
        assert read_container(data[:cut], salvage=True)[1] == got


def test_salvage_resyncs_after_corrupt_frame(sample: tuple[bytes, list[Frame]]) -> None:
    """Salvage stopped at the first damaged frame; now it skips it and reads the rest."""
    data, frames = sample
    offsets = frame_offsets(data, frames)
    bad = bytearray(data)
    bad[offsets[4] + 3] ^= 0xFF
    reader = ContainerReader(io.BytesIO(bytes(bad)), salvage=True)
    got, lost = [], []
    for frame in reader:
        got.append(frame)
        lost.append(reader.lost_before)
    assert got == frames[:4] + frames[5:]
    assert lost[4] >= 1 and sum(lost) == lost[4]
    assert reader.salvaged and reader.problem is not None and "frame 4" in reader.problem
    (gap,) = reader.gaps
    assert (gap.first_frame, gap.byte_offset) == (4, offsets[4])
    assert gap.num_bytes == offsets[5] - offsets[4]
    assert list(reader) == []  # stays finished


@pytest.mark.parametrize("seed", range(20))
def test_salvage_recovers_every_intact_frame(seed: int) -> None:
    """Damage (flipped bytes, a cut-out run, a lost sync byte) costs only the frames it hits."""
    frames = random_frames(seed, 30, 2)
    data = write_bytes(make_header(2, len(frames)), frames)
    offsets = frame_offsets(data, frames)
    rng = np.random.default_rng(seed)
    hit = sorted(rng.choice(np.arange(1, 29), size=3, replace=False).tolist())
    bad = bytearray(data)
    for k in reversed(hit):
        start, end = offsets[k], offsets[k + 1]
        kind = seed % 3
        if kind == 0:
            bad[int(rng.integers(start, end))] ^= 0x40
        elif kind == 1:
            del bad[start + 1 : end - 1]
        else:
            bad[start] ^= 0xFF
    reader = ContainerReader(io.BytesIO(bytes(bad)), salvage=True)
    got = list(reader)
    assert got == [f for i, f in enumerate(frames) if i not in hit]
    runs = [k for k in hit if k - 1 not in hit]  # neighbouring damaged frames make one gap
    assert [g.first_frame for g in reader.gaps][:1] == runs[:1]
    assert len(reader.gaps) == len(runs)


def test_writer_streams_a_generator() -> None:
    produced = 0

    def gen() -> Iterator[Frame]:
        nonlocal produced
        for frame in random_frames(9, 50, 1):
            produced += 1
            yield frame

    class Recorder(io.BytesIO):
        def write(self, data: Any) -> int:
            # Each write happens before the next frame is produced: nothing is buffered.
            sizes.append(produced)
            return super().write(data)

    sizes: list[int] = []
    write_container(Recorder(), make_header(1, 50), gen())
    assert sizes == [*range(51), 50]  # the end record last


class Trickle(io.BytesIO):
    """A stream that returns at most 3 bytes a read, like a slow pipe."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(3 if size is None or size < 0 else min(size, 3))


def test_reader_handles_short_reads(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    assert list(ContainerReader(Trickle(data))) == frames
    offsets = frame_offsets(data, frames)
    with pytest.raises(BitstreamError, match=f"frame 2 at byte offset {offsets[2]}: file ends"):
        list(ContainerReader(Trickle(data[: offsets[2] + 9])))


# ----- version 3: frame numbers, compact lists; version 2 still read -----


def sized_frames(sizes: list[int]) -> list[Frame]:
    """One-channel frames whose single core packet has each of ``sizes`` bytes."""
    return [Frame((ChannelFrame((bytes([i % 251]) * size,)),)) for i, size in enumerate(sizes)]


@pytest.mark.parametrize(
    ("sizes", "hit"),
    [
        ([20] * 4 + [3000] + [20] * 5, [4]),  # a large frame among small ones: 1, not ~150
        ([3000] * 4 + [20, 20] + [3000] * 4, [4, 5]),  # two small ones: 2, not 0 or 1
    ],
)
def test_salvage_counts_lost_frames_exactly(sizes: list[int], hit: list[int]) -> None:
    """The byte count guessed how many frames a damaged stretch held; the numbers say."""
    frames = sized_frames(sizes)
    data = write_bytes({"channels": 1}, frames)
    offsets = frame_offsets(data, frames)
    bad = bytearray(data)
    for k in hit:
        bad[(offsets[k] + offsets[k + 1]) // 2] ^= 0x08
    reader = ContainerReader(io.BytesIO(bytes(bad)), salvage=True)
    got, lost = [], []
    for frame in reader:
        got.append(frame)
        lost.append(reader.lost_before)
    assert got == [f for i, f in enumerate(frames) if i not in hit]
    assert lost[hit[0]] == len(hit) and sum(lost) == len(hit)
    assert [(g.first_frame, g.num_frames) for g in reader.gaps] == [(hit[0], len(hit))]
    assert reader.num_frames == len(frames)


def test_salvage_counts_hundreds_of_lost_frames() -> None:
    """The sequence number wraps at 256: the skipped bytes tell how many times."""
    frames = sized_frames([30] * 600)
    data = write_bytes({"channels": 1}, frames)
    offsets = frame_offsets(data, frames)
    bad = bytearray(data)
    bad[offsets[100] : offsets[400]] = bytes(offsets[400] - offsets[100])  # 300 frames zeroed
    reader = ContainerReader(io.BytesIO(bytes(bad)), salvage=True)
    got = list(reader)
    assert got == frames[:100] + frames[400:]
    assert [(g.first_frame, g.num_frames) for g in reader.gaps] == [(100, 300)]


def test_a_frame_cut_out_whole_is_found_by_its_number(sample: tuple[bytes, list[Frame]]) -> None:
    data, frames = sample
    offsets = frame_offsets(data, frames)
    cut = data[: offsets[5]] + data[offsets[7] :]
    with pytest.raises(
        BitstreamError, match=f"frame 5 at byte offset {offsets[5]}: frame sequence number 7"
    ):
        read_container(cut)
    reader = ContainerReader(io.BytesIO(cut), salvage=True)
    got, lost = [], []
    for frame in reader:
        got.append(frame)
        lost.append(reader.lost_before)
    assert got == frames[:5] + frames[7:] and lost[5] == 2 and sum(lost) == 2
    assert reader.salvaged and [(g.first_frame, g.num_frames) for g in reader.gaps] == [(5, 2)]


def test_equal_payloads_write_their_length_once() -> None:
    packets = tuple(bytes([k]) * 40 for k in range(25))  # 25 Opus CBR packets
    frame = Frame((ChannelFrame(packets, (b"ab", b"cde")),))
    old, new = encode_frame(frame), encode_frame(frame, seq=300)
    assert len(new) == len(old) + 1 - 24  # a sequence byte; 25 lengths -> 1
    assert decode_frame(new, 0, 1, 300, version=3) == (frame, len(new))
    with pytest.raises(BitstreamError, match="sequence number 44 where 45 was expected"):
        decode_frame(new, 0, 1, 301, version=3)
    empty = Frame((ChannelFrame((b"", b"", b"")),))  # equal but empty: written one by one
    assert decode_frame(encode_frame(empty, seq=0), 0, 1, 0, version=3)[0] == empty


def test_writer_refuses_a_frame_numbered_for_another_place() -> None:
    writer = ContainerWriter(io.BytesIO(), {"channels": 1})
    frame = Frame((ChannelFrame((b"x",)),))
    writer.write_encoded(encode_frame(frame, seq=0))
    with pytest.raises(ValueError, match=r"sequence number 0; pass seq=writer\.num_frames"):
        writer.write_encoded(encode_frame(frame, seq=0))


def test_version_2_streams_still_read() -> None:
    frames = random_frames(11, 6, 2)
    data = (
        encode_header({"channels": 2}, version=2)
        + b"".join(encode_frame(f) for f in frames)
        + encode_end({"num_frames": 6})
    )
    reader = ContainerReader(io.BytesIO(data))
    assert reader.version == 2 and list(reader) == frames
    bad = bytearray(data)
    bad[len(encode_header({"channels": 2}, version=2)) + 5] ^= 0x20
    salvaged = ContainerReader(io.BytesIO(bytes(bad)), salvage=True)
    assert list(salvaged) == frames[1:] and salvaged.gaps[0].num_frames >= 1
