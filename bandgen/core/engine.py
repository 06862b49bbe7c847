"""Streaming mono encoder and decoder over PyAV, shared by the AAC, Opus and MP3 cores.

The encoder buffers arbitrary blocks into whole codec frames, so pushing a signal
in any block sizes gives the same packets as pushing it at once.  Packets leave as
raw bytes, without container or side data: the decoder rebuilds everything it
needs from :class:`~bandgen.core.base.CoreParams`.

The decoder drops the codec delay itself (encoder priming plus decoder delay,
``delay`` samples at the codec rate) so its first output sample lines up with the
first input sample of the encoder.  The encoder checks at the first packet that
FFmpeg reports the same delay (the packet's negative timestamp), so a change in a
future FFmpeg shows up as an error instead of a silent misalignment.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Literal, cast

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext

from bandgen.errors import BandgenError, BitstreamError, ConfigError

from .base import CoreDecoder, CoreEncoder

STEER_GAIN = 3.0
"""Rate control: log-request change per second of budget over- or underspent."""
STEER_MIN, STEER_MAX = 1 / 8, 4.0
"""Rate control: the request stays within these multiples of the base request."""
STEER_RESERVE_FRAMES = 1.5
"""Rate control: frames of the target kept back for the packets that come out only at the
end (the codec delay and the zero-padded last frame), so a file does not end over its rate."""
STEER_STEP = 2.0
"""Rate control: the request is at most this many times the largest of the last
:data:`STEER_STEP_PACKETS` packets (as a rate), so content that cannot absorb the request
(silence, quiet passages) does not wind up the encoder's quality and burst afterwards."""
STEER_STEP_PACKETS = 4
STEER_FLOOR = 1000.0
"""Rate control: the lowest request, bit/s (after silence, whose packets are a few bytes)."""


def _open_context(
    codec_name: str,
    mode: Literal["r", "w"],
    *,
    sample_rate: int,
    options: Mapping[str, str],
    bit_rate: int = 0,
    sample_format: str | None = None,
    extradata: bytes | None = None,
) -> AudioCodecContext:
    """Create and open a one-thread mono codec context; PyAV errors become bandgen errors."""
    try:
        ctx = cast(AudioCodecContext, av.CodecContext.create(codec_name, mode))
    except (av.FFmpegError, ValueError) as exc:
        raise ConfigError(f"FFmpeg codec {codec_name!r} is not available in PyAV: {exc}") from exc
    ctx.sample_rate = sample_rate
    ctx.layout = "mono"
    ctx.thread_count = 1
    if sample_format is not None:
        ctx.format = sample_format
    if bit_rate:
        ctx.bit_rate = bit_rate
    if extradata is not None:
        ctx.extradata = extradata
    ctx.options = dict(options)
    try:
        ctx.open()
    except (av.FFmpegError, ValueError) as exc:
        raise ConfigError(
            f"cannot open FFmpeg {codec_name!r} {'encoder' if mode == 'w' else 'decoder'} at "
            f"{sample_rate} Hz, {bit_rate} bit/s, options {dict(options)}: {exc}"
        ) from exc
    return ctx


