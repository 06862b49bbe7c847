"""Python API: build codecs by name and code files or arrays.

Example::

    import bandgen
    codec = bandgen.load("none-16k")          # AAC-LC core only, 16 kbps per channel
    data = codec.encode(wav, 44100)           # wav float32 [C, T] -> .bgn bytes
    out = codec.decode(data)                  # float32 [C, T'] at 48 kHz
    bandgen.encode_file("song.flac", "song.bgn", bitrate_kbps=12)
    bandgen.decode_file("song.bgn", "song.wav")
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.audio.io import AtomicFile, AudioWriter, iter_audio, output_format, probe
from bandgen.bitstream import ContainerReader
from bandgen.codec import Codec, EncodeStats, Progress
from bandgen.errors import BitstreamError, ConfigError
from bandgen.hf.base import WORK_RATE
from bandgen.hf.registry import DEFAULT_HF

_NAME = re.compile(r"^(?P<hf>[a-z][a-z0-9_]*)-(?P<kbps>\d+(?:\.\d+)?)k$")


def load(name: str = f"{DEFAULT_HF}-12k", *, core: str = "aac", **hf_options: Any) -> Codec:
    """Build a codec from a name ``"<hf method>-<kbps>k"``, e.g. ``"none-16k"``.

    Args:
        name: high-band method and total bitrate per channel.
        core: core codec (``aac``, ``opus``, ``mp3``).
        **hf_options: options of the high-band method.
    """
    match = _NAME.match(name)
    if match is None:
        raise ConfigError(
            f"codec name {name!r} is not of the form '<method>-<kbps>k', e.g. 'none-12k'"
        )
    return Codec.create(bitrate_kbps=float(match["kbps"]), core=core, hf=match["hf"], **hf_options)


def encode(
    wav: np.ndarray,
    sample_rate: int,
    *,
    bitrate_kbps: float = 12.0,
    core: str = "aac",
    hf: str = DEFAULT_HF,
    **hf_options: Any,
) -> bytes:
    """Encode float32 ``[C, T]`` (or ``[T]``) at ``sample_rate`` Hz to ``.bgn`` bytes."""
    codec = Codec.create(bitrate_kbps=bitrate_kbps, core=core, hf=hf, **hf_options)
    return codec.encode(wav, sample_rate)


def decode(data: bytes, *, salvage: bool = False) -> tuple[np.ndarray, int]:
    """Decode ``.bgn`` bytes; returns ``(wav [C, T] float32, 48000)``."""
    return Codec.decode(data, salvage=salvage), WORK_RATE


def _distinct(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    if Path(dst).exists() and Path(src).exists() and Path(src).resolve() == Path(dst).resolve():
        raise ConfigError(f"output {dst} is the input file; choose another output path")


def encode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    bitrate_kbps: float = 12.0,
    core: str = "aac",
    hf: str = DEFAULT_HF,
    progress: Progress | None = None,
    **hf_options: Any,
) -> EncodeStats:
    """Encode any audio file PyAV reads into a ``.bgn`` file, block by block.

    The output appears only when the whole file was coded; the input is only read.
    """
    _distinct(src, dst)
    info = probe(src)
    codec = Codec.create(bitrate_kbps=bitrate_kbps, core=core, hf=hf, **hf_options)
    with AtomicFile(dst) as target, open(target.tmp_path, "wb") as out:
        return codec.encode_stream(
            iter_audio(src), info.sample_rate, out, progress=progress, source=str(src)
        )


@dataclass(frozen=True)
class DecodeStats:
    """What a decode produced: samples at 48 kHz, channels, and whether it was salvaged."""

    num_samples: int
    channels: int
    salvaged: bool
    problem: str | None


def decode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    salvage: bool = False,
    progress: Progress | None = None,
) -> DecodeStats:
    """Decode a ``.bgn`` file to WAV (32-bit float) or FLAC (24-bit) at 48 kHz, block by block."""
    _distinct(src, dst)
    output_format(dst)
    with _open_stream(src) as f:
        reader = ContainerReader(f, salvage=salvage)
        codec = Codec.from_header(reader.header)
        channels = int(reader.header["channels"])
        with AudioWriter(dst, WORK_RATE, channels) as writer:
            for block in codec.decode_frames(reader, progress=progress):
                writer.write(block)
        return DecodeStats(writer.num_samples, channels, reader.salvaged, reader.problem)


def _open_stream(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise BitstreamError(f"bitstream file not found: {p}")
    return open(p, "rb")


@dataclass(frozen=True)
class StreamInfo:
    """Summary of a ``.bgn`` file: its header and the measured bitrate split.

    Rates are totals over all channels in kbit/s; ``per_channel_kbps`` divides the
    file's whole size (header included) by duration and channel count.
    """

    header: dict[str, Any]
    duration_s: float
    file_bytes: int
    core_kbps: float
    side_kbps: float
    overhead_kbps: float
    total_kbps: float
    per_channel_kbps: float


def info(path: str | os.PathLike[str]) -> StreamInfo:
    """Read a ``.bgn`` file's header and measure its core, side-info and framing rates."""
    core_bytes = side_bytes = 0
    with _open_stream(path) as f:
        reader = ContainerReader(f)
        for frame in reader:
            for ch in frame.channels:
                core_bytes += sum(len(p) for p in ch.core)
                side_bytes += sum(len(s) for s in ch.side)
        header = reader.header
    size = Path(path).stat().st_size
    duration = int(header["num_samples"]) / WORK_RATE
    channels = int(header["channels"])
    rate = 8 / 1000 / max(duration, 1e-9)
    return StreamInfo(
        header=header,
        duration_s=duration,
        file_bytes=size,
        core_kbps=core_bytes * rate,
        side_kbps=side_bytes * rate,
        overhead_kbps=(size - core_bytes - side_bytes) * rate,
        total_kbps=size * rate,
        per_channel_kbps=size * rate / channels,
    )


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a ``.bgn`` file (validated, frames not read)."""
    with _open_stream(path) as f:
        return ContainerReader(f).header
