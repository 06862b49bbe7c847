"""HP-codec as a bandgen codec: ``--core hpcodec``, a full-band core with no high band.

``bandgen encode in.flac out.bgn --core hpcodec`` codes each channel with the two-branch
neural codec of paper ``004`` (:mod:`bandgen.models.hpcodec`): at ``--bitrate 12`` (the
default) both branches, 6 kbps each, the full band; at ``--bitrate 6`` the 16 kHz branch alone
(content up to about 7.7 kHz). ``--bitrate`` is per channel, as for every codec; a request of
9 kbps or more codes both branches, less the 16 kHz branch only; more than 12.5 warns
(:class:`~bandgen.errors.BandgenWarning`) and codes 12. The container adds about 0.04 kbps
per channel.

Layout: the input is resampled to 48 kHz; every channel is coded on its own with the mono
model, in pieces of bounded size that overlap by the model's receptive field, so the codes
and the audio are those of the whole file (no seams; :mod:`bandgen.hp_stream`). A container
frame holds :data:`TOKENS_PER_FRAME` tokens (2 s) of every channel, one packet per channel,
codes packed 10 bits each, token by token (:func:`~bandgen.spectro_stream.pack_codes`).

The header names the model and the sha256 of its weights: a decoder loads a model by name only
if it is shipped with bandgen (and its hash matches); other weights only from a file the user
passes (``--weights``), whose hash must match the stream's.

:func:`load_hp_model` gives the model itself (HP-codecX and ``bandgen extend`` build on it);
:func:`load_hp_codec` is the family's loader for :func:`bandgen.load`.
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
    "HP_CORE",
    "HP_KIND",
    "TOKENS_PER_FRAME",
    "HPCodecCodec",
    "branches_for",
    "load_hp_codec",
    "load_hp_model",
]

HP_KIND = "hpcodec"
"""The family name (:mod:`bandgen.families`) of HP-codec weights."""
HP_CORE = HP_KIND
"""The ``--core`` name of HP-codec."""

DEFAULT_MODEL = "hpcodec-cpu"
"""The shipped model used when neither ``model`` nor ``weights`` is given."""

TOKENS_PER_FRAME = 200
"""Tokens per container frame (2 s at 100/s)."""

LOW_BAND_HZ = 8_000.0
"""The top of the 16 kHz branch's band (the header's ``cutoff_hz`` of a 6 kbps stream)."""


def load_hp_model(
    model: str | None = None, *, weights: str | os.PathLike[str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """``(HPCodec in eval mode, its description with name)`` of a shipped model or a file.

    The model is cached per file and shared: use it for inference only.

    Args:
        model: a shipped HP-codec model (default :data:`DEFAULT_MODEL`).
        weights: a ``.safetensors`` file (its ``.json`` beside it) instead.

    Raises:
        ConfigError: both or a bad name given, the model is not shipped (the message lists the
            shipped ones), the files are missing or corrupt, or they hold another family.
    """
    from bandgen.pretrained.registry import load_family_shared

    if model is not None and weights is not None:
        raise ConfigError("pass either a shipped HP-codec model or weights, not both")
    if model is None and weights is None:
        model = DEFAULT_MODEL
    return load_family_shared(HP_KIND, model, weights)


def branches_for(bitrate_kbps: float) -> tuple[int, bool]:
    """``(branches, capped)`` of a request per channel: 2 (12 kbps) from 9 kbps, else 1
    (6 kbps); ``capped`` when the request is beyond 12.5 kbps.

    Raises:
        ConfigError: not a positive number, or below 3 kbps (half the lowest mode).
    """
    if not (isinstance(bitrate_kbps, int | float) and math.isfinite(bitrate_kbps)):
        raise ConfigError(f"bitrate must be a positive number of kbps, got {bitrate_kbps}")
    if bitrate_kbps < 3.0:
        raise ConfigError(
            f"a bitrate of {bitrate_kbps:g} kbps per channel is below what HP-codec codes: "
            "6 kbps (the 16 kHz branch) or 12 kbps (full band)"
        )
    return (1 if bitrate_kbps < 9.0 else 2), bitrate_kbps > 12.5


class HPCodecCodec(TokenCodec):
    """HP-codec behind the :class:`~bandgen.codec.Codec` interface (module docstring).

    Build it with :meth:`Codec.create` (``core="hpcodec"``) or :meth:`create`; streams decode
    through :meth:`Codec.decode` / :meth:`Codec.from_header` like any other. It has no core
    codec (``core`` is not set) and its high band is ``none``.

    Args:
        model: the :class:`~bandgen.models.hpcodec.HPCodec` (eval mode).
        info: its description (``name``, ``sha256``, ``config``).
        bitrate_kbps: the request per channel.
        branches: 1 (6 kbps) or 2 (12 kbps).
    """

    def __init__(
        self, model: Any, info: Mapping[str, Any], bitrate_kbps: float, branches: int
    ) -> None:
        self.model = model
        self.info = dict(info)
        self.hf = NoneCoder()
        self.bitrate_kbps = bitrate_kbps
        self.branches = branches

    @property
    def codes_per_token(self) -> int:
        """Codebooks sent per token and channel (6 per branch)."""
        return self.branches * len(self.model.sections) * self.model.codebooks_per_section

    @property
    def code_bits(self) -> int:
        """Bits per code (10 for 1024 entries)."""
        return max(1, (int(self.model.codebook_size) - 1).bit_length())

    @classmethod
    def create(
        cls,
        *,
        bitrate_kbps: float = 12.0,
        core: str | None = HP_CORE,
        hf: str | None = None,
        core_sample_rate: int | None = None,
        model: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> HPCodecCodec:
        """An HP-codec codec at ``bitrate_kbps`` per channel (6 or 12, module docstring).

        Args:
            bitrate_kbps: total per channel, kbit/s.
            hf: must be ``None`` or ``"none"``: HP-codec codes the whole band.
            model: a shipped HP-codec model (default :data:`DEFAULT_MODEL`).
            weights: a ``.safetensors`` file (its ``.json`` beside it) instead.

        Raises:
            ConfigError: a high-band method or another option, a bad bitrate, or no model.
        """
        check_full_band_options(HP_CORE, hf, core_sample_rate, options)
        branches, capped = branches_for(bitrate_kbps)
        net, info = load_hp_model(model, weights=weights)
        if capped:
            warnings.warn(
                f"HP-codec codes at most 12 kbps per channel (both branches); coding "
                f"{bitrate_kbps:g} kbps per channel at 12",
                BandgenWarning,
                stacklevel=3,
            )
        return cls(net, info, float(bitrate_kbps), branches)

    # ------------------------------------------------------------------- header

    @classmethod
    def from_header(
        cls, header: dict[str, Any], *, weights: str | os.PathLike[str] | None = None
    ) -> HPCodecCodec:
        """The codec of a checked header (:func:`bandgen.header.check_header`).

        Raises:
            BitstreamError: the stream names a model that is not shipped (and no ``weights``),
                a model whose hash differs, a code size the model lacks, or a frame count that
                does not fit the length.
            ConfigError: ``weights`` cannot be loaded.
        """

        spec = header[HP_CORE]
        if header.get("num_samples") is None or header.get("num_frames") is None:
            raise BitstreamError(
                "corrupt .bgn header: an HP-codec stream states its length in its header"
            )
        net, info = stream_model("HP-codec", HP_KIND, spec, weights)
        codec = cls(net, info, float(header["bitrate_kbps"]), int(spec["branches"]))
        if spec["code_bits"] != codec.code_bits:
            raise BitstreamError(
                f"corrupt .bgn header: hpcodec.code_bits = {spec['code_bits']}, but the model's "
                f"codes have {codec.code_bits} bits"
            )
        tokens = -(-int(header["num_samples"]) // net.hop_high)
        frames = -(-tokens // int(spec["tokens_per_frame"]))
        if header["num_frames"] != frames:
            raise BitstreamError(
                f"corrupt .bgn header: num_frames = {header['num_frames']}, but "
                f"{header['num_samples']} samples make {frames} HP-codec frames"
            )
        return codec

    def header(self, *, channels: int, source_rate: int) -> dict[str, Any]:
        """The JSON header of a stream this codec codes, less its length (module docstring)."""
        tokens_per_s = WORK_RATE / self.model.hop_high
        coded_bps = self.codes_per_token * self.code_bits * tokens_per_s
        return full_band_header(
            HP_CORE,
            channels=channels,
            source_rate=source_rate,
            bitrate_kbps=self.bitrate_kbps,
            coded_bps=coded_bps,
            cutoff_hz=WORK_RATE / 2 if self.branches == 2 else LOW_BAND_HZ,
            spec={
                "model": self.info["name"],
                "sha256": self.info["sha256"],
                "branches": self.branches,
                "code_bits": self.code_bits,
                "tokens_per_frame": TOKENS_PER_FRAME,
            },
        )

    # ----------------------------------------------------------------- coding

    def new_packer(self, channels: int) -> _FramePacker:
        """The frame packer of a ``channels``-channel input."""
        return _FramePacker(self, channels)

    def decode_tokens(
        self, reader: ContainerReader, progress: Progress | None, concealment: Concealment
    ) -> Iterator[np.ndarray]:
        """Decode an HP-codec stream's frames; yields float32 ``[C, n]`` at 48 kHz."""
        return _decode(self, reader, progress, concealment)