class PyAVEncoder(CoreEncoder):
    """Streaming mono encoder for one FFmpeg audio encoder.

    Args:
        codec_name: FFmpeg encoder name (``"aac"``, ``"libopus"``, ``"libmp3lame"``).
        sample_rate: codec sampling rate in Hz; input blocks are at this rate.
        bit_rate: bit rate asked of the encoder in bit/s.
        options: FFmpeg AVOptions as strings (e.g. ``{"cutoff": "4000"}``).
        sample_format: FFmpeg sample format of the frames (``"fltp"`` or ``"flt"``).
        delay: expected codec delay in samples (encoder priming plus decoder delay).
        target_bit_rate: if given, closed-loop rate control: before each frame the rate
            asked of the encoder is scaled by how far the payload so far is from this
            target (bit/s), so that each stream, not only the average stream, lands on
            it.  Decisions depend only on the stream, so block sizes do not matter.
            Bits the caller spends beside the packets (side info, container framing) are
            counted with :meth:`charge`, so the target can be the whole stream's rate.
    """

    def __init__(
        self,
        codec_name: str,
        *,
        sample_rate: int,
        bit_rate: int,
        options: Mapping[str, str],
        sample_format: str,
        delay: int,
        target_bit_rate: int | None = None,
    ) -> None:
        # FFmpeg's AAC encoder sizes its psychoacoustic bit reservoir from the rate it is
        # opened with and never spends less than that reservoir's target per frame: a rate
        # set later can raise the spend but not lower it. So a steered encoder opens at the
        # lowest rate it may ask for and is steered up (speech_01 at an 8 kbit/s target:
        # 10.8 kbit/s opened at the target, 8.7 opened at 1/8 of it).
        open_rate = bit_rate if target_bit_rate is None else round(bit_rate * STEER_MIN)
        self._ctx = _open_context(
            codec_name,
            "w",
            sample_rate=sample_rate,
            options=options,
            bit_rate=open_rate,
            sample_format=sample_format,
        )
        self._codec_name = codec_name
        self._sample_rate = sample_rate
        self._format = sample_format
        self._delay = delay
        self.frame_size = int(self._ctx.frame_size)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._pts = 0
        self._base_bit_rate = bit_rate
        self._target_bit_rate = target_bit_rate
        self._bits_out = 0
        self._recent_bits: deque[int] = deque(maxlen=STEER_STEP_PACKETS)
        self._first = True
        self._finished = False

    def push(self, wav: np.ndarray) -> list[bytes]:
        """Buffer ``wav`` (float32 ``[T]``) and encode every whole frame; return new packets."""
        if self._finished:
            raise BandgenError("the core encoder was flushed; start a new one for a new stream")
        block = np.asarray(wav, dtype=np.float32)
        if block.ndim != 1:
            raise ConfigError(f"core encoder takes mono blocks [T], got shape {block.shape}")
        self._buffer = np.concatenate([self._buffer, block])
        num_frames = self._buffer.shape[0] // self.frame_size
        packets: list[bytes] = []
        for i in range(num_frames):
            frame = self._buffer[i * self.frame_size : (i + 1) * self.frame_size]
            packets += self._encode(frame)
        self._buffer = self._buffer[num_frames * self.frame_size :]
        return packets

    def flush(self) -> list[bytes]:
        """Zero-pad the last partial frame, drain the encoder and return the last packets."""
        if self._finished:
            return []
        packets: list[bytes] = []
        if self._buffer.shape[0]:
            tail = np.zeros(self.frame_size, dtype=np.float32)
            tail[: self._buffer.shape[0]] = self._buffer
            packets += self._encode(tail)
            self._buffer = np.zeros(0, dtype=np.float32)
        packets += self._encode(None)
        self._finished = True
        return packets

    def charge(self, bits: int) -> None:
        """Count ``bits`` sent beside this encoder's packets against its target (rate control)."""
        self._bits_out += bits

    def _steer(self) -> None:
        """Set the encoder's rate from the stream's budget balance before each frame.

        ``balance`` = (target bits so far - reserve - bits sent so far) / target bit rate,
        in seconds of budget, the reserve being :data:`STEER_RESERVE_FRAMES` frames of the
        target; the request is ``base * exp(STEER_GAIN * balance)`` within
        [:data:`STEER_MIN`, :data:`STEER_MAX`] x base.  The balance is absolute, so a late
        burst (noisy speech after music) is answered as fast as an early one, and the file
        ends within a fraction of a second of budget from its target whatever its length.
        The AAC encoder's payload jumps with the request (a step of 1.5-2x between 4 and
        6 kbit/s at 8 kHz on speech), so the control is integral, not a table lookup.

        FFmpeg's AAC encoder raises its quality fast while a frame spends far less than
        asked (by the square root of the shortfall, up to five times a frame) and lowers it
        slowly, so a high request over silence made the next loud frames spend 2-4x the
        request (dev_speech_02 ended 10 % over at 12 kbit/s).  So the request stays within
        :data:`STEER_STEP` x the recent packets, which bounds the quality the encoder
        reaches over silence while the budget saved there is still spent afterwards
        (capping the saved budget instead gave it up: a clip half silent ended 20 % under).
        """
        if self._target_bit_rate is None:
            return
        reserve = STEER_RESERVE_FRAMES * self.frame_size
        target_bits = self._target_bit_rate * (self._pts - reserve) / self._sample_rate
        balance = (target_bits - self._bits_out) / self._target_bit_rate
        scale = min(STEER_MAX, max(STEER_MIN, math.exp(STEER_GAIN * balance)))
        request = self._base_bit_rate * scale
        if self._recent_bits:
            step_cap = STEER_STEP * max(self._recent_bits) * self._sample_rate / self.frame_size
            request = max(min(request, step_cap), STEER_FLOOR)
        self._ctx.bit_rate = round(request)

    def _encode(self, samples: np.ndarray | None) -> list[bytes]:
        frame = None
        if samples is not None:
            self._steer()
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples)[None], format=self._format, layout="mono"
            )
            frame.sample_rate = self._sample_rate
            frame.pts = self._pts
            self._pts += samples.shape[0]
        try:
            packets = self._ctx.encode(frame)
        except (av.FFmpegError, ValueError) as exc:
            raise BandgenError(f"FFmpeg {self._codec_name} encoder failed: {exc}") from exc
        if packets and self._first:
            self._first = False
            self._check_delay(packets[0].pts)
        out = [bytes(p) for p in packets]
        self._recent_bits.extend(8 * len(p) for p in out)
        self._bits_out += 8 * sum(len(p) for p in out)
        return out

    def _check_delay(self, first_pts: int | None) -> None:
        if first_pts is not None and -first_pts != self._delay:
            raise BandgenError(
                f"FFmpeg {self._codec_name} reports a delay of {-first_pts} samples at "
                f"{self._sample_rate} Hz where bandgen expects {self._delay}; this FFmpeg "
                "build is not supported (the decoded core would be misaligned)"
            )


