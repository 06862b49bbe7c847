"""The codec engine: a core codec plus a high-band coder, streamed block by block.

Encoding runs the whole chain in bounded memory: input blocks are resampled to
48 kHz, coded by the core codec one channel at a time, decoded again locally (so
the high-band encoder sees exactly what the receiver will decode), coded by the
high-band method, and packed into ``.bgn`` frames.  Decoding mirrors it.  Each
stage keeps only the few thousand samples its delay needs, so a one-hour file is
never held in memory.
"""

from __future__ import annotations

import math
import numbers
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np

from bandgen import __version__
from bandgen.audio import WORK_RATE
from bandgen.audio.checks import (
    check_channels,
    check_finite,
    check_layout,
    check_sample_rate,
)
from bandgen.audio.resample import StreamResampler
from bandgen.bitstream import (
    ChannelFrame,
    ContainerReader,
    ContainerWriter,
    Frame,
    encode_frame,
    write_varint,
)
from bandgen.core import CoreCodec, CoreParams, core_from_params, make_core
from bandgen.core.factory import core_kbps_range
from bandgen.decoder import (
    Concealment,
    CoreToWork,
    Progress,
    decode_frames,
    packets_per_frame,
)
from bandgen.defaults import resolve_mode
from bandgen.errors import AudioInputError, BitstreamError, ConfigError
from bandgen.header import FULL_BAND_CORES, check_header, hf_decode_config
from bandgen.hf import registry
from bandgen.hf.base import HighBandCoder
from bandgen.stereo import PairRotator, StereoConfig, to_mid_side

FEED_SAMPLES = 4800
"""The encoder codes its input in steps of at most this many 48 kHz samples (0.1 s)."""

FRAME_SECONDS = 0.5
"""A container frame groups the core packets of about this long (at least one packet):
its sync, length and CRC32 fields then cost about 0.15 kbps per stream."""

END_RECORD_BYTES = 48
"""About the size of a stream's end record (length and frame count), for rate control."""

CALIBRATION_PASSES = 4
"""Most measuring passes of :meth:`Codec.calibrate` before the real one."""

CALIBRATION_TOLERANCE = 0.02
"""A measuring pass this close to the target (relative) ends the calibration."""

FRAME_OVERHEAD_BYTES = 8
"""Container bytes per frame besides the channels: sync byte, body length (two bytes for
the usual 128 B - 16 kB), sequence number, CRC32."""
CHANNEL_OVERHEAD_BYTES = 2
"""Container bytes per channel and frame: core packet count and side-payload count."""


@dataclass
class EncodeStats:
    """What an encode produced.

    Attributes:
        num_samples: length at 48 kHz.
        channels: channel count.
        num_frames: container frames written.
        core_bytes: bytes of core packets, all channels.
        side_bytes: bytes of side-info payloads, all channels.
        total_bytes: size of the whole ``.bgn`` stream.
    """

    num_samples: int = 0
    channels: int = 0
    num_frames: int = 0
    core_bytes: int = 0
    side_bytes: int = 0
    total_bytes: int = 0

    @property
    def duration_s(self) -> float:
        return self.num_samples / WORK_RATE


