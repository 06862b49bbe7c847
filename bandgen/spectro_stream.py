"""SpectroStream codes streamed through a file: chunked coding, joint channel groups, packing.

The codec of :mod:`bandgen.spectro_codec` codes a 48 kHz signal group by group: channels 1+2,
3+4, ... are coded jointly as stereo pairs (the model's only layout besides mono), an odd last
channel as mono (the pair ``(x, x)``, decoded as the mean). Each group runs its own
:class:`GroupEncoder` / :class:`GroupDecoder`, which feed the model
(:class:`~bandgen.models.spectrostream.SpectroStream`) through its chunked
:meth:`~bandgen.models.spectrostream.SpectroStream.encode_chunked` and
:meth:`~bandgen.models.spectrostream.SpectroStream.decode_chunked` one piece at a time: a piece
holds ``chunk`` new embeddings plus the past context the layers read (and, decoding, the
look-ahead), so the codes and the audio equal the offline :meth:`encode` / :meth:`decode` of
the whole signal while memory is bounded by the piece, whatever the length.

Codes are packed ``code_bits`` (10) bits each, MSB first, embedding by embedding (all levels of
embedding 0, then of embedding 1, ...), one packet per group and container frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from bandgen.errors import BitstreamError
from bandgen.models.spectrostream import SpectroStream

__all__ = [
    "GroupDecoder",
    "GroupEncoder",
    "channel_groups",
    "code_bits",
    "pack_codes",
    "packet_bytes",
    "unpack_codes",
]

CHUNK_EMBEDDINGS = 100
"""New embeddings per model call (4 s): the piece's past context costs little against it."""


def channel_groups(channels: int) -> list[tuple[int, ...]]:
    """The jointly coded groups of ``channels`` channels: pairs ``(0, 1), (2, 3), ...`` and,
    for an odd count, the last channel alone."""
    return [tuple(range(c, min(c + 2, channels))) for c in range(0, channels, 2)]


def code_bits(codebook_size: int) -> int:
    """Bits of one code index of a codebook of ``codebook_size`` entries."""
    return max(1, (codebook_size - 1).bit_length())


