"""Decoding a ``.bgn`` stream frame by frame, with loss concealment for ``--salvage``.

Each channel runs a core decoder (resampled to 48 kHz) and a high-band decoder.  When a
salvaging :class:`~bandgen.bitstream.ContainerReader` skips damaged frames, the output
fades out (5 ms), the lost frames' duration passes in silence and the output fades in
again, as codecs' packet-loss concealment does.  The core decoder is kept across the gap
(a fresh one, starting without its predictors' state, bursts).  The high band cannot
continue (its side info may refer to the lost payloads, e.g. SBR's time-delta envelopes):
the core plays alone until the first payload a fresh high-band decoder can start at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.resample import StreamResampler
from bandgen.bitstream import ChannelFrame, ContainerReader, Frame
from bandgen.core import CoreCodec
from bandgen.core.base import CoreDecoder
from bandgen.errors import BitstreamError
from bandgen.header import check_counts
from bandgen.hf.base import HighBandCoder, HighBandDecoder
from bandgen.stereo import PairRotator

if TYPE_CHECKING:
    from bandgen.codec import Codec

FRAME_TARGET_S = 0.1
"""Streams without a ``frame_packets`` header key grouped about this many seconds of core
packets per container frame (at least one)."""

IMPLAUSIBLE_PEAK = 2.0
"""Salvaging, a core packet decoding beyond this (+6 dBFS) is garbage (silence instead), and
so is a high band beyond it (the core alone instead, until the next independent payload)."""

OUTPUT_LIMIT = 4.0
"""The decoder's last stage holds every output sample within this (+12 dBFS): a damaged or
forged stream must never blast the listener. Normal decodes stay far below it."""

FADE_SAMPLES = 240
"""Length of the fades around a concealed gap, 5 ms at 48 kHz."""

Progress = Callable[[int], None]
"""Called with the number of 48 kHz samples (encode) or frames (decode) just done."""


def packets_per_frame(core: CoreCodec) -> int:
    """Core packets per frame of a stream without ``frame_packets`` (about 0.1 s, at least 1)."""
    return max(1, round(FRAME_TARGET_S * core.sample_rate / core.frame_length))


def payloads_before(index: int, core: CoreCodec, hf: HighBandCoder, frame_packets: int) -> int:
    """Side-info payloads in the frames before frame ``index`` (those starting before it)."""
    if hf.num_frames(WORK_RATE) == 0:
        return 0
    # in units of 1 / (48 kHz * core rate) seconds, as the encoder's frame assembler counts
    frame_span = frame_packets * core.frame_length * WORK_RATE
    return -(-index * frame_span // (hf.frame_length * core.sample_rate))


class CoreToWork:
    """Decodes one channel's core packets and resamples them to 48 kHz.

    The encoder (local decode) and the decoder use this same class, so the
    high-band coders on both sides see bit-identical core signals.

    Args:
        core: the core codec.
        limit: the stream's length, when known: no sample past it is passed on.
        guard: salvaging: a packet that decodes beyond :data:`IMPLAUSIBLE_PEAK` (e.g. an
            MP3 frame whose bit reservoir was lost with the frames before it) is silence.
    """

    def __init__(self, core: CoreCodec, limit: int | None = None, *, guard: bool = False) -> None:
        self._decoder: CoreDecoder = core.new_decoder()
        self._resampler = StreamResampler(core.sample_rate, WORK_RATE, 1)
        self.limit = limit
        self._guard = guard
        self._rate = core.sample_rate
        self.num_out = 0
        self.muted = 0  # 48 kHz samples of implausible packets replaced by silence

    def push(self, packet: bytes) -> np.ndarray:
        return self._emit(self._checked(self._decoder.push(packet)))

    def conceal(self, core_samples: int) -> int:
        """Stand in for lost packets of ``core_samples`` samples: the timeline moves on in silence.

        The decoder is kept (its state is nearer the truth after the gap than a fresh
        one's); returns the number of 48 kHz samples of silence this makes.
        """
        return int(self._emit(np.zeros(core_samples, np.float32)).shape[0])

    def _checked(self, pcm: np.ndarray) -> np.ndarray:
        if self._guard and pcm.size and float(np.abs(pcm).max()) > IMPLAUSIBLE_PEAK:
            self.muted += pcm.shape[0] * WORK_RATE // self._rate
            return np.zeros_like(pcm)
        return pcm

    def _emit(self, pcm: np.ndarray) -> np.ndarray:
        out = self._resampler.push(pcm[None])[0]
        if self.limit is not None:
            out = out[: max(0, self.limit - self.num_out)]
        self.num_out += out.shape[0]
        return out

    def finish(self, num_samples: int, *, pad: bool = True) -> np.ndarray:
        """Flush and cut the total output to at most ``num_samples``; zero-pad up to it if ``pad``."""
        tail = self._resampler.push(self._checked(self._decoder.flush())[None], last=True)[0]
        keep = max(0, num_samples - self.num_out)
        tail = tail[:keep]
        if pad:
            tail = np.pad(tail, (0, keep - tail.shape[0]))
        self.num_out += tail.shape[0]
        return tail.astype(np.float32, copy=False)


class _Pair:
    """A joint-stereo pair's two channels: cores decoded as mid and side, rotated back to left
    and right, and the high band decoded per channel on those (:mod:`bandgen.stereo`)."""

    def __init__(self, run: list[_Channel]) -> None:
        self.run = run
        self.rotator = PairRotator()

    def push(self, frame: Frame, index: int) -> list[np.ndarray]:
        """Decode frame ``index``: the left and right output it completes."""
        payloads = [
            ch.payloads(part, index) for ch, part in zip(self.run, frame.channels, strict=True)
        ]
        cores = [ch.decode_core(part) for ch, part in zip(self.run, frame.channels, strict=True)]
        left_right = self.rotator.push(cores[0], cores[1])
        return [ch.route(x, p) for ch, x, p in zip(self.run, left_right, payloads, strict=True)]

    def finish(self, end: int, *, pad: bool) -> list[np.ndarray]:
        """The rest of the output of both channels up to 48 kHz sample ``end``."""
        tails = [ch.core.finish(end, pad=pad) for ch in self.run]
        left_right = self.rotator.push(tails[0], tails[1], last=True)
        return [
            ch.finish_high_band(ch.route(x, [])) for ch, x in zip(self.run, left_right, strict=True)
        ]


class _Channel:
    """One channel's core and high-band decoders.

    With ``guard`` (salvage), lost frames and high-band errors are concealed: the core
    decoder is kept and the lost stretch becomes silence; the high band is dropped and the
    core plays alone until a payload a fresh high-band decoder can start at
    (:meth:`HighBandCoder.independent`).  A core packet the decoder rejects is silence.
    """

    def __init__(self, codec: Codec, limit: int | None, *, guard: bool) -> None:
        self.codec = codec
        self.core = CoreToWork(codec.core, limit=limit, guard=guard)
        self.hf: HighBandDecoder | None = codec.hf.new_decoder()
        self.bypass = 0  # core samples passed on alone before a restarted high band
        self.guard = guard
        self.held = np.zeros(0, np.float32)  # core given to the high band, not yet out
        self.failed: str | None = None
        self.core_only = 0  # samples output without their high band
        self.lost = 0  # samples of core packets the decoder rejected

    def push(self, ch: ChannelFrame, index: int) -> np.ndarray:
        """Decode the channel's part of frame ``index``."""
        payloads = self.payloads(ch, index)
        return self.route(self.decode_core(ch), payloads)

    def payloads(self, ch: ChannelFrame, index: int) -> list[bytes]:
        """The side info of the channel's part of frame ``index`` for its high band (from
        the first independent payload, if the high band must restart); before the core."""
        payloads = list(ch.side)
        if self.hf is None:
            payloads = self._restart(payloads, index)
        return payloads

    def decode_core(self, ch: ChannelFrame) -> np.ndarray:
        """The core of the channel's part of a frame, at 48 kHz (a rejected packet: silence)."""
        parts = []
        for packet in ch.core:
            try:
                parts.append(self.core.push(packet))
            except BitstreamError:
                if not self.guard:
                    raise
                silent = self.core.conceal(self.codec.core.frame_length)
                parts.append(np.zeros(silent, np.float32))
                self.lost += silent
        return _join(parts)

    def conceal(self, num_frames: int) -> tuple[np.ndarray, int]:
        """Lost frames: the output so far, and how many samples of silence stand for them."""
        held = self.held
        self.hf, self.held, self.failed = None, np.zeros(0, np.float32), "lost frames"
        core = self.codec.core
        return held, self.core.conceal(num_frames * self.codec.frame_packets * core.frame_length)

    def finish(self, end: int, *, pad: bool) -> np.ndarray:
        """The rest of the output up to 48 kHz sample ``end`` (fewer if not ``pad``)."""
        return self.finish_high_band(self.route(self.core.finish(end, pad=pad), []))

    def finish_high_band(self, last: np.ndarray) -> np.ndarray:
        """``last`` (the output of the core's tail) and what the high band still holds."""
        out = [last]
        if self.hf is not None:
            try:
                out.append(self._plausible(self.hf.flush()))
            except BitstreamError as exc:
                out.append(self._fall_back(exc))
        return _join(out)

    def _plausible(self, decoded: np.ndarray) -> np.ndarray:
        """``decoded``, unless salvaging and it goes beyond :data:`IMPLAUSIBLE_PEAK`."""
        if self.guard and decoded.size and np.abs(decoded).max() > IMPLAUSIBLE_PEAK:
            raise BitstreamError("the high band decoded beyond +6 dBFS (damaged side info)")
        return decoded

    def _restart(self, payloads: list[bytes], index: int) -> list[bytes]:
        """Start a fresh high band at the frame's first independent payload, if any."""
        hf = self.codec.hf
        position = self.core.num_out
        if self.failed is None:
            return []
        if hf.num_frames(WORK_RATE) == 0:
            at, first = position, 0
        else:
            found = next((k for k, p in enumerate(payloads) if hf.independent(p)), None)
            if found is None:
                return []
            first = found
            before = payloads_before(index, self.codec.core, hf, self.codec.frame_packets)
            at = (before + first) * hf.frame_length
        if at < position:
            return []
        self.hf, self.bypass, self.failed = hf.new_decoder(), at - position, None
        return payloads[first:]

    def route(self, core: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        """Core samples to the high-band decoder, or straight out while it is off."""
        alone = core.shape[0] if self.hf is None else min(self.bypass, core.shape[0])
        out, core = [core[:alone]], core[alone:]
        self.core_only += alone
        if self.hf is not None:
            self.bypass -= alone
            if self.guard:
                self.held = np.concatenate([self.held, core])
            try:
                decoded = self._plausible(self.hf.push(core, payloads))
            except BitstreamError as exc:
                out.append(self._fall_back(exc))
            else:
                self.held = self.held[decoded.shape[0] :]
                out.append(decoded)
        return _join(out)

    def _fall_back(self, exc: BitstreamError) -> np.ndarray:
        if not self.guard:
            raise exc
        self.hf, self.failed = None, str(exc)
        held, self.held = self.held, np.zeros(0, np.float32)
        self.core_only += held.shape[0]
        return held


@dataclass
class Concealment:
    """What a salvaging decode could not decode, and what the output safety stage limited.

    Attributes:
        lost_samples: 48 kHz samples replaced by silence (damaged frames, per channel).
        core_only_samples: samples decoded without their high band (most of any channel),
            where the high band could not restart after a gap.
        limited_samples: samples (any channel) beyond :data:`OUTPUT_LIMIT` or not finite,
            clipped to it (or zeroed) by the output safety stage; counted in every decode.
    """

    lost_samples: int = 0
    core_only_samples: int = 0
    limited_samples: int = 0


def limit_output(block: np.ndarray, concealment: Concealment) -> np.ndarray:
    """The output safety stage: ``block [C, n]`` with samples beyond :data:`OUTPUT_LIMIT`
    clipped to it and non-finite ones zeroed, counted in ``concealment.limited_samples``.
    A block within the limit is returned as it is."""
    bad = ~(np.abs(block) <= OUTPUT_LIMIT)  # NaN compares false: counted too
    if not bad.any():
        return block
    concealment.limited_samples += int(bad.any(axis=0).sum())
    safe = np.nan_to_num(block, nan=0.0, posinf=OUTPUT_LIMIT, neginf=-OUTPUT_LIMIT)
    return np.clip(safe, -OUTPUT_LIMIT, OUTPUT_LIMIT).astype(np.float32, copy=False)


class _Output:
    """Per-channel output queues, released in step, keeping a fade's worth back for a gap."""

    def __init__(self, channels: int, limit: int | None, margin: int) -> None:
        self.pending: list[list[np.ndarray]] = [[] for _ in range(channels)]
        self.fade_in = [0] * channels
        self.limit = limit
        self.margin = margin  # held back while the length is unknown (before the end record)
        self.emitted = 0

    def add(self, c: int, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32)
        if self.fade_in[c] and samples.size:
            done = FADE_SAMPLES - self.fade_in[c]
            n = min(self.fade_in[c], samples.shape[0])
            samples = samples.copy()
            samples[:n] *= (np.arange(done, done + n) + 1) / (FADE_SAMPLES + 1)
            self.fade_in[c] -= n
        self.pending[c].append(samples)

    def gap(self, c: int, before: np.ndarray, silent: int) -> None:
        """Channel ``c``: ``before`` faded out at its end, ``silent`` zeros, then a fade-in."""
        self.pending[c].append(np.asarray(before, np.float32))
        tail = _join(self.pending[c])
        n = min(FADE_SAMPLES, tail.shape[0])
        if n:
            tail = tail.copy()
            tail[-n:] *= np.arange(n, 0, -1) / (n + 1)
        self.pending[c] = [tail, np.zeros(silent, np.float32)]
        self.fade_in[c] = FADE_SAMPLES

    def release(self, *, final: bool) -> np.ndarray | None:
        parts = [_join(p) for p in self.pending]
        hold = 0 if final else FADE_SAMPLES if self.limit is not None else self.margin
        n = min(p.shape[0] for p in parts) - hold
        if self.limit is not None:
            n = min(n, self.limit - self.emitted)
        if n <= 0:
            self.pending = [[p] for p in parts]
            return None
        self.pending = [[p[n:]] for p in parts]
        self.emitted += n
        return np.stack([p[:n] for p in parts])


def decode_frames(
    codec: Codec,
    reader: ContainerReader,
    *,
    progress: Progress | None = None,
    concealment: Concealment | None = None,
) -> Iterator[np.ndarray]:
    """Decode a container's frames; yields float32 blocks ``[C, n]`` at 48 kHz.

    The blocks add up to the header's length, or, for a salvaged stream whose data ends
    inside a frame, to the part its whole frames cover.  Frames a salvaging reader
    skipped are concealed (see the module doc); ``reader.gaps`` lists them and
    ``concealment``, when given, is filled in as the decode goes.
    """
    concealment = concealment if concealment is not None else Concealment()
    header = reader.header
    channels = int(header["channels"])
    # from container version 2 the length arrives with the end record, read before the
    # last frame is returned; until then the output holds back what the last frames
    # could still cut (their packets beyond the end, the codec delay)
    num_samples = _length(header)
    run = [_Channel(codec, num_samples, guard=reader.salvage) for _ in range(channels)]
    pair = _Pair(run) if codec.stereo.joint(channels) else None
    core = codec.core
    margin = (codec.frame_packets + 4) * core.frame_length * WORK_RATE // core.sample_rate
    out = _Output(channels, num_samples, max(margin, FADE_SAMPLES))
    for frame in reader:
        index = reader.frames_read - 1
        if len(frame.channels) != channels:
            raise BitstreamError(
                f"frame {index} has {len(frame.channels)} channels, header says {channels}"
            )
        if num_samples is None and (num_samples := _length(header)) is not None:
            out.limit = num_samples
            for channel in run:
                channel.core.limit = num_samples
        if reader.lost_before:
            silent = 0
            for c, channel in enumerate(run):
                before, n = channel.conceal(reader.lost_before)
                out.gap(c, before, n)
                silent = max(silent, n)
            concealment.lost_samples += silent
        if pair is not None:
            for c, samples in enumerate(pair.push(frame, index)):
                out.add(c, samples)
        else:
            for c, ch in enumerate(frame.channels):
                out.add(c, run[c].push(ch, index))
        if progress is not None:
            progress(1)
        block = out.release(final=False)
        if block is not None:
            yield limit_output(block, concealment)
    num_samples = _length(header)
    truncated = (
        reader.truncated or num_samples is None or _claims_too_much(codec, reader, run, num_samples)
    )
    end = num_samples if num_samples is not None else max(ch.core.num_out for ch in run)
    # a stream whose data ends mid-frame ends where its decodable core ends
    tails = (
        pair.finish(end, pad=not truncated)
        if pair is not None
        else [channel.finish(end, pad=not truncated) for channel in run]
    )
    for c, tail in enumerate(tails):
        out.add(c, tail)
    concealment.core_only_samples += max(channel.core_only for channel in run)
    concealment.lost_samples += max(channel.lost + channel.core.muted for channel in run)
    block = out.release(final=True)
    if block is not None:
        yield limit_output(block, concealment)
    limit = out.limit if not truncated and out.limit is not None else out.emitted
    if out.emitted < limit:
        yield np.zeros((channels, limit - out.emitted), np.float32)


def _length(header: dict[str, Any]) -> int | None:
    """The stream's length from the header (or its end record, checked here), if known yet."""
    if "num_samples" not in header:
        return None
    check_counts(header)
    return int(header["num_samples"])


def _claims_too_much(
    codec: Codec, reader: ContainerReader, run: list[_Channel], num_samples: int
) -> bool:
    """Whether the header's length exceeds what the frames read can hold.

    The core's packets cover the whole signal (plus its delay), so a length beyond them
    and a few packets of slack is a false claim: refused, or, salvaging, not padded out
    (memory and time follow the frames read, never the header).

    Raises:
        BitstreamError: the claim, when not salvaging.
    """
    core = codec.core
    slack = 3 * core.frame_length * WORK_RATE // core.sample_rate + 1024
    decoded = min(channel.core.num_out for channel in run)
    if num_samples <= decoded + slack:
        return False
    if not reader.salvage:
        raise BitstreamError(
            f"the header says {num_samples} samples but the frames hold about {decoded}; "
            "the header is corrupt"
        )
    return True


def _join(blocks: list[np.ndarray]) -> np.ndarray:
    return (
        np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)
    )
