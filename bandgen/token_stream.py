"""What the full-band token codecs (SpectroStream, HP-codec) share: :class:`TokenCodec`.

Both neural full-band cores code a 48 kHz signal into tokens, pack them into container frames
and write a version-1 container (the length in the header, which their decoders need before
the first frame). :func:`encode_token_stream` is that shared path: it checks and resamples the
input blocks, hands them to the codec's frame packer, and writes the header and the frames;
:class:`TokenCodec` is the :class:`~bandgen.codec.Codec` built on it, whose subclasses give
the packer and the frame decoder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, Protocol

import numpy as np

from bandgen import __version__
from bandgen.audio import WORK_RATE
from bandgen.audio.checks import check_channels, check_finite, check_sample_rate
from bandgen.audio.resample import StreamResampler
from bandgen.bitstream import ContainerReader, encode_header
from bandgen.codec import Codec, EncodeStats
from bandgen.decoder import Concealment, Progress
from bandgen.errors import AudioInputError, BitstreamError, ConfigError

__all__ = [
    "FramePacker",
    "TokenCodec",
    "check_full_band_options",
    "encode_token_stream",
    "full_band_header",
    "stream_model",
]


class FramePacker(Protocol):
    """Codes 48 kHz audio into container frames (one per codec)."""

    frames: int
    """Frames yielded so far."""
    code_bytes: int
    """Bytes of packed codes in them."""

    def push(self, wav48: np.ndarray, *, last: bool) -> Iterator[bytes]:
        """Code ``wav48 [C, n]`` (``last``: the input ends here); yield the frames complete."""
        ...


def check_full_band_options(
    core: str, hf: str | None, core_sample_rate: int | None, options: Mapping[str, Any]
) -> None:
    """Refuse what a full-band core takes no part in: a high-band method other than ``none``,
    a core rate (it runs at 48 kHz), options besides ``model`` and ``weights``.

    Raises:
        ConfigError: naming the option and what to do.
    """
    if hf not in (None, "none"):
        raise ConfigError(
            f"--core {core} codes the whole band and takes no high-band method: "
            f"use --hf none or leave --hf out (got --hf {hf})"
        )
    if core_sample_rate is not None:
        raise ConfigError(f"--core {core} always runs at {WORK_RATE} Hz")
    if options:
        raise ConfigError(
            f"--core {core} takes no option {', '.join(sorted(options))} "
            "(its options: model, weights)"
        )


def full_band_header(
    core: str,
    *,
    channels: int,
    source_rate: int,
    bitrate_kbps: float,
    coded_bps: float,
    cutoff_hz: float,
    spec: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON header of a full-band core's stream, less its length: the fields every
    stream has, a ``core`` entry at 48 kHz with no options, no high band, and the codec's own
    ``spec`` under the core's name (model, sha256, code layout)."""
    return {
        "bandgen_version": __version__,
        "sample_rate": WORK_RATE,
        "source_sample_rate": source_rate,
        "channels": channels,
        "bitrate_kbps": bitrate_kbps,
        "core": {
            "name": core,
            "bitrate": round(coded_bps),
            "sample_rate": WORK_RATE,
            "cutoff_hz": cutoff_hz,
            "options": {},
        },
        "hf": {"method": "none", "config": {}},
        core: dict(spec),
    }


def stream_model(
    title: str, kind: str, spec: Mapping[str, Any], weights: str | os.PathLike[str] | None
) -> tuple[Any, dict[str, Any]]:
    """The model a stream's header names (``spec``: ``model``, ``sha256``): loaded by name only
    if it is shipped, else from the ``weights`` the user passes; its sha256 must match.

    Args:
        title: the codec's name in messages (``"HP-codec"``).
        kind: the model family.

    Raises:
        BitstreamError: the model is not shipped and no ``weights`` given, or its hash differs.
        ConfigError: ``weights`` cannot be loaded.
    """
    from bandgen.pretrained.registry import list_models, load_family_shared

    name, sha256 = spec["model"], spec["sha256"]
    if weights is None and name not in list_models(kind=kind):
        raise BitstreamError(
            f"the stream was coded with {title} model {name[:40]!r} (sha256 "
            f"{sha256[:16]}...), which is not shipped with this bandgen: pass its weights "
            "with --weights FILE.safetensors (its .json beside it)"
        )
    net, info = load_family_shared(kind, None if weights is not None else name, weights)
    if info["sha256"] != sha256:
        raise BitstreamError(
            f"the stream was coded with {title} weights of sha256 {sha256[:16]}..., "
            f"but {info['name']!r} has {info['sha256'][:16]}...: pass the weights it was "
            "coded with (--weights)"
        )
    return net, info


