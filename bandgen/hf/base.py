"""The high-band coder contract.

A :class:`HighBandCoder` codes what the core codec leaves out.  The encoder sees
the original and the decoded core (both at 48 kHz, mono) and emits one side-info
payload per frame of ``frame_length`` samples; the decoder rebuilds the full-band
signal from the decoded core and those payloads.  ``none``, ``sbr``, ``nsbg`` and
``blind`` all meet this contract, so the container, CLI and evaluation never
special-case a method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from bandgen.audio import WORK_RATE

__all__ = ["WORK_RATE", "HighBandCoder", "HighBandDecoder", "HighBandEncoder"]


class HighBandEncoder(ABC):
    """Streaming encoder state for one channel.

    Aligned blocks of the original and of the decoded core are pushed in order;
    each call returns the payloads completed so far.  All outputs together equal
    :meth:`HighBandCoder.encode` of the whole signal.
    """

    @abstractmethod
    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        """Feed aligned blocks ``[T]`` of original and decoded core; return finished payloads."""

    @abstractmethod
    def flush(self) -> list[bytes]:
        """Return the remaining payloads at end of stream."""


class _WholeSignalEncoder(HighBandEncoder):
    """Fallback streaming encoder: buffers the signal and codes it at :meth:`flush`."""

    def __init__(self, coder: HighBandCoder) -> None:
        self._coder = coder
        self._wav: list[np.ndarray] = []
        self._core: list[np.ndarray] = []

    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        self._wav.append(np.asarray(wav48, np.float32))
        self._core.append(np.asarray(core_wav48, np.float32))
        return []

    def flush(self) -> list[bytes]:
        wav = np.concatenate(self._wav) if self._wav else np.zeros(0, np.float32)
        core = np.concatenate(self._core) if self._core else np.zeros(0, np.float32)
        self._wav, self._core = [], []
        return self._coder.encode(wav, core)


class HighBandDecoder(ABC):
    """Streaming decoder state for one channel.

    Blocks of decoded core and the payloads whose frames they cover are pushed in
    order; each call returns the full-band samples completed so far.  Concatenating
    all outputs (``push`` calls then ``flush``) equals the offline
    :meth:`HighBandCoder.decode` of the whole signal.
    """

    @abstractmethod
    def push(self, core_wav48: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        """Feed core samples ``[T]`` and the payloads received with them; return output ``[T']``."""

    @abstractmethod
    def flush(self) -> np.ndarray:
        """Return the remaining output at end of stream."""


class HighBandCoder(ABC):
    """Codes the high band of one mono 48 kHz channel as per-frame side info.

    Attributes:
        name: registry name (``"none"``, ``"sbr"``, ...), written to the header.
    """

    name: str = ""

    @classmethod
    def for_bitrate(
        cls, bitrate_kbps: float, *, core_cutoff_hz: float | None = None, **options: Any
    ) -> HighBandCoder:
        """The coder an encoder should use at a total of ``bitrate_kbps`` per channel.

        Methods with operating points per rate (SBR ranges, n-SBG models) pick theirs
        here; ``core_cutoff_hz``, when known, lets a method start where the core stops.
        The default ignores both and passes ``options`` to the constructor.
        """
        return cls(**options)

    @property
    def max_core_cutoff_hz(self) -> float | None:
        """The highest band the core should code under this method (``None``: the core's
        own choice); the core is held to it by its own bandwidth control."""
        return None

    @property
    @abstractmethod
    def frame_length(self) -> int:
        """Samples at 48 kHz covered by one payload."""

    @property
    @abstractmethod
    def bitrate(self) -> float:
        """Nominal side-info rate in bit/s (the container reports the measured one)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable parameters the decoder needs; stored in the ``.bgn`` header."""

    @abstractmethod
    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        """Code the high band.

        Args:
            wav48: original float32 ``[T]`` at 48 kHz.
            core_wav48: the decoded core, float32 ``[T]`` at 48 kHz, aligned to ``wav48``.

        Returns:
            :meth:`num_frames` ``(T)`` payloads.
        """

    def new_encoder(self) -> HighBandEncoder:
        """A fresh streaming encoder for one channel.

        The default buffers the whole signal and calls :meth:`encode` at the end;
        coders override it to code in bounded memory.
        """
        return _WholeSignalEncoder(self)

    @abstractmethod
    def new_decoder(self) -> HighBandDecoder:
        """A fresh streaming decoder for one channel."""

    def independent(self, payload: bytes) -> bool:
        """Whether a fresh decoder can start at ``payload`` (it refers to no earlier one).

        A decoder that lost payloads restarts at the first independent one; the default
        (payloads coded on their own) says yes.
        """
        return True

    def num_frames(self, num_samples: int) -> int:
        """Number of payloads for a signal of ``num_samples`` samples at 48 kHz.

        ``ceil(T / frame_length)``; a method that sends no side info returns 0.
        """
        return -(-num_samples // self.frame_length)

    def decode(self, core_wav48: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        """Offline decode of a whole channel: float32 ``[T]`` at 48 kHz, ``T = len(core_wav48)``."""
        dec = self.new_decoder()
        out = np.concatenate([dec.push(core_wav48, list(payloads)), dec.flush()])
        return out[: core_wav48.shape[0]].astype(np.float32, copy=False)
