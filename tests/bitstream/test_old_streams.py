"""Streams written by earlier bandgen versions still decode, and new ones need no seeking."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.bitstream import ContainerReader
from bandgen.codec import Codec

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["v1_sbr_stereo", "v1_opus_none_mono"])
def test_version_1_streams_decode_as_before(name: str) -> None:
    """``v1_*.bgn`` were written by bandgen at 2c6536b (format version 1: counts in the
    header, 0.1-s frames); ``v1_*.flac`` are what that version decoded them to."""
    data = (FIXTURES / f"{name}.bgn").read_bytes()
    reader = ContainerReader(io.BytesIO(data))
    assert reader.version == 1 and "frame_packets" not in reader.header
    expected, rate = sf.read(str(FIXTURES / f"{name}.flac"), dtype="float32", always_2d=True)
    out = Codec.decode(data)
    assert rate == 48000 and out.shape == expected.T.shape
    np.testing.assert_allclose(out, expected.T, atol=2.0**-22)  # the fixture is 24-bit


def test_version_2_stream_decodes_as_before() -> None:
    """``v2_aac_sbr_stereo.bgn`` was written by bandgen at fe982d8 (format version 2: an
    uncompressed header, frames without sequence numbers); the ``.flac``, what it decoded to."""
    data = (FIXTURES / "v2_aac_sbr_stereo.bgn").read_bytes()
    assert ContainerReader(io.BytesIO(data)).version == 2
    expected, rate = sf.read(str(FIXTURES / "v2_aac_sbr_stereo.flac"), dtype="float32")
    out = Codec.decode(data)
    assert rate == 48000 and out.shape == expected.T.shape == (2, 48000)
    np.testing.assert_allclose(out, expected.T, atol=2.0**-22)


class WriteOnly:
    """An output that can only be written to, like a pipe: no seek, tell or read."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)


@pytest.mark.parametrize(("core", "hf"), [("aac", "sbr"), ("opus", "none")])
def test_encoder_writes_in_one_pass(core: str, hf: str) -> None:
    rng = np.random.default_rng(1)
    wav = (0.1 * rng.standard_normal((2, 48000))).astype(np.float32)
    codec = Codec.create(bitrate_kbps=16, core=core, hf=hf)
    out = WriteOnly()
    stats = codec.encode_stream([wav[:, :20000], wav[:, 20000:]], 48000, out)  # type: ignore[arg-type]
    data = b"".join(out.chunks)
    assert len(data) == stats.total_bytes and len(out.chunks) > 2  # frames leave as they come
    decoded = Codec.decode(data)
    assert decoded.shape == wav.shape


def test_encoder_output_through_an_os_pipe() -> None:
    rng = np.random.default_rng(2)
    wav = (0.1 * rng.standard_normal((1, 96000))).astype(np.float32)
    codec = Codec.create(bitrate_kbps=12, core="opus", hf="none")
    read_fd, write_fd = os.pipe()
    received: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=drain)
    reader.start()
    with os.fdopen(write_fd, "wb") as pipe:
        codec.encode_stream([wav], 48000, pipe)
    reader.join()
    assert Codec.decode(received[0]).shape == wav.shape
