"""Static Huffman codes for SBR envelope and noise-floor deltas (cf. ISO/IEC 14496-3, 4.A.6.1).

The standard ships trained Huffman tables for delta-coded envelope (1.5 / 3 dB) and noise-floor
values in frequency and time direction.  Those tables are not copied here: each code is built
on first use as the canonical Huffman code of a two-sided geometric model
``P(d) ~ r^|d|`` mixed with a uniform floor of total mass ``2^-12`` (so no code is longer than
about 18 bits), with ``r`` chosen per context: time deltas are more peaked than frequency
deltas, 1.5 dB steps spread twice as wide as 3 dB steps.  Canonical assignment (shorter codes
first, ties by symbol value) makes encoder and decoder agree on every bit.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass

from bandgen.bitstream.bits import BitReader, BitWriter
from bandgen.errors import BitstreamError

_FLOOR_MASS = 2.0**-12
_CONTEXTS: dict[str, tuple[int, float]] = {
    # context -> (largest |delta|, geometric ratio per quantiser step)
    "env_freq_3db": (31, 0.55),
    "env_time_3db": (31, 0.40),
    "env_freq_1.5db": (63, 0.55**0.5),
    "env_time_1.5db": (63, 0.40**0.5),
    "noise_freq": (30, 0.45),
    "noise_time": (30, 0.30),
}


@dataclass(frozen=True)
class HuffmanCode:
    """A canonical prefix code over the integers ``-max_abs .. max_abs``.

    Attributes:
        max_abs: largest representable ``|delta|``.
        codes: ``(code, length)`` per symbol, index ``delta + max_abs``.
        decode_map: ``(length, code) -> delta``.
    """

    max_abs: int
    codes: tuple[tuple[int, int], ...]
    decode_map: dict[tuple[int, int], int]

    @property
    def max_length(self) -> int:
        """Longest code in bits."""
        return max(length for _, length in self.codes)

    def length(self, delta: int) -> int:
        """Bits spent on ``delta``."""
        return self.codes[delta + self.max_abs][1]

    def write(self, writer: BitWriter, delta: int) -> None:
        """Append the code of ``delta`` (``|delta| <= max_abs``)."""
        if abs(delta) > self.max_abs:
            raise ValueError(f"delta {delta} outside the code's range +-{self.max_abs}")
        code, length = self.codes[delta + self.max_abs]
        writer.write(code, length)

    def read(self, reader: BitReader) -> int:
        """Read one code word and return its delta."""
        code = 0
        for length in range(1, self.max_length + 1):
            code = (code << 1) | reader.read(1)
            delta = self.decode_map.get((length, code))
            if delta is not None:
                return delta
        raise BitstreamError(f"invalid Huffman code word {code:b} in SBR side info")


def _code_lengths(weights: list[float]) -> list[int]:
    """Huffman code lengths for ``weights`` (deterministic tie-breaking by insertion order)."""
    heap: list[tuple[float, int, list[int]]] = [(w, i, [i]) for i, w in enumerate(weights)]
    heapq.heapify(heap)
    lengths = [0] * len(weights)
    order = len(weights)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (w1 + w2, order, s1 + s2))
        order += 1
    return lengths


def build_code(max_abs: int, ratio: float) -> HuffmanCode:
    """Canonical Huffman code of the floored two-sided geometric model (see module doc)."""
    values = range(-max_abs, max_abs + 1)
    raw = [ratio ** abs(v) for v in values]
    total = sum(raw)
    weights = [(1 - _FLOOR_MASS) * w / total + _FLOOR_MASS / len(raw) for w in raw]
    lengths = _code_lengths(weights)
    order = sorted(range(len(weights)), key=lambda i: (lengths[i], abs(i - max_abs), i))
    codes: list[tuple[int, int]] = [(0, 0)] * len(weights)
    code, prev_len = 0, lengths[order[0]]
    for rank, i in enumerate(order):
        if rank:
            code = (code + 1) << (lengths[i] - prev_len)
        codes[i] = (code, lengths[i])
        prev_len = lengths[i]
    decode_map = {(length, c): i - max_abs for i, (c, length) in enumerate(codes)}
    return HuffmanCode(max_abs=max_abs, codes=tuple(codes), decode_map=decode_map)


@functools.cache
def code_for(context: str) -> HuffmanCode:
    """The code of ``context``: ``env_{freq,time}_{3db,1.5db}`` or ``noise_{freq,time}``."""
    max_abs, ratio = _CONTEXTS[context]
    return build_code(max_abs, ratio)


def env_context(direction: str, amp_res_db: float) -> str:
    """Context name for envelope deltas in ``direction`` (``"freq"``/``"time"``)."""
    return f"env_{direction}_{'3db' if amp_res_db == 3.0 else '1.5db'}"