def packet_bytes(levels: int, embeddings: int, bits: int) -> int:
    """Bytes of a packet of ``embeddings`` embeddings x ``levels`` codes of ``bits`` bits."""
    return -(-levels * embeddings * bits // 8)


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """Pack ``codes [levels, embeddings]`` (each below ``2**bits``) MSB first, embedding-major,
    zero-padded to a whole byte."""
    flat = np.ascontiguousarray(np.asarray(codes, dtype=np.int64).T).reshape(-1)
    shifts = np.arange(bits - 1, -1, -1)
    bit_array = ((flat[:, None] >> shifts) & 1).astype(np.uint8)
    return np.packbits(bit_array.reshape(-1)).tobytes()


def unpack_codes(
    packet: bytes, levels: int, embeddings: int, bits: int, codebook_size: int, where: str
) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``codes [levels, embeddings]`` (int64).

    Raises:
        BitstreamError: the packet's size is not that of ``levels x embeddings`` codes, a code
            is beyond the codebook, or the padding bits are not zero.
    """
    expected = packet_bytes(levels, embeddings, bits)
    if len(packet) != expected:
        raise BitstreamError(
            f"{where}: SpectroStream packet of {len(packet)} bytes, expected {expected} "
            f"({embeddings} embeddings x {levels} levels x {bits} bits); the stream is corrupt"
        )
    count = levels * embeddings
    bit_array = np.unpackbits(np.frombuffer(packet, np.uint8))
    if bit_array[count * bits :].any():
        raise BitstreamError(f"{where}: SpectroStream packet padding is not zero; corrupt")
    weights = 1 << np.arange(bits - 1, -1, -1, dtype=np.int64)
    flat = bit_array[: count * bits].reshape(count, bits).astype(np.int64) @ weights
    if count and int(flat.max()) >= codebook_size:
        raise BitstreamError(
            f"{where}: code {int(flat.max())} is beyond the codebook of {codebook_size}; corrupt"
        )
    return np.ascontiguousarray(flat.reshape(embeddings, levels).T)


class GroupEncoder:
    """Codes one channel group (``wav [C, n]``, C = 1 or 2, 48 kHz) pushed block by block.

    :meth:`push` returns the codes ``[levels, n]`` of the embeddings completed so far (possibly
    none), :meth:`finish` those of the rest; together they equal
    ``model.encode(whole_wav, levels)``. The buffer never holds more than the past context and
    ``chunk`` embeddings of samples.
    """

    def __init__(self, model: SpectroStream, levels: int, *, chunk: int = CHUNK_EMBEDDINGS):
        self.model, self.levels, self.chunk = model, levels, chunk
        self.spe = model.cfg.samples_per_embedding
        self.back = -(-model.encoder_context // model.cfg.time_stride)
        self.buffer = np.zeros((0, 0), np.float32)
        self.start = 0  # embedding index of the buffer's first sample
        self.next = 0  # next embedding to code
        self.num_samples = 0

    def push(self, wav: np.ndarray) -> np.ndarray:
        """Take ``wav [C, n]``; return the codes of the embeddings it completes."""
        wav = np.asarray(wav, np.float32)
        self.buffer = wav if not self.buffer.size else np.concatenate([self.buffer, wav], axis=1)
        self.num_samples += wav.shape[1]
        out = []
        # embedding j reads samples up to (j + 1) * spe (its last STFT frame's end)
        while self.num_samples >= (self.next + self.chunk) * self.spe:
            out.append(self._code(self.next + self.chunk, final=False))
        return self._join(out)

    def finish(self) -> np.ndarray:
        """Codes of the embeddings left (the stream ends here)."""
        total = self.model.num_embeddings(self.num_samples)
        out = []
        while self.next < total:
            out.append(self._code(min(total, self.next + self.chunk), final=True))
        return self._join(out)

    def _code(self, stop: int, *, final: bool) -> np.ndarray:
        first = max(0, self.next - self.back)
        piece = self.buffer[:, (first - self.start) * self.spe :]
        if not final:
            piece = piece[:, : (stop - first) * self.spe]
        wav = torch.from_numpy(np.ascontiguousarray(piece))[None]
        codes = self.model.encode_chunked(wav, self.levels, chunk=stop - first + 1)
        kept = codes[0, :, self.next - first : stop - first].numpy()
        self.next = stop
        keep_from = max(0, self.next - self.back)
        self.buffer = self.buffer[:, (keep_from - self.start) * self.spe :]
        self.start = keep_from
        return kept

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((self.levels, 0), np.int64)
        return np.concatenate(parts, axis=1)


class GroupDecoder:
    """Decodes one channel group's codes, pushed packet by packet, to ``wav [C, n]`` at 48 kHz.

    The blocks :meth:`push` and :meth:`finish` return add up to
    ``model.decode(all_codes, num_samples, channels)``. Only the decoder's past context and
    the embeddings not yet decoded are held.

    Args:
        model: the model.
        channels: 1 (mono: the mean of the decoded pair) or 2.
        num_samples: the stream's length at 48 kHz.
    """

    def __init__(
        self,
        model: SpectroStream,
        channels: int,
        num_samples: int,
        *,
        chunk: int = CHUNK_EMBEDDINGS,
    ) -> None:
        self.model, self.channels, self.num_samples, self.chunk = (
            model,
            channels,
            num_samples,
            chunk,
        )
        self.spe = model.cfg.samples_per_embedding
        self.back = model.decoder_context
        # the last output block of a chunk needs the first STFT frame of the next embedding,
        # which reads `lookahead` embeddings beyond it
        self.ahead = model.cfg.lookahead + 1
        self.codes: np.ndarray | None = None
        self.start = 0  # embedding index of codes[:, 0]
        self.next = 0  # next embedding whose audio is out
        self.received = 0

    def push(self, codes: np.ndarray) -> np.ndarray:
        """Take the next codes ``[levels, n]``; return the audio now complete ``[C, m]``."""
        self.codes = codes if self.codes is None else np.concatenate([self.codes, codes], axis=1)
        self.received += codes.shape[1]
        out = []
        while self.received >= self.next + self.chunk + self.ahead:
            out.append(self._decode(self.next + self.chunk, final=False))
        return self._join(out)

    def finish(self) -> np.ndarray:
        """The rest of the audio, up to ``num_samples`` (codes received so far)."""
        out = []
        while self.next < self.received:
            out.append(self._decode(min(self.received, self.next + self.chunk), final=True))
        return self._join(out)

    def restart(self, embeddings: int) -> int:
        """Lost codes: skip ``embeddings`` embeddings; the decoder starts afresh after them.

        Returns the number of samples the caller stands in for (at most to ``num_samples``).
        """
        lost_from = self.received * self.spe
        self.next = self.start = self.received = self.received + embeddings
        self.codes = None
        return max(0, min(self.num_samples, self.received * self.spe) - lost_from)

    def _decode(self, stop: int, *, final: bool) -> np.ndarray:
        assert self.codes is not None
        first = max(self.start, self.next - self.back)
        end = self.received if final else stop + self.ahead
        piece = torch.from_numpy(self.codes[:, first - self.start : end - self.start])[None]
        length = min(self.num_samples, end * self.spe) - first * self.spe
        wav = self.model.decode_chunked(piece, max(length, 0), self.channels, chunk=end - first)
        lo = (self.next - first) * self.spe
        hi = min(self.num_samples, stop * self.spe) - first * self.spe
        self.next = stop
        keep_from = max(self.start, self.next - self.back)
        self.codes = self.codes[:, keep_from - self.start :]
        self.start = keep_from
        return wav[0, :, lo:hi].numpy()

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((self.channels, 0), np.float32)
        return np.concatenate(parts, axis=1)


def frame_sizes(total_embeddings: int, per_frame: int) -> Iterator[int]:
    """Embeddings in each container frame: ``per_frame`` each, the rest in the last."""
    for first in range(0, total_embeddings, per_frame):
        yield min(per_frame, total_embeddings - first)
