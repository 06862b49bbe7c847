"""The ``none`` high-band method: core only, zero side-info bits."""

from __future__ import annotations

from typing import Any

import numpy as np

from bandgen.hf.base import HighBandCoder, HighBandDecoder, HighBandEncoder


class _Silent(HighBandEncoder):
    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        return []

    def flush(self) -> list[bytes]:
        return []


class _PassThrough(HighBandDecoder):
    def push(self, core_wav48: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        return np.asarray(core_wav48, dtype=np.float32)

    def flush(self) -> np.ndarray:
        return np.zeros(0, np.float32)


class NoneCoder(HighBandCoder):
    """Sends nothing and returns the decoded core unchanged (the band-limited anchor)."""

    name = "none"

    def __init__(self, frame_length: int = 2048) -> None:
        self._frame_length = frame_length

    @property
    def frame_length(self) -> int:
        return self._frame_length

    @property
    def bitrate(self) -> float:
        return 0.0

    def config(self) -> dict[str, Any]:
        return {"frame_length": self._frame_length}

    def num_frames(self, num_samples: int) -> int:
        return 0

    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        return []

    def new_encoder(self) -> HighBandEncoder:
        return _Silent()

    def new_decoder(self) -> HighBandDecoder:
        return _PassThrough()
