"""SpectroStream's streaming parts: code packing, channel groups, and memory bounded on long
inputs (a stub model that records what it is given stands in for the network)."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from bandgen.bitstream import ContainerReader
from bandgen.errors import BitstreamError
from bandgen.models.spectrostream import SpectralFrontEnd, SpectroStreamConfig
from bandgen.spectro_codec import SpectroCodec
from bandgen.spectro_stream import channel_groups, pack_codes, packet_bytes, unpack_codes

SR = 48_000


@pytest.mark.parametrize(("levels", "count", "bits"), [(11, 50, 10), (1, 1, 10), (3, 7, 4)])
def test_pack_round_trip(rng: np.random.Generator, levels: int, count: int, bits: int) -> None:
    codes = rng.integers(0, 1 << bits, (levels, count))
    packet = pack_codes(codes, bits)
    assert len(packet) == packet_bytes(levels, count, bits) == -(-levels * count * bits // 8)
    np.testing.assert_array_equal(unpack_codes(packet, levels, count, bits, 1 << bits, ""), codes)


def test_unpack_refuses_bad_packets() -> None:
    packet = pack_codes(np.full((2, 3), 5), 10)  # 60 bits: 4 padding bits
    with pytest.raises(BitstreamError, match="expected 8"):
        unpack_codes(packet[:-1], 2, 3, 10, 1024, "frame 0")
    with pytest.raises(BitstreamError, match="beyond the codebook"):
        unpack_codes(packet, 2, 3, 10, 4, "frame 0")
    with pytest.raises(BitstreamError, match="padding"):
        unpack_codes(packet[:-1] + bytes([packet[-1] | 1]), 2, 3, 10, 1024, "frame 0")


def test_channel_groups() -> None:
    assert channel_groups(1) == [(0,)]
    assert channel_groups(2) == [(0, 1)]
    assert channel_groups(5) == [(0, 1), (2, 3), (4,)]


class _Stub:
    """The model's interface, coding nothing: records the longest piece it is handed."""

    def __init__(self) -> None:
        self.cfg = SpectroStreamConfig.debug()
        self.front = SpectralFrontEnd(self.cfg.n_fft)
        self.encoder_context, self.decoder_context = 54, 15
        self.longest_wav = self.longest_codes = 0

    def num_embeddings(self, length: int) -> int:
        stride = self.cfg.time_stride
        return self.front.frames_for(length, stride) // stride

    def encode_chunked(self, wav: torch.Tensor, n_q: int, *, chunk: int) -> torch.Tensor:
        self.longest_wav = max(self.longest_wav, wav.shape[-1])
        return torch.zeros(1, n_q, self.num_embeddings(wav.shape[-1]), dtype=torch.long)

    def decode_chunked(
        self, codes: torch.Tensor, length: int, channels: int, *, chunk: int
    ) -> torch.Tensor:
        self.longest_codes = max(self.longest_codes, codes.shape[-1])
        return torch.zeros(1, channels, length)


def _blocks(seconds: int) -> Iterator[np.ndarray]:
    for _ in range(seconds):
        yield np.zeros((2, SR), np.float32)


def _run(seconds: int) -> tuple[int, int, int]:
    """Encode and decode ``seconds`` of stereo through the stub; (longest piece of samples,
    longest piece of codes, peak traced memory)."""
    stub = _Stub()
    codec = SpectroCodec(stub, {"name": "stub", "sha256": "0" * 64}, 0.3)
    tracemalloc.start()
    out = io.BytesIO()
    codec.encode_stream(_blocks(seconds), SR, out)
    reader = ContainerReader(io.BytesIO(out.getvalue()))
    total = sum(block.shape[1] for block in codec.decode_frames(reader))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == seconds * SR
    return stub.longest_wav, stub.longest_codes, peak - len(out.getvalue())


def test_memory_does_not_grow_with_length() -> None:
    wav20, codes20, peak20 = _run(20)
    wav60, codes60, peak60 = _run(60)
    assert (wav60, codes60) == (wav20, codes20)
    assert wav20 <= (100 + 14) * 1920 and codes20 <= 100 + 15 + 2  # chunk + context
    assert peak60 < 1.2 * peak20