class _FrameAssembler:
    """Groups core packets into frames and adds the side payloads that start in them.

    Frame ``i`` holds core packets ``[i*P, (i+1)*P)`` of every channel
    (``P = frame_packets``); payload ``j`` (48 kHz samples ``[j*L, (j+1)*L)``) goes
    into the frame whose span holds its start, and payloads beyond the last packet join
    the last frame.  A frame is released once every channel has its packets and payloads.
    """

    def __init__(
        self, channels: int, core: CoreCodec, hf: HighBandCoder, frame_packets: int
    ) -> None:
        self.core_q: list[deque[bytes]] = [deque() for _ in range(channels)]
        self.side_q: list[deque[bytes]] = [deque() for _ in range(channels)]
        self._per_frame = frame_packets
        # spans in units of 1 / (48 kHz * core rate) seconds, to stay in integers
        self._frame_span = self._per_frame * core.frame_length * WORK_RATE
        self._payload_span = hf.frame_length * core.sample_rate
        self._coded_payloads = hf.num_frames(WORK_RATE) > 0
        self.emitted = 0
        self._side_taken = 0

    def _payloads_due(self, frame_index: int) -> int:
        """Number of payloads whose start lies before the end of frame ``frame_index``."""
        if not self._coded_payloads:
            return 0
        end = (frame_index + 1) * self._frame_span
        return -(-end // self._payload_span)

    def ready(self, *, last: bool) -> Iterator[Frame]:
        """Yield the frames that are complete; with ``last`` the stream has ended."""
        while True:
            queued = min(len(q) for q in self.core_q)
            # a core that made no packet (an input of a sample or two) still sends its side info
            side_left = last and min(len(q) for q in self.side_q) > 0
            if (queued == 0 and not side_left) or (queued < self._per_frame and not last):
                return
            final = last and all(len(q) <= self._per_frame for q in self.core_q)
            available = min(len(q) for q in self.side_q)
            take = available if final else self._payloads_due(self.emitted) - self._side_taken
            if take > available:
                if not last:
                    return
                take = available
            take = max(take, 0)
            yield Frame(
                channels=tuple(
                    ChannelFrame(
                        core=tuple(q.popleft() for _ in range(min(self._per_frame, len(q)))),
                        side=tuple(self.side_q[c].popleft() for _ in range(take)),
                    )
                    for c, q in enumerate(self.core_q)
                )
            )
            self._side_taken += take
            self.emitted += 1


@dataclass
class _EncoderState:
    channels: int
    to_work: StreamResampler
    to_core: StreamResampler
    core_encoders: list[Any]
    core_decoders: list[CoreToWork]
    hf_encoders: list[Any]
    originals: list[list[np.ndarray]]
    cores: list[list[np.ndarray]]
    assembler: _FrameAssembler
    shares: list[float]
    rotator: PairRotator | None = None
    stats: EncodeStats = field(default_factory=EncodeStats)
    writer: ContainerWriter | None = None

    def charge_all(self, bits: int) -> None:
        """Share ``bits`` of the stream's own (header, framing; with joint stereo, the side
        info too) among the channels' cores.

        Per channel, evenly. A joint-stereo pair's side core pays its share of them, and
        the mid core, which steers to the whole pair's rate, pays all of them (and the side
        core's packets): whatever the side core spends beyond its share, the mid core gives
        up, so the pair lands on its rate even where the side core sits at its floor.
        """
        if self.rotator is not None:
            mid, side = self.core_encoders
            mid.charge(bits)
            side.charge(round(bits * self.shares[1] / self.channels))
            return
        for enc in self.core_encoders:
            enc.charge(bits // self.channels)


class Codec:
    """A core codec and a high-band coder working together at a total bitrate.

    ``bitrate_kbps`` is per channel: every channel is coded as its own mono stream, or,
    with ``stereo`` mode ``ms``, a stereo pair as mid and side with an uneven split of the
    pair's bits (:mod:`bandgen.stereo`).

    Example::

        codec = Codec.create(bitrate_kbps=16, core="aac", hf="none")
        data = codec.encode(wav, 44100)      # wav [C, T] float32
        out = Codec.decode(data)             # [C, T'] at 48 kHz
    """

    two_pass: bool = False
    """Whether :meth:`calibrate` measures before the real pass (the full-band neural codecs,
    which build themselves, never do)."""

    def __init__(
        self,
        core: CoreCodec,
        hf: HighBandCoder,
        bitrate_kbps: float,
        *,
        frame_packets: int | None = None,
        stereo: StereoConfig | None = None,
    ) -> None:
        self.core = core
        self.hf = hf
        self.bitrate_kbps = bitrate_kbps
        self.frame_packets = frame_packets or frame_packets_for(core)
        """Core packets per container frame (header ``frame_packets``)."""
        self.stereo = stereo or StereoConfig()
        """How a stereo pair is coded (per channel, or mid and side)."""
        self.core_rate_scale = 1.0
        """Scale of an open-loop core's request found by :meth:`calibrate` (1: none)."""
        self.two_pass = core.two_pass and not core.rate_control
        """Whether :meth:`calibrate` measures before the real pass (the core's own flag)."""

    @classmethod
    def create(
        cls,
        *,
        bitrate_kbps: float = 12.0,
        core: str | None = None,
        hf: str | None = None,
        core_sample_rate: int | None = None,
        stereo: str = "lr",
        side_share: float | None = None,
        **hf_options: Any,
    ) -> Codec:
        """Build a codec whose core gets what the side info and container framing leave.

        Args:
            bitrate_kbps: total target per channel in kbit/s.
            core: core codec name (``aac``, ``opus``, ``mp3``), or a full-band neural codec
                (``hf`` none or ``None``): ``spectrostream`` (:mod:`bandgen.spectro_codec`) or
                ``hpcodec`` (:mod:`bandgen.hp_codec`).
            hf: high-band method name (see :func:`bandgen.hf.registry.available`).
                With neither ``core`` nor ``hf``, the rate's default mode
                (:mod:`bandgen.defaults`); with one of them, see
                :func:`bandgen.defaults.resolve_mode`.
            core_sample_rate: force the core's sampling rate instead of the mode table's.
            stereo: ``lr`` (every channel on its own) or ``ms`` (a stereo pair as mid and
                side, :mod:`bandgen.stereo`; mono and multichannel input stay per channel).
            side_share: with ``ms``, the side channel's share of the pair's bits (default
                :data:`~bandgen.stereo.DEFAULT_SIDE_SHARE`).
            **hf_options: passed to the high-band coder's constructor.
        """
        if side_share is not None and stereo != "ms":
            raise ConfigError(
                "side_share (--side-share) is an option of joint stereo: add stereo='ms' "
                "(--stereo ms)"
            )
        stereo_config = StereoConfig(stereo, *(() if side_share is None else (side_share,)))
        if not (
            isinstance(bitrate_kbps, numbers.Real)
            and math.isfinite(bitrate_kbps)
            and bitrate_kbps > 0
        ):
            raise ConfigError(f"bitrate must be a positive number of kbps, got {bitrate_kbps}")
        core, hf = resolve_mode(core, hf, bitrate_kbps, method_options=bool(hf_options))
        if core in FULL_BAND_CORES:
            if stereo_config.mode != "lr":
                raise ConfigError(
                    f"--stereo {stereo} is for the band-split cores; --core {core} codes "
                    "the whole band of each channel group itself"
                )
            return _full_band_codec(core).create(
                bitrate_kbps=bitrate_kbps, hf=hf, core_sample_rate=core_sample_rate, **hf_options
            )
        hf_coder = registry.build_for_bitrate(hf, bitrate_kbps, **hf_options)
        core_codec = _core_for_total(core, hf, hf_coder, bitrate_kbps, core_sample_rate)
        # now that the core's band is known, let the method start where it stops
        hf_coder = registry.build_for_bitrate(
            hf, bitrate_kbps, core_cutoff_hz=core_codec.cutoff_hz, **hf_options
        )
        # a range that starts higher sends fewer bits: the core gets them (same band)
        core_codec = _core_for_total(
            core, hf, hf_coder, bitrate_kbps, core_sample_rate, checked=True
        )
        return cls(core_codec, hf_coder, bitrate_kbps, stereo=stereo_config)

    @classmethod
    def from_header(
        cls, header: dict[str, Any], *, weights: str | os.PathLike[str] | None = None
    ) -> Codec:
        """Rebuild the codec a ``.bgn`` header describes, after checking every field.

        Args:
            header: the stream's header.
            weights: a model file the user trusts, for a stream coded with a model that is
                not shipped (:func:`bandgen.header.hf_decode_config`); the stream itself
                never names a file to open.

        Raises:
            ConfigError: ``weights`` given for a stream whose high band loads no model.
            BitstreamError: a field missing, of the wrong type or out of range
                (:func:`bandgen.header.check_header`), parameters no codec accepts, or a
                length the frame count cannot hold.
        """
        check_header(header)
        if header["core"]["name"] in FULL_BAND_CORES:
            return _full_band_codec(header["core"]["name"]).from_header(header, weights=weights)
        hf_info = header["hf"]
        hf_config = hf_decode_config(hf_info, weights)
        try:
            core = core_from_params(CoreParams(**header["core"]))
            hf_coder = registry.build(hf_info["method"], **hf_config)
            stereo = StereoConfig.from_header(header.get("stereo"))
        except ConfigError as exc:
            raise BitstreamError(f"corrupt .bgn header: {exc}") from None
        # streams before ``frame_packets`` was stored grouped about 0.1 s per frame
        frame_packets = header.get("frame_packets") or packets_per_frame(core)
        if "num_frames" in header and "num_samples" in header:  # version 1: in the header
            span = frame_packets * core.frame_length * WORK_RATE / core.sample_rate
            most = (header["num_frames"] + 2) * span
            if header["num_samples"] > most:
                raise BitstreamError(
                    f"corrupt .bgn header: num_samples = {header['num_samples']} is more than "
                    f"{header['num_frames']} frames can hold (at most {most:.0f})"
                )
        if stereo.mode != "lr" and not stereo.joint(int(header["channels"])):
            raise BitstreamError(
                f"corrupt .bgn header: stereo mode {stereo.mode} with {header['channels']} channels"
            )
        return cls(
            core,
            hf_coder,
            float(header["bitrate_kbps"]),
            frame_packets=frame_packets,
            stereo=stereo,
        )

    def header(self, *, channels: int, source_rate: int) -> dict[str, Any]:
        """The JSON header of a stream coded by this codec.

        The length and frame count go to the stream's end record (container version 2).
        """
        stereo = self.stereo.header(channels)
        return {
            **({} if stereo is None else {"stereo": stereo}),
            "bandgen_version": __version__,
            "sample_rate": WORK_RATE,
            "source_sample_rate": source_rate,
            "channels": channels,
            "bitrate_kbps": self.bitrate_kbps,
            "frame_packets": self.frame_packets,
            "core": asdict(self.core.params),
            "hf": {"method": self.hf.name, "config": self.hf.config()},
        }

    # ----------------------------------------------------------------- encoding

    def _core_encoders(self, channels: int, prelude_bps: float = 0.0) -> list[Any]:
        """One core encoder per channel, each steered to its share of the stream's rate.

        Coded per channel, each to the per-channel rate. A joint-stereo pair
        (:mod:`bandgen.stereo`): the side core to its share of the pair's rate, the mid core
        to the pair's whole rate, less all the other bits (:meth:`_EncoderState.charge_all`);
        each encoder's request is scaled by its share of the pair's core bits.

        ``prelude_bps``: the header and end record per second and channel, when the length
        is known; a core that is not steered (Opus CBR, MP3) asks for that much less.
        """
        shares = self.stereo.channel_shares(channels)
        targets = [share * self.bitrate_kbps for share in shares]
        if self.stereo.joint(channels):
            targets[0] = channels * self.bitrate_kbps
        scale = self.core_rate_scale
        if prelude_bps and not self.core.rate_control:
            floor_bps = 1000 * core_kbps_range(self.core.name, exact_rate=True)[0]
            scale *= max(self.core.bitrate - prelude_bps, floor_bps) / self.core.bitrate
        return [
            self.core.new_encoder(target_bit_rate=round(kbps * 1000), rate_scale=share * scale)
            for share, kbps in zip(shares, targets, strict=True)
        ]

    def _start(
        self, channels: int, sample_rate: int, out: IO[bytes], duration_s: float | None
    ) -> _EncoderState:
        writer = ContainerWriter(out, self.header(channels=channels, source_rate=sample_rate))
        prelude_bits = 8 * (writer.bytes_written + END_RECORD_BYTES)
        prelude_bps = prelude_bits / duration_s / channels if duration_s else 0.0
        st = _EncoderState(
            channels=channels,
            to_work=StreamResampler(sample_rate, WORK_RATE, channels),
            to_core=StreamResampler(WORK_RATE, self.core.sample_rate, channels),
            core_encoders=self._core_encoders(channels, prelude_bps),
            core_decoders=[CoreToWork(self.core) for _ in range(channels)],
            hf_encoders=[self.hf.new_encoder() for _ in range(channels)],
            originals=[[] for _ in range(channels)],
            cores=[[] for _ in range(channels)],
            assembler=_FrameAssembler(channels, self.core, self.hf, self.frame_packets),
            shares=self.stereo.channel_shares(channels),
            rotator=PairRotator() if self.stereo.joint(channels) else None,
            writer=writer,
        )
        # the header and end record are paid for first, from the steered core's budget of
        # the seconds that follow (the other cores asked for less, above)
        st.charge_all(prelude_bits)
        return st

    def _feed(self, st: _EncoderState, wav48: np.ndarray, *, last: bool) -> None:
        """Code a block; write the container frames it completes.

        Every bit besides the core packets (side info, framing) is charged to the core
        encoders, whose rate control then steers the whole stream to the target. With joint
        stereo the cores code mid and side, and the high band is coded per channel, left and
        right, from the decoded core rotated back (:mod:`bandgen.stereo`).
        """
        st.stats.num_samples += wav48.shape[1]
        coded = self.hf.num_frames(WORK_RATE) > 0  # else the local core decode feeds nothing
        core_in = st.to_core.push(to_mid_side(wav48) if st.rotator else wav48, last=last)
        decoded = []
        for c in range(st.channels):
            packets = st.core_encoders[c].push(core_in[c])
            if last:
                packets += st.core_encoders[c].flush()
            st.assembler.core_q[c].extend(packets)
            st.stats.core_bytes += sum(len(p) for p in packets)
            if st.rotator is not None and c == 1:  # the side core's packets: paid by the mid's
                st.core_encoders[0].charge(8 * sum(len(p) for p in packets))
            if coded:
                parts = [st.core_decoders[c].push(p) for p in packets]
                if last:
                    parts.append(st.core_decoders[c].finish(st.stats.num_samples))
                decoded.append(np.concatenate(parts) if parts else np.zeros(0, np.float32))
        if coded:
            if st.rotator is not None:
                decoded = list(st.rotator.push(decoded[0], decoded[1], last=last))
            for c in range(st.channels):
                st.originals[c].append(wav48[c])
                st.cores[c].append(decoded[c])
                payloads = self._code_high_band(st, c, last=last)
                st.assembler.side_q[c].extend(payloads)
                side_bytes = sum(len(p) for p in payloads)
                st.stats.side_bytes += side_bytes
                if st.rotator is None:
                    st.core_encoders[c].charge(8 * side_bytes)
                else:  # left and right side info: paid by mid and side by their shares
                    st.charge_all(8 * side_bytes)
        assert st.writer is not None
        for frame in st.assembler.ready(last=last):
            data = encode_frame(frame, seq=st.writer.num_frames)
            payload = sum(len(p) for ch in frame.channels for p in (*ch.core, *ch.side))
            st.charge_all(8 * (len(data) - payload))
            st.writer.write_encoded(data)

    def _code_high_band(self, st: _EncoderState, c: int, *, last: bool) -> list[bytes]:
        """Push the aligned part of original and decoded core to the high-band encoder."""
        orig = np.concatenate(st.originals[c]) if st.originals[c] else np.zeros(0, np.float32)
        core = np.concatenate(st.cores[c]) if st.cores[c] else np.zeros(0, np.float32)
        n = min(orig.shape[0], core.shape[0])
        st.originals[c], st.cores[c] = [orig[n:]], [core[n:]]
        payloads = st.hf_encoders[c].push(orig[:n], core[:n]) if n else []
        if last:
            payloads += st.hf_encoders[c].flush()
        return payloads

    def encode_stream(
        self,
        blocks: Iterable[np.ndarray],
        sample_rate: int,
        out: IO[bytes],
        *,
        progress: Progress | None = None,
        source: str = "input",
        duration_s: float | None = None,
    ) -> EncodeStats:
        """Encode blocks ``[C, n]`` at ``sample_rate`` into a ``.bgn`` stream written to ``out``.

        One pass, never seeking: the header first, each frame as soon as it is complete,
        and the end record with the length and frame count last, so ``out`` may be a pipe.
        ``duration_s``: the input's length, if known beforehand (a file): a core that is not
        steered (Opus CBR, MP3) then pays for the header and end record too.

        Raises:
            AudioInputError: the input is empty, holds NaN/Inf samples or more than
                :data:`~bandgen.audio.checks.MAX_CHANNELS` channels, or the rate is
                out of range.
        """
        check_sample_rate(sample_rate)
        st: _EncoderState | None = None
        for block in blocks:
            block = np.atleast_2d(np.asarray(block, dtype=np.float32))
            check_finite(block, source, st.stats.num_samples if st else 0)
            if st is None:
                check_channels(block.shape[0], source)
                st = self._start(block.shape[0], sample_rate, out, duration_s)
            if block.shape[0] != st.channels:
                raise AudioInputError(
                    f"{source}: channel count changed from {st.channels} to {block.shape[0]}"
                )
            wav48 = st.to_work.push(block)
            # in short steps, so the side info and framing of each step are charged to
            # the core's rate control before it codes the next
            for at in range(0, wav48.shape[1], FEED_SAMPLES):
                self._feed(st, wav48[:, at : at + FEED_SAMPLES], last=False)
            if progress is not None:
                progress(block.shape[1] * WORK_RATE // sample_rate)
        if st is None or st.writer is None:
            raise AudioInputError(f"{source} holds no audio samples (empty input)")
        self._feed(st, st.to_work.flush(), last=True)
        if st.stats.num_samples == 0:
            raise AudioInputError(f"{source} holds no audio samples (empty input)")
        st.writer.close(num_samples=st.stats.num_samples)
        st.stats.channels = st.channels
        st.stats.num_frames = st.writer.num_frames
        st.stats.total_bytes = st.writer.bytes_written
        return st.stats

    def calibrate(
        self,
        blocks: Callable[[], Iterable[np.ndarray]],
        sample_rate: int,
        *,
        duration_s: float | None = None,
        source: str = "input",
    ) -> None:
        """First passes of a two-pass encode, for a core whose rate cannot be steered while it
        codes (:attr:`~bandgen.core.base.CoreCodec.two_pass`: MP3); other cores return at once.

        Codes ``blocks()`` (a fresh iterator of the input each call) to memory and scales the
        core's request (:attr:`core_rate_scale`) so that the whole file would have landed on
        the target: the core gets what the header, framing and side info leave.  Up to
        :data:`CALIBRATION_PASSES` passes, until a pass is within
        :data:`CALIBRATION_TOLERANCE`; the caller then codes for real with
        :meth:`encode_stream`.
        """
        if not self.two_pass:
            return
        import io

        tried: list[tuple[float, float]] = []  # (scale, log of measured / target)
        for _ in range(CALIBRATION_PASSES):
            stats = self.encode_stream(
                blocks(), sample_rate, io.BytesIO(), source=source, duration_s=duration_s
            )
            target_bytes = self.bitrate_kbps * 125 * stats.duration_s * stats.channels
            if stats.core_bytes <= 0 or target_bytes <= 0:
                return
            tried.append((self.core_rate_scale, math.log(stats.total_bytes / target_bytes)))
            if abs(stats.total_bytes / target_bytes - 1) <= CALIBRATION_TOLERANCE:
                return
            wanted = max(target_bytes - (stats.total_bytes - stats.core_bytes), 1.0)
            step = wanted / stats.core_bytes
            if len(tried) >= 2:  # secant on log rate against log scale, the encoder's own slope
                (s0, e0), (s1, e1) = tried[-2], tried[-1]
                if e1 != e0 and s1 != s0:
                    slope = (e1 - e0) / math.log(s1 / s0)
                    if slope > 0.1:
                        step = math.exp(-e1 / slope)
            self.core_rate_scale *= min(max(step, 0.5), 2.0)
        # the last step was not measured: keep the best scale that was
        self.core_rate_scale = min(tried, key=lambda t: abs(t[1]))[0]

    # ----------------------------------------------------------------- decoding

    def decode_frames(
        self,
        reader: ContainerReader,
        *,
        progress: Progress | None = None,
        concealment: Concealment | None = None,
    ) -> Iterator[np.ndarray]:
        """Decode a container's frames; yields float32 blocks ``[C, n]`` at 48 kHz.

        See :func:`bandgen.decoder.decode_frames` (loss concealment for salvaged streams).
        """
        return decode_frames(self, reader, progress=progress, concealment=concealment)

    # ---------------------------------------------------------------- in memory

    def encode(self, wav: np.ndarray, sample_rate: int) -> bytes:
        """Encode a whole signal ``[C, T]`` (or ``[T]``) to ``.bgn`` bytes.

        Raises:
            AudioInputError: ``wav`` is not ``[C, T]`` / ``[T]`` (e.g. soundfile's
                ``[T, C]``: pass ``wav.T``), empty, or holds NaN/Inf samples.
        """
        import io

        buf = io.BytesIO()
        wav = check_layout(wav)
        check_sample_rate(sample_rate)
        duration_s = wav.shape[1] / sample_rate
        self.calibrate(lambda: [wav], sample_rate, duration_s=duration_s, source="wav")
        self.encode_stream([wav], sample_rate, buf, source="wav", duration_s=duration_s)
        return buf.getvalue()

    @staticmethod
    def decode(
        data: bytes, *, salvage: bool = False, weights: str | os.PathLike[str] | None = None
    ) -> np.ndarray:
        """Decode ``.bgn`` bytes to float32 ``[C, T]`` at 48 kHz.

        ``weights``: the model file of a stream coded with a model that is not shipped.
        """
        import io

        reader = ContainerReader(io.BytesIO(data), salvage=salvage)
        codec = Codec.from_header(reader.header, weights=weights)
        blocks = list(codec.decode_frames(reader))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((0, 0), np.float32)


def bitrate_range(
    core: str, hf: HighBandCoder, *, core_sample_rate: int | None = None
) -> tuple[float, float]:
    """The total rates per channel, in kbit/s, that ``core`` with ``hf``'s side info reaches.

    The core's own range (its measured mode table, or its exact-rate floor) plus the side
    info and the framing at either end, rounded inwards to 0.1 kbps.
    """
    core_lo, core_hi = core_kbps_range(core, exact_rate=True)
    side = hf.bitrate / 1000
    ends = []
    for kbps in (core_lo, core_hi):
        at = make_core(core, kbps, sample_rate=core_sample_rate, exact_rate=True)
        ends.append(kbps + side + framing_overhead_kbps(at, hf))
    return math.ceil(ends[0] * 10) / 10, math.floor(ends[1] * 10) / 10


def _core_for_total(
    core: str,
    hf: str,
    hf_coder: HighBandCoder,
    bitrate_kbps: float,
    sample_rate: int | None,
    *,
    checked: bool = False,
) -> CoreCodec:
    """The core codec that gets what the side info and the framing leave of ``bitrate_kbps``.

    ``checked``: the rate passed these checks with a coder that sends at least as much side
    info; the core's rate is only held within its range.

    Raises:
        ConfigError: the rate is below what the core, the side info and the framing need
            together (the message says the lowest rate possible), or above the core's range.
    """
    side_kbps = hf_coder.bitrate / 1000
    core_lo, core_hi = core_kbps_range(core, exact_rate=True)
    # the first build only tells the framing cost; the core gets what it leaves
    trial_kbps = min(max(bitrate_kbps - side_kbps, core_lo), core_hi)
    trial = make_core(core, trial_kbps, sample_rate=sample_rate, exact_rate=True)
    core_kbps = bitrate_kbps - side_kbps - framing_overhead_kbps(trial, hf_coder)
    if checked:
        core_kbps = min(max(core_kbps, core_lo), core_hi)
    lo, hi = bitrate_range(core, hf_coder, core_sample_rate=sample_rate)
    if core_kbps < core_lo:
        raise ConfigError(
            f"{bitrate_kbps:g} kbps per channel is below the lowest rate the {core} core "
            f"reaches with the {hf} high band: {lo:.1f} kbps per channel (the core's floor "
            f"{core_lo:g} + side info {side_kbps:.2f} + framing); use --bitrate {lo:.1f} or "
            "more" + ("" if core == "opus" else ", or --core opus, whose floor is lower")
        )
    if core_kbps > core_hi:
        raise ConfigError(
            f"{bitrate_kbps:g} kbps per channel is above the highest rate the {core} core "
            f"reaches with the {hf} high band: {hi:.1f} kbps per channel"
        )
    return make_core(
        core,
        core_kbps,
        sample_rate=sample_rate,
        exact_rate=True,
        max_cutoff_hz=hf_coder.max_core_cutoff_hz,
    )


def frame_packets_for(core: CoreCodec) -> int:
    """Core packets per container frame: about :data:`FRAME_SECONDS` worth, at least 1."""
    return max(1, round(FRAME_SECONDS * core.sample_rate / core.frame_length))


def framing_overhead_kbps(core: CoreCodec, hf: HighBandCoder) -> float:
    """Container bytes per second and channel, in kbit/s, for one mono channel.

    Counts the per-frame sync, length, sequence and CRC32 fields and the per-payload
    length bytes (one byte for a packet under 128 bytes, two up to 16383; one per frame for
    a core whose packets all have the same size), so the core can be given what really
    remains of the budget.
    """
    packets_per_s = core.sample_rate / core.frame_length
    frames_per_s = packets_per_s / frame_packets_for(core)
    payloads_per_s = 0.0 if hf.num_frames(WORK_RATE) == 0 else WORK_RATE / hf.frame_length
    packet_bytes = core.bitrate / 8 / packets_per_s
    length_bytes = len(write_varint(max(0, round(packet_bytes))))
    lengths_per_s = frames_per_s if core.constant_packets else packets_per_s
    per_s = (
        frames_per_s * (FRAME_OVERHEAD_BYTES + CHANNEL_OVERHEAD_BYTES)
        + lengths_per_s * length_bytes
        + payloads_per_s
    )
    return per_s * 8 / 1000


def _full_band_codec(core: str) -> Any:
    """The codec class of a full-band core (imported on first use: it needs torch)."""
    if core == "hpcodec":
        from bandgen.hp_codec import HPCodecCodec

        return HPCodecCodec
    from bandgen.spectro_codec import SpectroCodec

    return SpectroCodec