class PyAVDecoder(CoreDecoder):
    """Streaming mono decoder that drops the codec delay and checks every frame.

    Args:
        codec_name: FFmpeg decoder name (``"aac"``, ``"libopus"``, ``"mp3float"``).
        sample_rate: expected output sampling rate in Hz.
        frame_length: samples every packet must decode to.
        delay: samples dropped at the start (codec delay at ``sample_rate``).
        extradata: codec configuration (e.g. the AAC AudioSpecificConfig), if any.
        options: FFmpeg decoder AVOptions as strings.
    """

    def __init__(
        self,
        codec_name: str,
        *,
        sample_rate: int,
        frame_length: int,
        delay: int,
        extradata: bytes | None = None,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self._ctx = _open_context(
            codec_name, "r", sample_rate=sample_rate, options=options or {}, extradata=extradata
        )
        self._codec_name = codec_name
        self._sample_rate = sample_rate
        self._frame_length = frame_length
        self._to_skip = delay
        self._index = 0

    def push(self, packet: bytes) -> np.ndarray:
        """Decode one packet; return the aligned float32 samples ``[T]`` it completes."""
        if not packet:
            raise BitstreamError(f"empty {self._codec_name} core packet at index {self._index}")
        wav = self._decode(av.Packet(bytes(packet)))
        self._index += 1
        return wav

    def flush(self) -> np.ndarray:
        """Drain the decoder at end of stream; return the remaining aligned samples ``[T]``."""
        return self._decode(None)

    def _decode(self, packet: av.Packet | None) -> np.ndarray:
        where = f"packet {self._index}" if packet is not None else "end of stream"
        try:
            frames = self._ctx.decode(packet)
        except (av.FFmpegError, ValueError) as exc:
            raise BitstreamError(
                f"{self._codec_name} core decoder rejected {where}: {exc}"
            ) from exc
        parts = [self._frame_samples(frame, where) for frame in frames]
        wav = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if self._to_skip:
            skipped = min(self._to_skip, wav.shape[0])
            wav = wav[skipped:]
            self._to_skip -= skipped
        return wav

    def _frame_samples(self, frame: av.AudioFrame, where: str) -> np.ndarray:
        """Check one decoded frame against the stream's parameters; return float32 ``[T]``."""
        channels = frame.layout.nb_channels
        if (
            frame.sample_rate != self._sample_rate
            or channels != 1
            or frame.samples != self._frame_length
        ):
            raise BitstreamError(
                f"{self._codec_name} core {where} decoded to {frame.samples} samples, "
                f"{channels} channel(s) at {frame.sample_rate} Hz; expected "
                f"{self._frame_length} mono samples at {self._sample_rate} Hz (corrupt packet?)"
            )
        samples = frame.to_ndarray().reshape(-1)
        if samples.dtype == np.int16:
            return samples.astype(np.float32) / 32768.0
        return samples.astype(np.float32, copy=False)
