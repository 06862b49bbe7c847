"""One file through a streaming processor: decode, resample in, process, resample out, write.

The shared machinery of the commands that turn an audio file into another one with a model
working at fixed rates (``bandgen restore``, ``bandgen extend``): the input is decoded block
by block, resampled to the processor's input rate, processed as a stream, resampled from its
output rate to the file's output rate and written atomically (the output appears only when
complete). Memory stays bounded by the blocks and the processor's own buffers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bandgen.audio.io import AudioInfo, AudioWriter, iter_audio
from bandgen.audio.resample import StreamResampler
from bandgen.errors import AudioInputError, ConfigError

__all__ = ["FileResult", "Processor", "check_distinct", "process_file"]

Processor = Callable[[Iterable[np.ndarray]], Iterator[np.ndarray]]
"""A stream of float32 ``[C, n]`` blocks in -> a stream of ``[C, m]`` blocks out."""


def check_distinct(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Refuse an output that is the input file itself (it would be overwritten unread).

    Raises:
        ConfigError: ``src`` and ``dst`` are the same existing file.
    """
    if Path(dst).exists() and Path(src).exists() and Path(src).resolve() == Path(dst).resolve():
        raise ConfigError(f"output {dst} is the input file; choose another output path")


@dataclass(frozen=True)
class FileResult:
    """What :func:`process_file` wrote: samples per channel, and the output's ``peak`` and
    ``clipped`` samples (beyond full scale in some channel)."""

    num_samples: int
    peak: float
    clipped: int


def process_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    source: AudioInfo,
    process: Processor,
    *,
    in_rate: int,
    work_rate: int,
    out_rate: int,
    progress: Callable[[int], None] | None = None,
    bits: int | None = None,
) -> FileResult:
    """Run ``src`` through ``process`` into ``dst`` (module docstring).

    Args:
        src, dst: input file (any format PyAV reads) and output ``.wav`` / ``.flac``.
        source: ``probe(src)``.
        process: the processor; it reads blocks at ``in_rate`` and yields blocks at
            ``work_rate``, with ``source.channels`` channels.
        out_rate: rate of the written file.
        progress: called with the number of input samples consumed.
        bits: output bit depth (:func:`bandgen.audio.io.output_format`).

    Raises:
        AudioInputError: unreadable or empty input (no output is left behind).
    """
    up = StreamResampler(source.sample_rate, in_rate, source.channels)
    down = StreamResampler(work_rate, out_rate, source.channels)

    def blocks() -> Iterator[np.ndarray]:
        for block in iter_audio(src):
            yield up.push(block)
            if progress is not None:
                progress(block.shape[1])
        yield up.flush()

    with AudioWriter(dst, out_rate, source.channels, bits=bits) as writer:
        for out in process(blocks()):
            writer.write(down.push(out))
        writer.write(down.flush())
        if writer.num_samples == 0:
            raise AudioInputError(f"{src} holds no audio samples (empty input)")
    return FileResult(writer.num_samples, writer.peak, writer.clipped)
