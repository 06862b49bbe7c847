"""HP-codec codes streamed through a file: one channel at a time, in bounded memory, no seams.

The codec of :mod:`bandgen.hp_codec` codes every channel of a 48 kHz signal on its own with
the mono model (:class:`~bandgen.models.hpcodec.HPCodec`). A :class:`ChannelEncoder` /
:class:`ChannelDecoder` takes the signal (or the codes) block by block and runs the model on
pieces of :data:`CHUNK_TOKENS` new tokens plus a margin of context tokens on each side, of
which it keeps only the new tokens' codes (or audio). The model is non-causal but its
receptive field is finite, so with margins at least that wide the pieces reproduce the
whole-file :func:`encode_tokens` / :func:`decode_tokens` exactly (up to float rounding): there
are no seams to hide, at the price of computing the margins twice (20 % more encoder work at
the defaults, 8 % more decoder work). Memory is bounded by one piece, whatever the length.

Receptive fields (same for every preset: they depend on the rates, kernels and dilations,
HP §4), in tokens of 10 ms: each DAC encoder reads about 9.2 tokens either side, each decoder
11, the 3x resampler 0.4. Encoding both branches chains low encoder, low decoder, resampler
and high encoder (about 30 tokens): :data:`ENCODE_CONTEXT` is 40; decoding needs 12:
:data:`DECODE_CONTEXT` is 16.
"""

from __future__ import annotations

import numpy as np
import torch

from bandgen.models.hpcodec import HPCodec

__all__ = [
    "CHUNK_TOKENS",
    "DECODE_CONTEXT",
    "ENCODE_CONTEXT",
    "ChannelDecoder",
    "ChannelEncoder",
    "decode_tokens",
    "encode_tokens",
]

CHUNK_TOKENS = 400
"""New tokens per model call (4 s)."""
ENCODE_CONTEXT = 40
"""Context tokens on each side of an encoder piece (module docstring)."""
DECODE_CONTEXT = 16
"""Context tokens on each side of a decoder piece."""


@torch.no_grad()
def encode_tokens(model: HPCodec, wav48: torch.Tensor, branches: int) -> torch.Tensor:
    """Codes of ``wav48 [B, 1, T]`` (48 kHz, ``T`` a multiple of the 48 kHz hop): the low
    branch's ``[B, 6, N]``, with ``branches=2`` followed by the high branch's (``[B, 12, N]``,
    coding the residual of the low branch's reconstruction)."""
    x16 = model.to_16k(wav48)
    low = model.encode_low(x16)
    if branches == 1:
        return low
    residual = wav48 - model.to_48k(model.decode_low(low))
    return torch.cat([low, model.encode_high(residual)], dim=1)


@torch.no_grad()
def decode_tokens(model: HPCodec, codes: torch.Tensor) -> torch.Tensor:
    """``codes [B, 6 or 12, N] -> wav48 [B, 1, 480 N]``: the low branch interpolated to 48 kHz,
    plus the high branch when its codes are there."""
    per_branch = len(model.sections) * model.codebooks_per_section
    wav = model.to_48k(model.decode_low(codes[:, :per_branch]))
    if codes.shape[1] > per_branch:
        wav = wav + model.decode_high(codes[:, per_branch:])
    return wav