class _FramePacker:
    """Runs the channel encoders and packs their codes into container frames."""

    def __init__(self, codec: HPCodecCodec, channels: int) -> None:
        from bandgen.hp_stream import ChannelEncoder

        self.encoders = [ChannelEncoder(codec.model, codec.branches) for _ in range(channels)]
        self.queues = [np.zeros((codec.codes_per_token, 0), np.int64) for _ in range(channels)]
        self.bits = codec.code_bits
        self.frames = self.code_bytes = 0

    def push(self, wav48: np.ndarray, *, last: bool) -> Iterator[bytes]:
        """Code ``wav48 [C, n]``; yield the container frames now complete."""
        for c, encoder in enumerate(self.encoders):
            codes = encoder.push(wav48[c])
            if last:
                codes = np.concatenate([codes, encoder.finish()], axis=1)
            self.queues[c] = np.concatenate([self.queues[c], codes], axis=1)
        while self.queues[0].shape[1] >= TOKENS_PER_FRAME or (last and self.queues[0].shape[1]):
            yield self._frame()

    def _frame(self) -> bytes:
        from bandgen.spectro_stream import pack_codes

        entries = []
        for c, queue in enumerate(self.queues):
            packet = pack_codes(queue[:, :TOKENS_PER_FRAME], self.bits)
            self.queues[c] = queue[:, TOKENS_PER_FRAME:]
            self.code_bytes += len(packet)
            entries.append(ChannelFrame(core=(packet,)))
        self.frames += 1
        return encode_frame(Frame(tuple(entries)))


