"""SpectroStream as a bandgen codec: ``--core spectrostream``, a full-band core with no high band.

``bandgen encode in.flac out.bgn --core spectrostream --bitrate 6`` codes the whole 0-24 kHz band
with the neural codec of paper ``003`` (:mod:`bandgen.models.spectrostream`). ``--bitrate`` is
per channel, as for every codec: a stereo pair at 6 kbps per channel gets 12 kbps, i.e. 48 of
the 64 RVQ levels of 250 bit/s; a mono file at 6 gets 24 levels. The level count is the one
whose rate, with the container framing, comes nearest to the request (half a level, 0.125 kbps
per channel of a pair, at most away); 64 levels (16 kbps for the group) is the most a group
gets, and asking more warns (:class:`~bandgen.errors.BandgenWarning`) and codes 64.

Layout: the input is resampled to 48 kHz; channels 1+2, 3+4, ... are coded jointly as stereo
pairs, an odd last channel as mono (:func:`~bandgen.spectro_stream.channel_groups`). A container
frame holds :data:`EMBEDDINGS_PER_FRAME` embeddings (2 s) of every group, one packet per group
in the channel entry of the group's first channel (the second's is empty), codes packed 10 bits
each; the framing then costs about 0.05 kbps per group (1.6 % at 2.7 kbps mono).

The header names the model and the sha256 of its weights: a decoder loads a model by name only
if it is shipped with bandgen (and its hash matches); other weights only from a file the user
passes (``--weights``), whose hash must match the stream's.

Latency: 80 ms (the encoder's 40 ms embedding and the decoder's one embedding of look-ahead)
plus the overlap-add's 10 ms; here the codec works on whole frames (2 s) of a file.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.bitstream import ChannelFrame, ContainerReader, Frame, encode_frame
from bandgen.decoder import Concealment, Progress, limit_output
from bandgen.errors import BandgenWarning, BitstreamError, ConfigError
from bandgen.hf.none import NoneCoder
from bandgen.token_stream import (
    TokenCodec,
    check_full_band_options,
    full_band_header,
    stream_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "EMBEDDINGS_PER_FRAME",
    "SPECTRO_CORE",
    "SpectroCodec",
    "group_levels",
    "load_spectro_codec",
]

SPECTRO_CORE = "spectrostream"
"""The ``--core`` name of SpectroStream."""

DEFAULT_MODEL = "spectrostream-cpu"
"""The shipped model used when neither ``model`` nor ``weights`` is given."""

EMBEDDINGS_PER_FRAME = 50
"""Embeddings per container frame (2 s at 25/s): framing below 3 % at 2.7 kbps per channel."""

FRAME_BYTES = 7
"""Container bytes per frame: sync byte, body length (2-byte varint) and CRC32."""

GROUP_BYTES = 4
"""Container bytes per group and frame: two entry counts, the packet length and, for a pair,
the second channel's empty entry (counted as the one byte more a pair costs; see below)."""


def _framing_kbps(group_size: int, per_frame: int, embedding_rate_hz: float) -> float:
    """Container framing of one group in kbit/s (the frame's own fields shared among groups are
    charged to each group, erring on the safe side)."""
    frames_per_s = embedding_rate_hz / per_frame
    return frames_per_s * (FRAME_BYTES + GROUP_BYTES + 2 * (group_size - 1)) * 8 / 1000


def group_levels(
    cfg: Any, bitrate_kbps: float, group_size: int, *, per_frame: int = EMBEDDINGS_PER_FRAME
) -> tuple[int, bool]:
    """RVQ levels of a group of ``group_size`` channels at ``bitrate_kbps`` per channel.

    The level count whose code rate plus framing is nearest ``bitrate_kbps * group_size``,
    clamped to ``1 .. cfg.num_levels``.

    Returns:
        ``(levels, capped)``: ``capped`` when the request is beyond the group's most levels.

    Raises:
        ConfigError: the request is below what one level costs.
    """
    per_level = cfg.kbps(1)
    budget = bitrate_kbps * group_size - _framing_kbps(group_size, per_frame, cfg.embedding_rate_hz)
    wanted = math.floor(budget / per_level + 0.5)
    if wanted < 1:
        lowest = (per_level / 2) / group_size
        raise ConfigError(
            f"a bitrate of {bitrate_kbps:g} kbps per channel is below what SpectroStream codes: "
            f"at least {lowest + 0.005:.2f} kbps per channel (one RVQ level)"
        )
    return min(wanted, cfg.num_levels), wanted > cfg.num_levels


