"""Codec specs of the evaluation (``none:16``, ``aac:16``, ``ext:mine:12``, ``files:heaac:12``).

Four kinds of spec, all coding (or reading) a 48 kHz clip ``[C, T]`` and returning 48 kHz ``[C, T]``:

- ``METHOD:KBPS[:CORE]`` — a bandgen codec (:meth:`bandgen.codec.Codec.create`): high-band
  method ``METHOD`` (one of :func:`bandgen.hf.registry.available`) at ``KBPS`` per channel in
  total, core ``CORE`` (``aac`` by default). Bitrate = size of the whole ``.bgn`` stream;
  side-info rate = its side-info payloads.
- ``aac:KBPS[:RATE]``, ``opus:KBPS[:RATE]``, ``mp3:KBPS[:RATE]`` — an anchor: the plain core codec
  (:func:`bandgen.core.make_core`) given the whole target rate, coding the full band it keeps;
  its sample rate comes from the codec's measured mode table unless ``RATE`` (Hz) forces one.
  Decoded, resampled to 48 kHz. Bitrate = sum of the packet sizes; side-info rate 0.
- ``ext:NAME:KBPS`` — an external encoder/decoder pair declared with
  ``--ext NAME='ENCODE COMMAND|DECODE COMMAND'`` (:func:`parse_ext`).
- ``files:NAME:KBPS`` — another codec's files, declared with ``--files NAME[@LAG]=PATTERN``
  (:mod:`bandgen.eval.files`): decoded, aligned and cut; bitrate = the audio packets' payload.

Side-info rates of ``ext`` and ``files`` specs are unknown (left empty).

Bitrates are measured, in kbit/s per channel: ``8 * bytes / duration / channels / 1000``.
"""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.io import read_audio
from bandgen.audio.resample import resample
from bandgen.errors import ConfigError

if TYPE_CHECKING:
    from bandgen.eval.files import FilesCodec

__all__ = [
    "ANCHORS",
    "EVAL_RATE",
    "CodecSpec",
    "Coded",
    "ExtCodec",
    "code",
    "parse_ext",
    "parse_spec",
    "validate",
]

EVAL_RATE = WORK_RATE
"""Sample rate of every reference and decoded signal in the evaluation, Hz."""
ANCHORS = ("aac", "opus", "mp3")
"""Core codecs usable as anchors."""
EXT_TIMEOUT_S = 600
"""Wall-clock limit of one external encode or decode command."""


@dataclass(frozen=True)
class ExtCodec:
    """An external codec: argument templates of its encode and decode commands.

    Placeholders, replaced inside each argument: ``{in}``, ``{out}``, ``{kbps}`` (encode:
    input WAV, bitstream to write, target kbit/s per channel) and ``{in}``, ``{out}``
    (decode: bitstream, WAV to write).
    """

    name: str
    encode: tuple[str, ...]
    decode: tuple[str, ...]


def parse_ext(text: str) -> ExtCodec:
    """Parse ``NAME='enc {in} {out} {kbps}|dec {in} {out}'`` (the ``--ext`` option).

    The two commands are split at the single ``|`` and then into arguments with shell
    quoting rules (:func:`shlex.split`); they are run directly, not through a shell. The encoder
    reads a 48 kHz 24-bit PCM WAV with the clip's channels and writes the bitstream to
    ``{out}`` (a file ending in ``.bit``; its size gives the bitrate). The decoder reads that
    file and writes ``{out}`` (ending in ``.wav``), any rate or sample format PyAV reads; it is
    resampled to 48 kHz and must be sample-aligned with the input (a longer output is cut, a
    shorter one zero-padded, a delay is *not* removed: use an aligned decoder).
    """
    name, sep, commands = text.partition("=")
    name = name.strip()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"--ext {text!r} must be NAME='ENCODE|DECODE' with a plain NAME")
    commands = commands.strip()
    if len(commands) >= 2 and commands[0] == commands[-1] and commands[0] in "'\"":
        commands = commands[1:-1]  # quotes the shell would have removed
    parts = commands.split("|")
    if len(parts) != 2:
        raise ConfigError(f"--ext {name}: give exactly two commands separated by one '|'")
    try:
        encode, decode = (tuple(shlex.split(p)) for p in parts)
    except ValueError as exc:
        raise ConfigError(
            f"--ext {name}: cannot split the commands into arguments: {exc}"
        ) from None
    for label, argv, needed in (
        ("encode", encode, "{in} {out} {kbps}"),
        ("decode", decode, "{in} {out}"),
    ):
        joined = " ".join(argv)
        missing = [p for p in needed.split() if p not in joined]
        if not argv or missing:
            raise ConfigError(
                f"--ext {name}: the {label} command lacks {', '.join(missing) or 'a program'}"
            )
    return ExtCodec(name, encode, decode)