def encode_token_stream(
    codec: Any,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    out: IO[bytes],
    make_packer: Callable[[Any, int], FramePacker],
    *,
    progress: Progress | None = None,
    source: str = "input",
) -> EncodeStats:
    """Encode blocks ``[C, n]`` at ``sample_rate`` into a ``.bgn`` stream written to ``out``.

    Args:
        codec: the codec; its ``header(channels=, source_rate=)`` gives the stream's header.
        blocks: the input, float32 ``[C, n]`` (or ``[n]``) blocks.
        sample_rate: their rate (resampled to 48 kHz here).
        out: where the stream goes (written once the input has ended).
        make_packer: ``(codec, channels) -> FramePacker``, called once the channel count is
            known.
        progress: called with the 48 kHz samples of each block read.
        source: the input's name, for messages.

    Raises:
        AudioInputError: empty input, NaN/Inf samples, too many channels, a bad rate, or a
            channel count that changes.
    """
    import torch

    check_sample_rate(sample_rate)
    stats = EncodeStats()
    packer: FramePacker | None = None
    to_work: StreamResampler | None = None
    with tempfile.TemporaryFile() as body, torch.no_grad():
        for block in blocks:
            block = np.atleast_2d(np.asarray(block, dtype=np.float32))
            check_finite(block, source, stats.num_samples)
            if packer is None or to_work is None:
                check_channels(block.shape[0], source)
                stats.channels = block.shape[0]
                packer = make_packer(codec, stats.channels)
                to_work = StreamResampler(sample_rate, WORK_RATE, stats.channels)
            if block.shape[0] != stats.channels:
                raise AudioInputError(
                    f"{source}: channel count changed from {stats.channels} to {block.shape[0]}"
                )
            wav48 = to_work.push(block)
            stats.num_samples += wav48.shape[1]
            for data in packer.push(wav48, last=False):
                body.write(data)
            if progress is not None:
                progress(block.shape[1] * WORK_RATE // sample_rate)
        if packer is None or to_work is None:
            raise AudioInputError(f"{source} holds no audio samples (empty input)")
        tail = to_work.flush()
        stats.num_samples += tail.shape[1]
        if stats.num_samples == 0:
            raise AudioInputError(f"{source} holds no audio samples (empty input)")
        for data in packer.push(tail, last=True):
            body.write(data)
        stats.num_frames, stats.core_bytes = packer.frames, packer.code_bytes
        header = codec.header(channels=stats.channels, source_rate=sample_rate)
        header.update(num_samples=stats.num_samples, num_frames=stats.num_frames)
        # container version 1: the length in the header, which the decoder needs before the
        # first frame (the last frame's size), at the cost of a seekable output
        prelude = encode_header(header, version=1)
        out.write(prelude)
        body.seek(0)
        shutil.copyfileobj(body, out, 1 << 20)
        stats.total_bytes = len(prelude) + body.tell()
    return stats


class TokenCodec(Codec):
    """A full-band token codec (module docstring): no core codec, high band ``none``.

    Subclasses set ``model``, ``info``, ``hf``, ``bitrate_kbps`` and give :meth:`new_packer`
    and :meth:`decode_tokens`.
    """

    @abstractmethod
    def new_packer(self, channels: int) -> FramePacker:
        """The frame packer of a ``channels``-channel input."""

    @abstractmethod
    def decode_tokens(
        self, reader: ContainerReader, progress: Progress | None, concealment: Concealment
    ) -> Iterator[np.ndarray]:
        """Decode the stream's frames (torch gradients off); yields float32 ``[C, n]``."""

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

        ``duration_s`` is not needed: the stream is written once the input is over.

        Raises:
            AudioInputError: empty input, NaN/Inf samples, too many channels, a bad rate.
        """
        return encode_token_stream(
            self,
            blocks,
            sample_rate,
            out,
            lambda codec, channels: codec.new_packer(channels),
            progress=progress,
            source=source,
        )

    def decode_frames(
        self,
        reader: ContainerReader,
        *,
        progress: Progress | None = None,
        concealment: Concealment | None = None,
    ) -> Iterator[np.ndarray]:
        """Decode the frames of a stream; yields float32 ``[C, n]`` at 48 kHz.

        With a salvaging reader, lost or damaged frames become silence and the decoders start
        afresh after them; a stream whose data ends early ends where its frames do.
        """
        import torch

        concealment = concealment if concealment is not None else Concealment()
        with torch.no_grad():
            yield from self.decode_tokens(reader, progress, concealment)