def _load(model: str | None, weights: str | os.PathLike[str] | None) -> tuple[Any, dict[str, Any]]:
    """The model (shared, inference only) and its description, with ``name`` set."""
    from bandgen.pretrained.registry import load_family_shared

    if model is not None and weights is not None:
        raise ConfigError("pass either a shipped SpectroStream model or --weights, not both")
    if model is None and weights is None:
        model = DEFAULT_MODEL
    return load_family_shared(SPECTRO_CORE, model, weights)


class SpectroCodec(TokenCodec):
    """SpectroStream behind the :class:`~bandgen.codec.Codec` interface (module docstring).

    Build it with :meth:`Codec.create` (``core="spectrostream"``) or :meth:`create`; streams
    decode through :meth:`Codec.decode` / :meth:`Codec.from_header` like any other. It has no
    core codec (``core`` is not set) and its high band is ``none``.

    Args:
        model: the :class:`~bandgen.models.spectrostream.SpectroStream` (eval mode).
        info: its description (``name``, ``sha256``, ``config``).
        bitrate_kbps: total per channel.
        levels: RVQ levels per channel group, for a decoder (an encoder derives them from the
            channel count of its input).
    """

    def __init__(
        self,
        model: Any,
        info: Mapping[str, Any],
        bitrate_kbps: float,
        *,
        levels: list[int] | None = None,
    ) -> None:
        self.model = model
        self.info = dict(info)
        self.hf = NoneCoder()
        self.bitrate_kbps = bitrate_kbps
        self.levels = levels

    @classmethod
    def create(
        cls,
        *,
        bitrate_kbps: float = 6.0,
        core: str | None = SPECTRO_CORE,
        hf: str | None = None,
        core_sample_rate: int | None = None,
        model: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> SpectroCodec:
        """A SpectroStream codec at ``bitrate_kbps`` per channel.

        Args:
            bitrate_kbps: total per channel, kbit/s.
            hf: must be ``None`` or ``"none"``: SpectroStream codes the whole band.
            model: a shipped SpectroStream model (default :data:`DEFAULT_MODEL`).
            weights: a ``.safetensors`` file (its ``.json`` beside it) instead.

        Raises:
            ConfigError: a high-band method or another option, a bad bitrate, or no model.
        """
        check_full_band_options(SPECTRO_CORE, hf, core_sample_rate, options)
        if not (isinstance(bitrate_kbps, int | float) and math.isfinite(bitrate_kbps)) or (
            bitrate_kbps <= 0
        ):
            raise ConfigError(f"bitrate must be a positive number of kbps, got {bitrate_kbps}")
        net, info = _load(model, weights)
        codec = cls(net, info, float(bitrate_kbps))
        group_levels(net.cfg, codec.bitrate_kbps, 2)  # refuses a rate below one level early
        return codec

    def levels_for(self, channels: int) -> list[int]:
        """Levels per channel group of a ``channels``-channel input; warns if capped."""
        from bandgen.spectro_stream import channel_groups

        levels = []
        for group in channel_groups(channels):
            count, capped = group_levels(self.model.cfg, self.bitrate_kbps, len(group))
            if capped:
                most = self.model.cfg.kbps(count)
                warnings.warn(
                    f"SpectroStream codes at most {most:g} kbps per channel group "
                    f"({count} levels): {self.bitrate_kbps:g} kbps per channel is more than a "
                    f"{len(group)}-channel group takes; coding it at "
                    f"{most / len(group):g} kbps per channel",
                    BandgenWarning,
                    stacklevel=3,
                )
            levels.append(count)
        return levels

    # ------------------------------------------------------------------- header

    @classmethod
    def from_header(
        cls, header: dict[str, Any], *, weights: str | os.PathLike[str] | None = None
    ) -> SpectroCodec:
        """The codec of a checked header (:func:`bandgen.header.check_header`).

        Raises:
            BitstreamError: the stream names a model that is not shipped (and no ``weights``),
                a model whose hash differs, levels or code size the model lacks, or a frame
                count that does not fit the length.
            ConfigError: ``weights`` cannot be loaded.
        """
        from bandgen.spectro_stream import code_bits

        spec = header["spectrostream"]
        if header.get("num_samples") is None or header.get("num_frames") is None:
            raise BitstreamError(
                "corrupt .bgn header: a SpectroStream stream states its length in its header"
            )
        net, info = stream_model("SpectroStream", SPECTRO_CORE, spec, weights)
        cfg = net.cfg
        if spec["code_bits"] != code_bits(cfg.codebook_size) or max(spec["levels"]) > (
            cfg.num_levels
        ):
            raise BitstreamError(
                "corrupt .bgn header: spectrostream levels/code_bits do not fit the model "
                f"({cfg.num_levels} levels of {code_bits(cfg.codebook_size)} bits)"
            )
        total = net.num_embeddings(header["num_samples"])
        frames = -(-total // spec["embeddings_per_frame"])
        if header["num_frames"] != frames:
            raise BitstreamError(
                f"corrupt .bgn header: num_frames = {header['num_frames']}, but "
                f"{header['num_samples']} samples make {frames} SpectroStream frames"
            )
        return cls(net, info, float(header["bitrate_kbps"]), levels=list(spec["levels"]))

    def header(self, *, channels: int, source_rate: int) -> dict[str, Any]:
        """The JSON header of a stream this codec codes, less its length (module docstring)."""
        from bandgen.spectro_stream import code_bits

        levels = self.levels or self.levels_for(channels)
        coded_bps = sum(self.model.cfg.kbps(n) * 1000 for n in levels) / channels
        return full_band_header(
            SPECTRO_CORE,
            channels=channels,
            source_rate=source_rate,
            bitrate_kbps=self.bitrate_kbps,
            coded_bps=coded_bps,
            cutoff_hz=WORK_RATE / 2,
            spec={
                "model": self.info["name"],
                "sha256": self.info["sha256"],
                "levels": levels,
                "code_bits": code_bits(self.model.cfg.codebook_size),
                "embeddings_per_frame": EMBEDDINGS_PER_FRAME,
            },
        )

    # ----------------------------------------------------------------- encoding

    def new_packer(self, channels: int) -> _FramePacker:
        """The packer of a ``channels``-channel input (sets the codec's levels for it)."""
        from bandgen.spectro_stream import channel_groups

        self.levels = self.levels_for(channels)
        return _FramePacker(self, channel_groups(channels), self.levels)

    def decode_tokens(
        self, reader: ContainerReader, progress: Progress | None, concealment: Concealment
    ) -> Iterator[np.ndarray]:
        """Decode a SpectroStream stream's frames; yields float32 ``[C, n]`` at 48 kHz."""
        return _decode(self, reader, progress, concealment)


class _FramePacker:
    """Runs the group encoders and packs their codes into container frames."""

    def __init__(self, codec: SpectroCodec, groups: list[tuple[int, ...]], levels: list[int]):
        from bandgen.spectro_stream import GroupEncoder, code_bits

        self.groups, self.levels = groups, levels
        self.channels = sum(len(g) for g in groups)
        self.encoders = [GroupEncoder(codec.model, n) for n in levels]
        self.queues = [np.zeros((n, 0), np.int64) for n in levels]
        self.bits = code_bits(codec.model.cfg.codebook_size)
        self.frames = self.code_bytes = 0

    def push(self, wav48: np.ndarray, *, last: bool) -> Iterator[bytes]:
        for g, group in enumerate(self.groups):
            codes = self.encoders[g].push(wav48[list(group)])
            if last:
                codes = np.concatenate([codes, self.encoders[g].finish()], axis=1)
            self.queues[g] = np.concatenate([self.queues[g], codes], axis=1)
        while min(q.shape[1] for q in self.queues) >= EMBEDDINGS_PER_FRAME or (
            last and self.queues[0].shape[1]
        ):
            yield self._frame()

    def _frame(self) -> bytes:
        from bandgen.spectro_stream import pack_codes

        entries = [ChannelFrame() for _ in range(self.channels)]
        for g, group in enumerate(self.groups):
            codes = self.queues[g][:, :EMBEDDINGS_PER_FRAME]
            self.queues[g] = self.queues[g][:, EMBEDDINGS_PER_FRAME:]
            packet = pack_codes(codes, self.bits)
            self.code_bytes += len(packet)
            entries[group[0]] = ChannelFrame(core=(packet,))
        self.frames += 1
        return encode_frame(Frame(tuple(entries)))


def _decode(
    codec: SpectroCodec,
    reader: ContainerReader,
    progress: Progress | None,
    concealment: Concealment,
) -> Iterator[np.ndarray]:
    from bandgen.spectro_stream import GroupDecoder, channel_groups, code_bits, unpack_codes

    header = reader.header
    channels, num_samples = int(header["channels"]), int(header["num_samples"])
    per_frame = int(header[SPECTRO_CORE]["embeddings_per_frame"])
    groups = channel_groups(channels)
    levels = codec.levels or []
    if len(levels) != len(groups):
        raise BitstreamError(
            f"corrupt .bgn header: {len(levels)} level counts for {len(groups)} channel groups"
        )
    cfg = codec.model.cfg
    bits = code_bits(cfg.codebook_size)
    total = codec.model.num_embeddings(num_samples)
    decoders = [GroupDecoder(codec.model, len(g), num_samples) for g in groups]
    out = _Aligned(channels)
    for frame in reader:
        index = reader.frames_read - 1
        if reader.lost_before:
            concealment.lost_samples += _conceal(
                groups, decoders, out, reader.lost_before * per_frame
            )
        size = min(per_frame, total - index * per_frame)
        if size <= 0:  # a salvaging reader counted more frames lost than the stream has
            break
        where = f"frame {index}"
        try:
            codes = [
                unpack_codes(_packet(frame, group, where), n, size, bits, cfg.codebook_size, where)
                for group, n in zip(groups, levels, strict=True)
            ]
        except BitstreamError:
            if not reader.salvage:
                raise
            codes = []
        if codes:
            for g, group in enumerate(groups):
                out.add(group, decoders[g].push(codes[g]))
        else:  # a damaged frame in a salvaged stream: silence, then a fresh decoder
            concealment.lost_samples += _conceal(groups, decoders, out, size)
        if progress is not None:
            progress(1)
        block = out.release()
        if block is not None:
            yield limit_output(block, concealment)
    for g, group in enumerate(groups):
        out.add(group, decoders[g].finish())
    block = out.release()
    if block is not None:
        yield limit_output(block, concealment)


def _conceal(groups: list[tuple[int, ...]], decoders: list[Any], out: _Aligned, lost: int) -> int:
    """Lost embeddings: flush every group's decoder, silence in their place, fresh decoders.

    Returns the samples of silence.
    """
    silent = 0
    for g, group in enumerate(groups):
        out.add(group, decoders[g].finish())
        silent = decoders[g].restart(lost)
        out.add(group, np.zeros((len(group), silent), np.float32))
    return silent


def _packet(frame: Frame, group: tuple[int, ...], where: str) -> bytes:
    """The group's one packet in ``frame`` (in its first channel's entry, the rest empty)."""
    if len(frame.channels) <= group[-1]:
        raise BitstreamError(f"{where}: the frame lacks channel {group[-1]}")
    first, *rest = (frame.channels[c] for c in group)
    if len(first.core) != 1 or first.side or any(e.core or e.side for e in rest):
        raise BitstreamError(
            f"{where}: a SpectroStream frame holds one packet per channel group, in the "
            f"group's first channel (channel {group[0]}); the stream is corrupt"
        )
    return first.core[0]


class _Aligned:
    """Per-channel output released in step (the groups' decoders emit the same spans)."""

    def __init__(self, channels: int) -> None:
        self.pending = [np.zeros(0, np.float32) for _ in range(channels)]

    def add(self, group: tuple[int, ...], wav: np.ndarray) -> None:
        for row, c in enumerate(group):
            self.pending[c] = np.concatenate([self.pending[c], wav[row]])

    def release(self) -> np.ndarray | None:
        n = min(p.shape[0] for p in self.pending)
        if n == 0:
            return None
        block = np.stack([p[:n] for p in self.pending])
        self.pending = [p[n:] for p in self.pending]
        return block.astype(np.float32, copy=False)


def load_spectro_codec(
    name: str = DEFAULT_MODEL, *, bitrate_kbps: float = 6.0, **options: Any
) -> SpectroCodec:
    """The codec of the shipped SpectroStream model ``name`` (the family's loader, for
    :func:`bandgen.load`), at ``bitrate_kbps`` per channel."""
    return SpectroCodec.create(bitrate_kbps=bitrate_kbps, model=name, **options)