@dataclass(frozen=True)
class CodecSpec:
    """One parsed ``--codecs`` entry.

    Attributes:
        text: the spec as given, e.g. ``"none:16"``; also its identity in results.
        kind: ``"bandgen"``, ``"anchor"``, ``"ext"`` or ``"files"``.
        method: high-band method, anchor core name, or external codec or files name.
        kbps: target bitrate per channel, kbit/s.
        core: core codec of a bandgen spec (``None`` otherwise).
        sample_rate: forced anchor sample rate in Hz, or ``None``.
    """

    text: str
    kind: str
    method: str
    kbps: float
    core: str | None = None
    sample_rate: int | None = None

    @property
    def family(self) -> str:
        """The curve this spec belongs to in rate-distortion plots (the spec without its rate)."""
        if self.kind == "bandgen":
            return self.method if self.core in (None, "aac") else f"{self.method}/{self.core}"
        if self.kind in ("ext", "files"):
            return f"{self.kind}:{self.method}"
        return self.method if self.sample_rate is None else f"{self.method}@{self.sample_rate}"

    @property
    def slug(self) -> str:
        """A file-system-safe name for the cache folder."""
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.text.replace(":", "_"))


def _kbps(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ConfigError(f"codec spec {spec!r}: bitrate {text!r} is not a positive number")
    return value


def parse_spec(
    text: str,
    ext: dict[str, ExtCodec] | None = None,
    files: dict[str, FilesCodec] | None = None,
) -> CodecSpec:
    """Parse a codec spec (module docstring); ``ext`` and ``files`` hold the declarations."""
    from bandgen.hf.registry import available

    fields = text.strip().split(":")
    head = fields[0]
    if head == "files":
        if len(fields) != 3:
            raise ConfigError(f"codec spec {text!r}: write files:NAME:KBPS")
        if fields[1] not in (files or {}):
            raise ConfigError(f"codec spec {text!r}: no --files {fields[1]}=PATTERN was given")
        return CodecSpec(text, "files", fields[1], _kbps(fields[2], text))
    if head == "ext":
        if len(fields) != 3:
            raise ConfigError(f"codec spec {text!r}: write ext:NAME:KBPS")
        if fields[1] not in (ext or {}):
            raise ConfigError(
                f"codec spec {text!r}: no --ext {fields[1]}='ENCODE|DECODE' was given"
            )
        return CodecSpec(text, "ext", fields[1], _kbps(fields[2], text))
    if len(fields) not in (2, 3):
        raise ConfigError(f"codec spec {text!r} is not METHOD:KBPS[:CORE], e.g. none:16 or aac:16")
    kbps = _kbps(fields[1], text)
    if head in ANCHORS:
        rate = None
        if len(fields) == 3:
            if not fields[2].isdigit():
                raise ConfigError(f"anchor spec {text!r}: the third field is a sample rate in Hz")
            rate = int(fields[2])
        return CodecSpec(text, "anchor", head, kbps, sample_rate=rate)
    if head not in available():
        raise ConfigError(
            f"codec spec {text!r}: unknown method {head!r}; use a high-band method "
            f"({', '.join(available())}), an anchor ({', '.join(ANCHORS)}), ext:NAME or files:NAME"
        )
    core = fields[2] if len(fields) == 3 else "aac"
    return CodecSpec(text, "bandgen", head, kbps, core=core)


def validate(spec: CodecSpec) -> None:
    """Build the spec's codec once, so an unreachable bitrate fails before any work starts."""
    if spec.kind == "bandgen":
        from bandgen.codec import Codec

        Codec.create(bitrate_kbps=spec.kbps, core=spec.core or "aac", hf=spec.method)
    elif spec.kind == "anchor":
        from bandgen.core import make_core

        make_core(spec.method, spec.kbps, sample_rate=spec.sample_rate)


@dataclass
class Coded:
    """A clip after coding and decoding.

    Attributes:
        wav: float32 ``[C, T]`` at 48 kHz, same length as the reference.
        kbps: measured bitrate per channel, kbit/s.
        seconds: wall time of encode + decode (of the decode alone for ``files`` specs).
        info: facts about the coder (core sample rate and cutoff, side-info kbit/s per channel,
            the lag removed from a ``files`` output), for the per-file table.
    """

    wav: np.ndarray
    kbps: float
    seconds: float
    info: dict[str, float]


def _fit(wav: np.ndarray, num_samples: int) -> np.ndarray:
    wav = wav[:, :num_samples]
    return np.pad(wav, ((0, 0), (0, num_samples - wav.shape[1]))).astype(np.float32, copy=False)


def _rate(num_bytes: int, wav: np.ndarray) -> float:
    return 8.0 * num_bytes / (wav.shape[1] / EVAL_RATE) / wav.shape[0] / 1000.0


def _side_bytes(data: bytes) -> int:
    """Bytes of the side-info payloads in a ``.bgn`` stream, all channels."""
    from bandgen.bitstream import ContainerReader

    frames = ContainerReader(io.BytesIO(data))
    return sum(len(s) for frame in frames for ch in frame.channels for s in ch.side)


def code(
    spec: CodecSpec,
    wav: np.ndarray,
    ext: dict[str, ExtCodec] | None = None,
    *,
    clip_id: str = "",
    files: dict[str, FilesCodec] | None = None,
) -> Coded:
    """Code and decode a 48 kHz clip ``wav [C, T]`` with ``spec``.

    ``clip_id`` names the clip's file for ``files`` specs, whose declarations are in ``files``.
    """
    start = time.perf_counter()
    if spec.kind == "files":
        from bandgen.eval.files import load_coded

        if files is None or spec.method not in files:
            raise ConfigError(f"no --files declaration for {spec.text!r}")
        got = load_coded(files[spec.method], spec.kbps, clip_id, wav)
        info = {"lag_removed": float(got.lag), "file_kbps": got.file_kbps}
        return Coded(got.wav, got.kbps, time.perf_counter() - start, info)
    if spec.kind == "bandgen":
        from bandgen.codec import Codec

        codec = Codec.create(bitrate_kbps=spec.kbps, core=spec.core or "aac", hf=spec.method)
        data = codec.encode(wav, EVAL_RATE)
        out = Codec.decode(data)
        num_bytes = len(data)
        info = {
            "core_rate": float(codec.core.sample_rate),
            "core_cutoff_hz": codec.core.cutoff_hz,
            "side_kbps": _rate(_side_bytes(data), wav),
        }
    elif spec.kind == "anchor":
        from bandgen.core import make_core

        core = make_core(spec.method, spec.kbps, sample_rate=spec.sample_rate)
        low = resample(wav, EVAL_RATE, core.sample_rate)
        packets = core.encode(low)
        out = resample(core.decode(packets, low.shape[1]), core.sample_rate, EVAL_RATE)
        num_bytes = sum(len(p) for stream in packets for p in stream)
        info = {
            "core_rate": float(core.sample_rate),
            "core_cutoff_hz": core.cutoff_hz,
            "side_kbps": 0.0,
        }
    else:
        if ext is None or spec.method not in ext:
            raise ConfigError(f"no --ext declaration for {spec.text!r}")
        out, num_bytes = _run_ext(ext[spec.method], spec.kbps, wav)
        info = {}
    return Coded(_fit(out, wav.shape[1]), _rate(num_bytes, wav), time.perf_counter() - start, info)


def _run_ext(ext: ExtCodec, kbps: float, wav: np.ndarray) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="bandgen-ext-") as tmp:
        src, bits, dst = Path(tmp, "input.wav"), Path(tmp, "stream.bit"), Path(tmp, "decoded.wav")
        import soundfile

        soundfile.write(src, np.clip(wav.T, -1.0, 1.0), EVAL_RATE, subtype="PCM_24")
        values = {"{in}": str(src), "{out}": str(bits), "{kbps}": f"{kbps:g}"}
        _run_command(ext.name, "encode", ext.encode, values)
        _run_command(ext.name, "decode", ext.decode, {"{in}": str(bits), "{out}": str(dst)})
        if not bits.is_file() or not dst.is_file():
            raise ConfigError(
                f"external codec {ext.name}: the commands did not write {bits.name} and {dst.name}"
            )
        decoded, rate = read_audio(dst)
        if decoded.shape[0] != wav.shape[0]:
            raise ConfigError(
                f"external codec {ext.name} returned {decoded.shape[0]} channels for {wav.shape[0]}"
            )
        return resample(decoded, rate, EVAL_RATE), bits.stat().st_size


def _run_command(name: str, label: str, template: tuple[str, ...], values: dict[str, str]) -> None:
    argv = []
    for arg in template:
        for key, value in values.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=EXT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(
            f"external codec {name}: {label} command {argv[0]!r} failed: {exc}"
        ) from None
    if proc.returncode != 0:
        raise ConfigError(
            f"external codec {name}: {label} command exited with {proc.returncode}: "
            f"{' '.join(argv)}\n{proc.stderr[-2000:]}"
        )