class ChannelEncoder:
    """Codes one 48 kHz channel pushed block by block (module docstring).

    :meth:`push` returns the codes ``[K, n]`` (``K`` = 6 per branch) of the tokens its samples
    complete with their right-hand context, :meth:`finish` the rest; together they equal
    :func:`encode_tokens` of the whole channel (zero-padded to whole tokens).
    """

    def __init__(
        self,
        model: HPCodec,
        branches: int,
        *,
        chunk: int = CHUNK_TOKENS,
        context: int = ENCODE_CONTEXT,
    ) -> None:
        self.model, self.branches, self.chunk, self.context = model, branches, chunk, context
        self.hop = model.hop_high
        self.num_codes = branches * len(model.sections) * model.codebooks_per_section
        self.buffer = np.zeros(0, np.float32)
        self.start = 0  # token index of the buffer's first sample
        self.next = 0  # next token to code
        self.num_samples = 0

    def push(self, wav: np.ndarray) -> np.ndarray:
        """Take ``wav [n]``; return the codes of the tokens now complete."""
        self.buffer = np.concatenate([self.buffer, np.asarray(wav, np.float32)])
        self.num_samples += len(wav)
        out = []
        while self.num_samples >= (self.next + self.chunk + self.context) * self.hop:
            out.append(self._code(self.next + self.chunk, self.next + self.chunk + self.context))
        return self._join(out)

    def finish(self) -> np.ndarray:
        """Codes of the tokens left (the channel ends here; zero-padded to a whole token)."""
        total = -(-self.num_samples // self.hop)
        padded = (total - self.start) * self.hop
        self.buffer = np.pad(self.buffer, (0, padded - len(self.buffer)))
        out = []
        while self.next < total:
            out.append(self._code(min(total, self.next + self.chunk), total))
        return self._join(out)

    def _code(self, stop: int, end: int) -> np.ndarray:
        first = max(self.start, self.next - self.context)
        piece = self.buffer[(first - self.start) * self.hop : (end - self.start) * self.hop]
        wav = torch.from_numpy(np.ascontiguousarray(piece)).view(1, 1, -1)
        codes = encode_tokens(self.model, wav, self.branches)
        kept = codes[0, :, self.next - first : stop - first].numpy()
        self.next = stop
        keep_from = max(self.start, self.next - self.context)
        self.buffer = self.buffer[(keep_from - self.start) * self.hop :]
        self.start = keep_from
        return kept

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((self.num_codes, 0), np.int64)
        return np.concatenate(parts, axis=1)


class ChannelDecoder:
    """Decodes one channel's codes ``[K, n]``, pushed packet by packet, to 48 kHz audio.

    The blocks :meth:`push` and :meth:`finish` return add up to :func:`decode_tokens` of all
    codes, cut to ``num_samples``; only the context and the tokens not yet decoded are held.
    """

    def __init__(
        self,
        model: HPCodec,
        num_samples: int,
        *,
        chunk: int = CHUNK_TOKENS,
        context: int = DECODE_CONTEXT,
    ) -> None:
        self.model, self.num_samples, self.chunk, self.context = model, num_samples, chunk, context
        self.hop = model.hop_high
        self.codes: np.ndarray | None = None
        self.start = 0  # token index of codes[:, 0]
        self.next = 0  # next token whose audio is out
        self.received = 0

    def push(self, codes: np.ndarray) -> np.ndarray:
        """Take the next codes ``[K, n]``; return the audio now complete ``[m]``."""
        self.codes = codes if self.codes is None else np.concatenate([self.codes, codes], axis=1)
        self.received += codes.shape[1]
        out = []
        while self.received >= self.next + self.chunk + self.context:
            out.append(self._decode(self.next + self.chunk, self.next + self.chunk + self.context))
        return self._join(out)

    def finish(self) -> np.ndarray:
        """The rest of the audio, up to ``num_samples`` (codes received so far)."""
        out = []
        while self.next < self.received:
            out.append(self._decode(min(self.received, self.next + self.chunk), self.received))
        return self._join(out)

    def restart(self, tokens: int) -> int:
        """Lost codes: skip ``tokens`` tokens; decoding starts afresh after them.

        Returns the number of samples the caller stands in for (at most to ``num_samples``).
        """
        lost_from = self.received * self.hop
        self.next = self.start = self.received = self.received + tokens
        self.codes = None
        return max(0, min(self.num_samples, self.received * self.hop) - lost_from)

    def _decode(self, stop: int, end: int) -> np.ndarray:
        assert self.codes is not None
        first = max(self.start, self.next - self.context)
        piece = torch.from_numpy(self.codes[:, first - self.start : end - self.start])[None]
        wav = decode_tokens(self.model, piece)[0, 0]
        lo = (self.next - first) * self.hop
        hi = min(self.num_samples, stop * self.hop) - first * self.hop
        self.next = stop
        keep_from = max(self.start, self.next - self.context)
        self.codes = self.codes[:, keep_from - self.start :]
        self.start = keep_from
        return wav[lo : max(lo, hi)].numpy()

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros(0, np.float32)
        return np.concatenate(parts)
