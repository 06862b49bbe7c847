"""What a ``.bgn`` file holds, read cheaply: its checked header and measured bitrate split.

``bandgen info`` runs on this alone, so it imports neither numpy, torch nor PyAV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bandgen.audio import WORK_RATE
from bandgen.bitstream.container import ContainerReader
from bandgen.errors import BitstreamError
from bandgen.header import check_header

__all__ = ["StreamInfo", "info", "open_stream", "read_header"]


def open_stream(path: str | os.PathLike[str]) -> Any:
    """Open a ``.bgn`` file for reading; a missing one is a :class:`BitstreamError`."""
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
    with open_stream(path) as f:
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
    with open_stream(path) as f:
        header = ContainerReader(f).header
    check_header(header)
    return header
