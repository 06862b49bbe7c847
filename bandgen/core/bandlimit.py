"""A core that only band-limits: the signal at a lower sampling rate, carried as raw float32.

It is the "core" of blind bandwidth extension (``bandgen extend``, HP-codec's 16 kHz branch):
training pairs whose low band is the input resampled to ``sample_rate`` (content up to
``sample_rate / 2``) with no coding loss. It is a training and evaluation tool, not a codec
mode: it is not among :data:`bandgen.core.CORE_NAMES`, so no ``.bgn`` stream can name it.
"""

from __future__ import annotations

import numpy as np

from bandgen.errors import ConfigError

from .base import CoreCodec, CoreDecoder, CoreEncoder, CoreParams

BANDLIMIT = "bandlimit"
"""The name :func:`bandgen.core.make_core` knows this core by."""

_FRAME = 320


class _Encoder(CoreEncoder):
    def __init__(self) -> None:
        self._held = np.zeros(0, np.float32)

    def push(self, wav: np.ndarray) -> list[bytes]:
        self._held = np.concatenate([self._held, np.asarray(wav, np.float32)])
        whole = self._held.shape[0] // _FRAME * _FRAME
        frames = [self._held[i : i + _FRAME].tobytes() for i in range(0, whole, _FRAME)]
        self._held = self._held[whole:]
        return frames

    def flush(self) -> list[bytes]:
        rest, self._held = self._held, np.zeros(0, np.float32)
        return [rest.tobytes()] if rest.size else []


class _Decoder(CoreDecoder):
    def push(self, packet: bytes) -> np.ndarray:
        return np.frombuffer(packet, dtype=np.float32).copy()

    def flush(self) -> np.ndarray:
        return np.zeros(0, np.float32)


class BandLimitCore(CoreCodec):
    """The input at ``params.sample_rate``, unchanged (float32 packets of 320 samples)."""

    def __init__(self, params: CoreParams) -> None:
        if params.name != BANDLIMIT or params.sample_rate < 8000:
            raise ConfigError(f"not a band-limit core: {params}")
        self.params = params

    @classmethod
    def for_rate(cls, sample_rate: int | None = None) -> BandLimitCore:
        """The band-limit core at ``sample_rate`` Hz (default 16 kHz: content up to 8 kHz)."""
        rate = 16_000 if sample_rate is None else int(sample_rate)
        if rate < 8000 or rate > 48_000:
            raise ConfigError(f"band-limit core rate must be 8000-48000 Hz, got {rate}")
        return cls(CoreParams(BANDLIMIT, 32 * rate, rate, rate / 2, {}))

    @property
    def frame_length(self) -> int:
        return _FRAME

    def new_encoder(
        self, *, target_bit_rate: int | None = None, rate_scale: float = 1.0
    ) -> CoreEncoder:
        return _Encoder()

    def new_decoder(self) -> CoreDecoder:
        return _Decoder()
