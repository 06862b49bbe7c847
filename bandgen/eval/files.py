"""Another codec's files as one more codec of the evaluation (``--files`` and ``files:NAME:KBPS``).

A codec that cannot run here (e.g. HE-AAC v1 from Fraunhofer FDK, ``../shared/anchors/``) is
scored from the files it wrote: one coded or decoded file per reference clip and rate, found by
a path pattern, decoded through PyAV (:func:`bandgen.audio.io.read_audio`, frame by frame, no
edit list applied), resampled to 48 kHz, aligned and cut to the reference:

0. a file decoded to several identical channels for a mono reference is taken as mono: FFmpeg's
   ``aac`` decoder outputs mono HE-AAC v1 as two equal channels (it allows for implicit
   parametric stereo). Any other channel mismatch is an error;

1. the output's lag is removed: a fixed number of 48 kHz samples (``NAME@LAG=...``), or, with
   ``@auto`` (the default), the lag found by cross-correlation with the reference within
   :data:`MAX_AUTO_LAG` samples. A positive lag drops the first ``LAG`` samples; a negative one
   prepends zeros;
2. the rest is cut to the reference's length. A file that then falls short of the reference by
   more than :data:`MAX_SHORTFALL_S` is an error (a wrong or truncated file); a smaller
   shortfall is zero-padded.

The rate is the *payload*: the sizes of the audio stream's packets (container excluded, as
``../shared/anchors/README.md`` measures it) over the reference's duration, per channel. The
whole file's rate is kept beside it as ``file_kbps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bandgen.audio.io import read_audio
from bandgen.audio.resample import resample
from bandgen.core.align import find_lag
from bandgen.errors import ConfigError
from bandgen.eval.specs import EVAL_RATE

__all__ = [
    "MAX_AUTO_LAG",
    "MAX_SHORTFALL_S",
    "CodedFile",
    "FilesCodec",
    "align",
    "load_coded",
    "missing_files",
    "parse_files",
    "payload_bytes",
]

MAX_AUTO_LAG = EVAL_RATE // 4
"""Largest lag searched by ``@auto``, 48 kHz samples (0.25 s)."""
MAX_SHORTFALL_S = 0.1
"""A file shorter than its reference by more than this after alignment is refused, seconds."""


@dataclass(frozen=True)
class FilesCodec:
    """A folder of another codec's files: how to find them and how to align them.

    Attributes:
        name: the ``NAME`` of ``files:NAME:KBPS``.
        pattern: path with ``{clip}`` (reference file stem) and optionally ``{kbps}`` (the
            spec's rate per channel, written as ``%g``: ``12``, ``12.5``).
        lag: samples at 48 kHz the files lag behind the reference, or ``None`` for a
            cross-correlation per file.
    """

    name: str
    pattern: str
    lag: int | None = None

    def path(self, clip_id: str, kbps: float) -> Path:
        """The file of one clip at one rate."""
        return Path(self.pattern.replace("{clip}", clip_id).replace("{kbps}", f"{kbps:g}"))


def parse_files(text: str) -> FilesCodec:
    """Parse ``NAME[@LAG]=PATTERN`` (the ``--files`` option); ``LAG`` an integer or ``auto``.

    Example: ``heaac@3009=../shared/anchors/he-aac-v1/dev/{clip}_{kbps}k.m4a``.
    """
    head, sep, pattern = text.partition("=")
    match = re.fullmatch(r"([A-Za-z0-9_-]+)(?:@(auto|-?\d+))?", head.strip())
    if not sep or match is None:
        raise ConfigError(
            f"--files {text!r} must be NAME[@LAG]=PATTERN with a plain NAME and LAG an integer "
            "(48 kHz samples) or auto, e.g. heaac@3009=anchors/{clip}_{kbps}k.m4a"
        )
    pattern = pattern.strip()
    if "{clip}" not in pattern:
        raise ConfigError(f"--files {match[1]}: the pattern {pattern!r} lacks {{clip}}")
    lag = None if match[2] in (None, "auto") else int(match[2])
    return FilesCodec(match[1], pattern, lag)


def missing_files(codec: FilesCodec, kbps: float, clip_ids: list[str]) -> list[Path]:
    """The files of ``clip_ids`` at ``kbps`` that do not exist."""
    return [p for p in (codec.path(c, kbps) for c in clip_ids) if not p.is_file()]


def payload_bytes(path: Path) -> int:
    """Bytes of the first audio stream's packets, container overhead excluded."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            return sum(int(packet.size) for packet in container.demux(stream))
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise ConfigError(f"cannot read the packets of {path}: {exc}") from None


@dataclass
class CodedFile:
    """One file scored against its reference.

    Attributes:
        wav: float32 ``[C, T]`` at 48 kHz, aligned, the reference's length.
        kbps: payload rate per channel, kbit/s.
        file_kbps: whole-file rate per channel, kbit/s.
        lag: the lag removed, 48 kHz samples.
        path: the file read.
    """

    wav: np.ndarray
    kbps: float
    file_kbps: float
    lag: int
    path: Path


def align(decoded: np.ndarray, reference: np.ndarray, lag: int | None) -> tuple[np.ndarray, int]:
    """Remove ``lag`` (or the cross-correlation lag if ``None``) and cut to the reference.

    Args:
        decoded: float32 ``[C, T']`` at 48 kHz.
        reference: float32 ``[C, T]`` at 48 kHz.
        lag: samples ``decoded`` lags behind ``reference``.

    Returns:
        ``(wav [C, T], lag removed)``; the shortfall, if any, is zero-padded.
    """
    if lag is None:
        lag = find_lag(reference.mean(axis=0), decoded.mean(axis=0), max_lag=MAX_AUTO_LAG)
    shifted = decoded[:, lag:] if lag >= 0 else np.pad(decoded, ((0, 0), (-lag, 0)))
    wav = shifted[:, : reference.shape[1]]
    wav = np.pad(wav, ((0, 0), (0, reference.shape[1] - wav.shape[1])))
    return wav.astype(np.float32, copy=False), lag


def load_coded(codec: FilesCodec, kbps: float, clip_id: str, reference: np.ndarray) -> CodedFile:
    """Decode, align and cut the file of ``clip_id`` at ``kbps`` against ``reference [C, T]``.

    Raises:
        ConfigError: the file is missing, unreadable, has another channel count (equal
            channels for a mono reference excepted), or falls short of the reference by more
            than :data:`MAX_SHORTFALL_S` after alignment.
    """
    path = codec.path(clip_id, kbps)
    if not path.is_file():
        raise ConfigError(f"files:{codec.name}: no file {path} for clip {clip_id}")
    decoded, rate = read_audio(path)
    decoded = resample(decoded, rate, EVAL_RATE)
    if reference.shape[0] == 1 and np.array_equal(
        decoded, np.broadcast_to(decoded[:1], decoded.shape)
    ):
        decoded = decoded[:1]
    if decoded.shape[0] != reference.shape[0]:
        raise ConfigError(
            f"{path}: {decoded.shape[0]} channels, but the reference {clip_id} has "
            f"{reference.shape[0]}"
        )
    wav, lag = align(decoded, reference, codec.lag)
    shortfall_s = (reference.shape[1] - (decoded.shape[1] - lag)) / EVAL_RATE
    if shortfall_s > MAX_SHORTFALL_S:
        raise ConfigError(
            f"{path}: after removing a lag of {lag} samples it is {shortfall_s:.3f} s shorter "
            f"than the reference {clip_id}; is it the right file, and the right lag?"
        )
    seconds_channels = reference.shape[1] / EVAL_RATE * reference.shape[0]
    return CodedFile(
        wav=wav,
        kbps=8.0 * payload_bytes(path) / seconds_channels / 1000.0,
        file_kbps=8.0 * path.stat().st_size / seconds_channels / 1000.0,
        lag=lag,
        path=path,
    )
