"""Python API: build codecs by name and code files or arrays.

Example::

    import bandgen
    codec = bandgen.load("none-16k")          # AAC-LC core only, 16 kbps per channel
    data = codec.encode(wav, 44100)           # wav float32 [C, T] -> .bgn bytes
    out = codec.decode(data)                  # float32 [C, T'] at 48 kHz
    bandgen.encode_file("song.flac", "song.bgn", bitrate_kbps=12)
    bandgen.decode_file("song.bgn", "song.wav")
    bandgen.restore_file("old_32k.mp3", "restored.wav")   # blind MP3 restoration (paper 002)
    bandgen.extend_file("phone_16k.wav", "full.wav")      # blind bandwidth extension to 48 kHz
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.checks import check_sample_rate
from bandgen.audio.io import (
    AtomicFile,
    AudioWriter,
    check_output_channels,
    check_output_path,
    iter_audio,
    output_format,
    probe,
)
from bandgen.audio.pipeline import check_distinct as _distinct
from bandgen.audio.pipeline import process_file
from bandgen.audio.resample import StreamResampler
from bandgen.bitstream import ContainerReader
from bandgen.codec import Codec, EncodeStats, Progress
from bandgen.decoder import Concealment
from bandgen.errors import ConfigError
from bandgen.extend import Extender
from bandgen.extend import extend_file as extend_file
from bandgen.extend import load_extender as load_extender
from bandgen.header import check_header
from bandgen.hf.registry import DEFAULT_HF
from bandgen.stream_info import StreamInfo as StreamInfo  # re-exported: bandgen.info(path)
from bandgen.stream_info import info as info
from bandgen.stream_info import open_stream
from bandgen.stream_info import read_header as read_header

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


def load_codec_model(name: str, *, core: str = "aac", **hf_options: Any) -> Codec | Extender:
    """The codec of the shipped n-SBG or Blind SBG model ``name`` (the n-SBG family's loader):
    ``--hf nsbg`` (or ``blind``) with that model, at the total rate it was released for; for
    a blind model trained on the band-limit core (``blind-8k``), its
    :class:`~bandgen.extend.Extender` (``bandgen extend --method blind``).

    Raises:
        ConfigError: ``name`` is not a shipped n-SBG model, or a bad option.
    """
    from bandgen.families import is_extension_model
    from bandgen.pretrained.registry import model_info, model_paths

    model_paths(name, kind="nsbg")
    info = model_info(name)
    if is_extension_model(info):
        return load_extender("blind", name)
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
    core: str | None = None,
    hf: str | None = None,
    **hf_options: Any,
) -> bytes:
    """Encode float32 ``[C, T]`` (or ``[T]``) at ``sample_rate`` Hz to ``.bgn`` bytes.

    With neither ``core`` nor ``hf``, the bitrate's default mode (:mod:`bandgen.defaults`);
    named ``hf`` alone codes on the AAC core; named ``core`` alone gets
    :data:`~bandgen.hf.registry.DEFAULT_HF`, or none for ``core="spectrostream"`` or
    ``core="hpcodec"`` (the full-band neural codecs; options ``model``/``weights``).
    """
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


def encode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    bitrate_kbps: float = 12.0,
    core: str | None = None,
    hf: str | None = None,
    progress: Progress | None = None,
    **hf_options: Any,
) -> EncodeStats:
    """Encode any audio file PyAV reads into a ``.bgn`` file, block by block.

    The output appears only when the whole file was coded; the input is only read (twice or
    more for a two-pass core, MP3: :meth:`~bandgen.codec.Codec.calibrate`).
    """
    _distinct(src, dst)
    if Path(dst).suffix.lower() != BGN_SUFFIX:
        raise ConfigError(
            f"cannot write {dst}: encode writes a {BGN_SUFFIX} file (name the output "
            f"{Path(dst).with_suffix(BGN_SUFFIX).name}); decode it to get .wav or .flac"
        )
    check_output_path(dst)
    source = probe(src)
    codec = Codec.create(bitrate_kbps=bitrate_kbps, core=core, hf=hf, **hf_options)
    duration_s = source.duration_s or None
    codec.calibrate(
        lambda: iter_audio(src), source.sample_rate, duration_s=duration_s, source=str(src)
    )
    with AtomicFile(dst) as target, open(target.tmp_path, "wb") as out:
        return codec.encode_stream(
            iter_audio(src),
            source.sample_rate,
            out,
            progress=progress,
            source=str(src),
            duration_s=duration_s,
        )


@dataclass(frozen=True)
class DecodeStats:
    """What a decode produced: samples, channels, rate, and what salvage had to conceal.

    Attributes:
        num_samples: output length at ``sample_rate``.
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
        sample_rate: the output's rate (by default the source's, from the header).
        peak: the output's largest magnitude (1.0 is full scale).
        clipped_samples: samples beyond full scale in some channel (an integer format clips
            them).
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
    sample_rate: int = WORK_RATE
    peak: float = 0.0
    clipped_samples: int = 0


