"""The core-codec contract: a waveform codec that codes the low band.

A :class:`CoreCodec` turns mono or multichannel audio into a list of packets per
channel and back.  Decoding is *sample-aligned*: the encoder delay and priming
are removed and the output has exactly the input's length, so the high-band
coders and the metrics can compare signals sample by sample.

Channels are coded independently (one mono stream per channel), which keeps the
container and the mono high-band models simple (see DESIGN.md, "stereo coded per
channel").  ``bitrate`` is therefore per channel.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class CoreParams:
    """Everything the decoder needs to rebuild a core codec; stored in the ``.bgn`` header.

    Attributes:
        name: codec name, ``"aac"``, ``"opus"`` or ``"mp3"``.
        bitrate: target bitrate per channel in bit/s, as asked of the encoder.
        sample_rate: the codec's own sampling rate in Hz (the core band is below
            ``sample_rate / 2``).
        cutoff_hz: the encoder's low-pass frequency in Hz.
        options: codec-specific encoder options (e.g. ``{"aac_coder": "twoloop"}``).
    """

    name: str
    bitrate: int
    sample_rate: int
    cutoff_hz: float
    options: dict[str, str]


class CoreEncoder(ABC):
    """Stateful streaming encoder for one mono channel at the codec's sample rate."""

    @abstractmethod
    def push(self, wav: np.ndarray) -> list[bytes]:
        """Encode the next block of samples.

        Args:
            wav: float32 samples ``[T]`` at the codec's sample rate, any block length.

        Returns:
            The packets completed so far (possibly none).
        """

    @abstractmethod
    def flush(self) -> list[bytes]:
        """Encode what is buffered and return the remaining packets."""


class CoreDecoder(ABC):
    """Stateful streaming decoder for one mono channel.

    Output is aligned: the first sample returned corresponds to the first sample
    given to :meth:`CoreEncoder.push` (the codec delay is dropped internally).
    The caller trims the tail to the known length.
    """

    @abstractmethod
    def push(self, packet: bytes) -> np.ndarray:
        """Decode one packet and return the aligned float32 samples ``[T]`` now available."""

    @abstractmethod
    def flush(self) -> np.ndarray:
        """Return the samples still held (end of stream)."""


class CoreCodec(ABC):
    """A low-band waveform codec (AAC-LC, Opus, MP3) over PyAV.

    Attributes:
        params: the :class:`CoreParams` this instance codes with.
    """

    params: CoreParams
    rate_control: ClassVar[bool] = False
    """Whether the encoders steer their rate to a target per stream, counting the bits
    charged to them (``PyAVEncoder``); else the request is open loop."""
    two_pass: ClassVar[bool] = False
    """An open-loop encoder whose rate varies with the content by more than the target's
    tolerance and cannot be changed once opened (LAME): where the input can be read twice,
    :meth:`bandgen.codec.Codec.calibrate` codes it once to measure the rate and scales the
    request for the real pass."""

    @property
    def name(self) -> str:
        return self.params.name

    @property
    def sample_rate(self) -> int:
        """The codec's sampling rate in Hz."""
        return self.params.sample_rate

    @property
    def cutoff_hz(self) -> float:
        """Top of the coded band in Hz."""
        return self.params.cutoff_hz

    @property
    def bitrate(self) -> int:
        """Target bitrate per channel in bit/s."""
        return self.params.bitrate

    @property
    @abstractmethod
    def frame_length(self) -> int:
        """Samples per packet at :attr:`sample_rate`."""

    @property
    def constant_packets(self) -> bool:
        """Whether every packet has the same size (a constant-bitrate mode), so the
        container writes their length once per frame (default: no)."""
        return False

    @abstractmethod
    def new_encoder(
        self, *, target_bit_rate: int | None = None, rate_scale: float = 1.0
    ) -> CoreEncoder:
        """A fresh streaming encoder for one channel (``target_bit_rate``, ``rate_scale``: see
        PyAVCore)."""

    @abstractmethod
    def new_decoder(self) -> CoreDecoder:
        """A fresh streaming decoder for one channel."""

    def encode(self, wav: np.ndarray) -> list[list[bytes]]:
        """Encode a whole signal.

        Args:
            wav: float32 ``[C, T]`` at :attr:`sample_rate`.

        Returns:
            One packet list per channel.
        """
        out = []
        for channel in np.atleast_2d(wav):
            enc = self.new_encoder()
            packets = enc.push(np.ascontiguousarray(channel, dtype=np.float32))
            packets += enc.flush()
            out.append(packets)
        return out

    def decode(self, packets: list[list[bytes]], num_samples: int) -> np.ndarray:
        """Decode whole streams back to ``[C, num_samples]`` float32, aligned to the input."""
        channels = []
        for stream in packets:
            dec = self.new_decoder()
            parts = [dec.push(p) for p in stream]
            parts.append(dec.flush())
            wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            if wav.shape[0] < num_samples:
                wav = np.pad(wav, (0, num_samples - wav.shape[0]))
            channels.append(wav[:num_samples].astype(np.float32, copy=False))
        return np.stack(channels)
