"""Python API: build codecs by name and code files or arrays.

Example::

    import bandgen
    codec = bandgen.load("none-16k")          # AAC-LC core only, 16 kbps per channel
    data = codec.encode(wav, 44100)           # wav float32 [C, T] -> .bgn bytes
    out = codec.decode(data)                  # float32 [C, T'] at 48 kHz
    bandgen.encode_file("song.flac", "song.bgn", bitrate_kbps=12)
    bandgen.decode_file("song.bgn", "song.wav")
    bandgen.restore_file("old_32k.mp3", "restored.wav")   # blind MP3 restoration (paper 002)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.io import (
    AtomicFile,
    AudioWriter,
    check_output_channels,
    check_output_path,
    iter_audio,
    output_format,
    probe,
)
from bandgen.audio.resample import StreamResampler
from bandgen.bitstream import ContainerReader
from bandgen.codec import Codec, EncodeStats, Progress
from bandgen.decoder import Concealment, decode_frames
from bandgen.errors import AudioInputError, BitstreamError, ConfigError
from bandgen.header import check_header
from bandgen.hf.registry import DEFAULT_HF

if TYPE_CHECKING:
    from bandgen.restore import Restorer

RESTORE_OUTPUT_RATES = (44_100, WORK_RATE)
"""Input rates ``restore_file`` writes at; any other input is written at 48 kHz."""

BGN_SUFFIX = ".bgn"
"""Extension of the files ``encode_file`` writes."""

_NAME = re.compile(r"^(?P<hf>[a-z][a-z0-9_]*)-(?P<kbps>\d+(?:\.\d+)?)k$")


def load(name: str = f"{DEFAULT_HF}-12k", **options: Any) -> Any:
    """Whatever ``name`` names: a shipped model, built by its family's loader
    (:mod:`bandgen.families`: a :class:`~bandgen.codec.Codec` for ``nsbg-*`` and ``blind-*``,
    a :class:`~bandgen.restore.Restorer` for ``mp3restore-*``), else a codec name
    ``"<hf method>-<kbps>k"`` such as ``"sbr-12k"`` or ``"none-16k"`` (:func:`load_codec`).

    Args:
        name: shipped model (``bandgen models`` lists them) or codec name.
        **options: options of what is built: ``core`` and the high-band method's options for
            a codec; ``int8``, ``chunk_seconds`` for a restorer.

    Raises:
        ConfigError: neither a shipped model nor a codec name, or a bad option.
    """
    from bandgen import families
    from bandgen.pretrained.registry import list_models, model_info, model_kind

    if name in list_models():
        return families.get(model_kind(model_info(name))).load(name, **options)
    return load_codec(name, **options)


def load_codec(name: str = f"{DEFAULT_HF}-12k", *, core: str = "aac", **hf_options: Any) -> Codec:
    """Build a codec from a name ``"<hf method>-<kbps>k"``, e.g. ``"none-16k"``.

    Args:
        name: high-band method and total bitrate per channel.
        core: core codec (``aac``, ``opus``, ``mp3``).
        **hf_options: options of the high-band method.
    """
    match = _NAME.match(name)
    if match is None:
        from bandgen.pretrained.registry import list_models

        raise ConfigError(
            f"{name!r} is neither a shipped model ({', '.join(list_models())}) nor a codec "
            "name of the form '<method>-<kbps>k', e.g. 'sbr-12k'"
        )
    return Codec.create(bitrate_kbps=float(match["kbps"]), core=core, hf=match["hf"], **hf_options)


def load_codec_model(name: str, *, core: str = "aac", **hf_options: Any) -> Codec:
    """The codec of the shipped n-SBG or Blind SBG model ``name`` (the n-SBG family's loader):
    ``--hf nsbg`` (or ``blind``) with that model, at the total rate it was released for.

    Raises:
        ConfigError: ``name`` is not a shipped n-SBG model, or a bad option.
    """
    from bandgen.pretrained.registry import model_info, model_paths

    model_paths(name, kind="nsbg")
    info = model_info(name)
    kbps = info.get("bitrate_kbps")
    if not isinstance(kbps, (int, float)):
        raise ConfigError(f"the description of model {name!r} lacks its 'bitrate_kbps'")
    hf = "blind" if info["config"].get("blind") else "nsbg"
    return Codec.create(bitrate_kbps=float(kbps), core=core, hf=hf, model=name, **hf_options)


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


def decode(
    data: bytes, *, salvage: bool = False, weights: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, int]:
    """Decode ``.bgn`` bytes; returns ``(wav [C, T] float32, 48000)``.

    ``weights``: the ``.safetensors`` file (its ``.json`` beside it) of the model a stream was
    coded with, when that model is not shipped with bandgen; its sha256 must match the stream's.
    """
    return Codec.decode(data, salvage=salvage, weights=weights), WORK_RATE


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
    if Path(dst).suffix.lower() != BGN_SUFFIX:
        raise ConfigError(
            f"cannot write {dst}: encode writes a {BGN_SUFFIX} file (name the output "
            f"{Path(dst).with_suffix(BGN_SUFFIX).name}); decode it to get .wav or .flac"
        )
    check_output_path(dst)
    info = probe(src)
    codec = Codec.create(bitrate_kbps=bitrate_kbps, core=core, hf=hf, **hf_options)
    with AtomicFile(dst) as target, open(target.tmp_path, "wb") as out:
        return codec.encode_stream(
            iter_audio(src), info.sample_rate, out, progress=progress, source=str(src)
        )


@dataclass(frozen=True)
class DecodeStats:
    """What a decode produced: samples at 48 kHz, channels, and what salvage had to conceal.

    Attributes:
        num_samples: output length at 48 kHz.
        channels: channel count.
        salvaged: the stream was damaged or truncated and decoded anyway.
        problem: the first problem found, else ``None``.
        gaps: damaged stretches skipped (each concealed by silence with short fades).
        lost_frames: frames lost in them (estimated from their size).
        lost_s: seconds replaced by silence.
        core_only_s: seconds decoded without their high band (it could not restart at once).
        truncated: the data ended inside a frame; the output stops where the data does.
        limited_s: seconds of output the safety stage limited (beyond +12 dBFS: damaged or
            forged side info), 0 for a sound stream.
    """

    num_samples: int
    channels: int
    salvaged: bool
    problem: str | None
    gaps: int = 0
    lost_frames: int = 0
    lost_s: float = 0.0
    core_only_s: float = 0.0
    truncated: bool = False
    limited_s: float = 0.0


def decode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    salvage: bool = False,
    progress: Progress | None = None,
    weights: str | os.PathLike[str] | None = None,
) -> DecodeStats:
    """Decode a ``.bgn`` file to WAV (32-bit float) or FLAC (24-bit) at 48 kHz, block by block.

    With ``salvage``, damaged frames are skipped and concealed and a truncated file is
    decoded up to its last whole frame; the returned stats say what was lost. ``weights``
    is the model file of a stream coded with a model that is not shipped (see :func:`decode`);
    the stream itself never names a file to open.
    """
    _distinct(src, dst)
    output_format(dst)
    check_output_path(dst)
    with _open_stream(src) as f:
        reader = ContainerReader(f, salvage=salvage)
        channels = int(reader.header["channels"])
        check_output_channels(dst, channels)
        codec = Codec.from_header(reader.header, weights=weights)
        concealed = Concealment()
        with AudioWriter(dst, WORK_RATE, channels) as writer:
            for block in decode_frames(codec, reader, progress=progress, concealment=concealed):
                writer.write(block)
        return DecodeStats(
            writer.num_samples,
            channels,
            reader.salvaged,
            reader.problem,
            gaps=len(reader.gaps),
            lost_frames=sum(gap.num_frames for gap in reader.gaps),
            lost_s=concealed.lost_samples / WORK_RATE,
            core_only_s=concealed.core_only_samples / WORK_RATE,
            truncated=reader.truncated,
            limited_s=concealed.limited_samples / WORK_RATE,
        )


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
        check_header(reader.header)
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
        header = ContainerReader(f).header
    check_header(header)
    return header


def load_restorer(
    name: str | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    int8: bool = False,
    chunk_seconds: float = 10.0,
) -> Restorer:
    """Build an MP3 restorer (paper ``002``) from a shipped model or a weights file.

    Args:
        name: shipped model name (default ``mp3restore-32k``).
        weights: a ``.safetensors`` file with its ``.json`` beside it (e.g. a training run's
            ``best.safetensors``); overrides ``name``.
        int8: dynamically quantise the pointwise layers to int8
            (:func:`bandgen.restore.quantize_int8`).
        chunk_seconds: audio restored per network call when streaming (bounds memory).

    Raises:
        ConfigError: unknown model, bad weights, or ``chunk_seconds <= 0``.
    """
    from bandgen.restore import Restorer, load_restore_model, quantize_int8

    if not chunk_seconds > 0:
        raise ConfigError(f"chunk_seconds must be positive, got {chunk_seconds}")
    model, model_info = load_restore_model(name, weights=weights)
    if int8:
        model = quantize_int8(model)
    frames = max(1, round(chunk_seconds * model.config.sample_rate / model.config.hop_length))
    return Restorer(model, chunk_frames=frames, info={**model_info, "int8": int8})


@dataclass(frozen=True)
class RestoreStats:
    """What a restoration wrote: samples, channels and rate of the output, and the model."""

    num_samples: int
    channels: int
    sample_rate: int
    input_sample_rate: int
    model: str


def restore_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    restorer: Restorer | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> RestoreStats:
    """Restore a low-bitrate MP3 (or any audio file PyAV reads), block by block.

    The input is resampled to 48 kHz, each channel restored, and the result written as WAV
    (32-bit float) or FLAC (24-bit) at the input's rate if that is 44.1 or 48 kHz, else at
    48 kHz. Memory stays bounded for any length; the output appears only when complete.

    Args:
        src, dst: input file and output ``.wav`` / ``.flac``.
        restorer: a :class:`~bandgen.restore.Restorer`; default built by
            :func:`load_restorer` from ``options`` (``name``, ``weights``, ``int8``,
            ``chunk_seconds``).
        progress: called with the number of input samples consumed.

    Raises:
        AudioInputError: missing, unreadable or empty input.
        ConfigError: bad output path or model options.
    """
    _distinct(src, dst)
    output_format(dst)
    info = probe(src)
    check_output_channels(dst, info.channels)
    check_output_path(dst)
    if restorer is None:
        restorer = load_restorer(**options)
    elif options:
        raise ConfigError(f"pass either a restorer or model options, not both: {sorted(options)}")
    work = restorer.sample_rate
    out_rate = info.sample_rate if info.sample_rate in RESTORE_OUTPUT_RATES else work
    up = StreamResampler(info.sample_rate, work, info.channels)
    down = StreamResampler(work, out_rate, info.channels)

    def blocks() -> Any:
        for block in iter_audio(src):
            yield up.push(block)
            if progress is not None:
                progress(block.shape[1])
        yield up.flush()

    with AudioWriter(dst, out_rate, info.channels) as writer:
        for restored in restorer.stream(blocks()):
            writer.write(down.push(restored))
        writer.write(down.flush())
        if writer.num_samples == 0:
            raise AudioInputError(f"{src} holds no audio samples (empty input)")
    return RestoreStats(
        writer.num_samples, info.channels, out_rate, info.sample_rate, restorer.info.get("name", "")
    )