def decode_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    salvage: bool = False,
    progress: Progress | None = None,
    weights: str | os.PathLike[str] | None = None,
    sample_rate: int | None = None,
    bits: int | None = None,
) -> DecodeStats:
    """Decode a ``.bgn`` file to WAV or FLAC, block by block.

    The output has the source's channels and, unless ``sample_rate`` is given, the source's
    sample rate (the header keeps it; the codec works at 48 kHz). ``bits``: 16, 24 or 32
    (float, WAV only); default 32-bit float WAV, 24-bit FLAC.

    With ``salvage``, damaged frames are skipped and concealed and a truncated file is
    decoded up to its last whole frame; the returned stats say what was lost. ``weights``
    is the model file of a stream coded with a model that is not shipped (see :func:`decode`);
    the stream itself never names a file to open.
    """
    _distinct(src, dst)
    output_format(dst, bits)
    if sample_rate is not None:
        check_sample_rate(sample_rate)
    check_output_path(dst)
    with open_stream(src) as f:
        reader = ContainerReader(f, salvage=salvage)
        check_header(reader.header)
        channels = int(reader.header["channels"])
        check_output_channels(dst, channels)
        codec = Codec.from_header(reader.header, weights=weights)
        rate = int(sample_rate or reader.header["source_sample_rate"])
        to_rate = StreamResampler(WORK_RATE, rate, channels)
        concealed = Concealment()
        with AudioWriter(dst, rate, channels, bits=bits) as writer:
            for block in codec.decode_frames(reader, progress=progress, concealment=concealed):
                writer.write(to_rate.push(block))
            writer.write(to_rate.flush())
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
            sample_rate=rate,
            peak=writer.peak,
            clipped_samples=writer.clipped,
        )


@dataclass(frozen=True)
class RoundtripStats:
    """What ``roundtrip_file`` did: the encode (rates of the ``.bgn`` it made) and the decode."""

    encode: EncodeStats
    decode: DecodeStats


def roundtrip_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    bitrate_kbps: float = 12.0,
    core: str | None = None,
    hf: str | None = None,
    sample_rate: int | None = None,
    bits: int | None = None,
    **hf_options: Any,
) -> RoundtripStats:
    """Encode ``src`` and decode it again to ``dst`` (WAV/FLAC): hear what a bitrate does.

    The ``.bgn`` goes to a temporary folder and is removed; ``sample_rate`` and ``bits`` as in
    :func:`decode_file`, ``hf_options`` (``weights``, ``side_kbps``, ...) as in
    :func:`encode_file`.
    """
    import tempfile

    _distinct(src, dst)
    output_format(dst, bits)
    check_output_path(dst)
    with tempfile.TemporaryDirectory(prefix="bandgen-") as tmp:
        bgn = Path(tmp) / f"{Path(src).stem or 'input'}{BGN_SUFFIX}"
        enc = encode_file(src, bgn, bitrate_kbps=bitrate_kbps, core=core, hf=hf, **hf_options)
        dec = decode_file(
            bgn, dst, weights=hf_options.get("weights"), sample_rate=sample_rate, bits=bits
        )
    return RoundtripStats(enc, dec)


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
    """What a restoration wrote: samples, channels and rate of the output, and the model;
    ``peak`` and ``clipped_samples`` as in :class:`DecodeStats`."""

    num_samples: int
    channels: int
    sample_rate: int
    input_sample_rate: int
    model: str
    peak: float = 0.0
    clipped_samples: int = 0


def restore_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    restorer: Restorer | None = None,
    progress: Progress | None = None,
    sample_rate: int | None = None,
    bits: int | None = None,
    **options: Any,
) -> RestoreStats:
    """Restore a low-bitrate MP3 (or any audio file PyAV reads), block by block.

    The input is resampled to 48 kHz, each channel restored, and the result written as WAV
    (32-bit float) or FLAC (24-bit) at the input's rate if that is 44.1 or 48 kHz, else at
    48 kHz (or at ``sample_rate``; ``bits`` as in :func:`decode_file`). Memory stays bounded
    for any length; the output appears only when complete.

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
    output_format(dst, bits)
    if sample_rate is not None:
        check_sample_rate(sample_rate)
    source = probe(src)
    check_output_channels(dst, source.channels)
    check_output_path(dst)
    if restorer is None:
        restorer = load_restorer(**options)
    elif options:
        raise ConfigError(f"pass either a restorer or model options, not both: {sorted(options)}")
    work = restorer.sample_rate
    out_rate = source.sample_rate if source.sample_rate in RESTORE_OUTPUT_RATES else work
    out_rate = sample_rate or out_rate
    result = process_file(
        src,
        dst,
        source,
        restorer.stream,
        in_rate=work,
        work_rate=work,
        out_rate=out_rate,
        progress=progress,
        bits=bits,
    )
    return RestoreStats(
        result.num_samples,
        source.channels,
        out_rate,
        source.sample_rate,
        restorer.info.get("name", ""),
        peak=result.peak,
        clipped_samples=result.clipped,
    )