def _decode(
    codec: HPCodecCodec,
    reader: ContainerReader,
    progress: Progress | None,
    concealment: Concealment,
) -> Iterator[np.ndarray]:
    from bandgen.hp_stream import ChannelDecoder
    from bandgen.spectro_stream import unpack_codes

    header = reader.header
    channels, num_samples = int(header["channels"]), int(header["num_samples"])
    per_frame = int(header[HP_CORE]["tokens_per_frame"])
    total = -(-num_samples // codec.model.hop_high)
    decoders = [ChannelDecoder(codec.model, num_samples) for _ in range(channels)]
    size_of = codec.codes_per_token, codec.code_bits, codec.model.codebook_size

    def conceal(tokens: int) -> np.ndarray:
        """Flush the decoders, silence for ``tokens`` lost tokens, fresh decoders after."""
        tails = [d.finish() for d in decoders]
        silent = [d.restart(tokens) for d in decoders].pop()
        concealment.lost_samples += silent
        return np.concatenate([np.stack(tails), np.zeros((channels, silent), np.float32)], 1)

    for frame in reader:
        index = reader.frames_read - 1
        blocks = []
        if reader.lost_before:
            blocks.append(conceal(reader.lost_before * per_frame))
        size = min(per_frame, total - index * per_frame)
        if size <= 0:  # a salvaging reader counted more frames lost than the stream has
            break
        where = f"frame {index}"
        try:
            if len(frame.channels) != channels:
                raise BitstreamError(f"{where}: {len(frame.channels)} channels, not {channels}")
            codes = [
                unpack_codes(_packet(entry, where), size_of[0], size, size_of[1], size_of[2], where)
                for entry in frame.channels
            ]
        except BitstreamError:
            if not reader.salvage:
                raise
            codes = []
        if codes:
            blocks.append(np.stack([d.push(c) for d, c in zip(decoders, codes, strict=True)]))
        else:  # a damaged frame in a salvaged stream: silence, then fresh decoders
            blocks.append(conceal(size))
        if progress is not None:
            progress(1)
        block = np.concatenate(blocks, axis=1)
        if block.shape[1]:
            yield limit_output(block.astype(np.float32, copy=False), concealment)
    tail = np.stack([d.finish() for d in decoders])
    if tail.shape[1]:
        yield limit_output(tail.astype(np.float32, copy=False), concealment)


def _packet(entry: ChannelFrame, where: str) -> bytes:
    """A channel's one packet in a frame."""
    if len(entry.core) != 1 or entry.side:
        raise BitstreamError(
            f"{where}: an HP-codec frame holds one packet per channel; the stream is corrupt"
        )
    return entry.core[0]


def load_hp_codec(
    name: str = DEFAULT_MODEL, *, bitrate_kbps: float = 12.0, **options: Any
) -> HPCodecCodec:
    """The codec of the shipped HP-codec model ``name`` (the family's loader, for
    :func:`bandgen.load`), at ``bitrate_kbps`` per channel (12: full band; 6: 16 kHz branch)."""
    return HPCodecCodec.create(bitrate_kbps=bitrate_kbps, model=name, **options)
