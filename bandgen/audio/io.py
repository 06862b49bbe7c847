"""Audio input through PyAV (any format FFmpeg reads) and atomic WAV/FLAC output.

Reading yields float32 ``[C, T]`` at the file's own sampling rate; writing goes to a
temporary file in the destination folder that is renamed into place only when
everything was written, so a failed run never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from bandgen.audio.checks import check_finite
from bandgen.errors import AudioInputError, ConfigError

SILENCE_PEAK = 1e-6
"""Peak amplitude at or below which an input counts as silent-only (about -120 dBFS)."""

_OUTPUT_FORMATS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24")}
_SUBTYPES = {
    ".wav": {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"},
    ".flac": {16: "PCM_16", 24: "PCM_24"},
}
OUTPUT_BITS = {ext[1:]: tuple(bits) for ext, bits in _SUBTYPES.items()}
"""Bit depths per output format: WAV 16/24-bit integer or 32-bit float (the default), FLAC
16 or 24-bit (the default)."""
MAX_OUTPUT_CHANNELS = {".wav": 1024, ".flac": 8}
"""Most channels libsndfile writes per output format."""

TEMP_SUFFIX = ".part"

_LIVE_TEMPS: set[Path] = set()
"""Temporary files of the :class:`AtomicFile` objects still open in this process."""


def discard_live_temporaries() -> None:
    """Remove every temporary file an open :class:`AtomicFile` holds.

    For a process that is about to end without unwinding (the CLI's SIGTERM handler): the
    outputs stay as they were and no ``.part`` file is left behind.
    """
    for tmp in list(_LIVE_TEMPS):
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        _LIVE_TEMPS.discard(tmp)


"""Suffix of the temporary files :class:`AtomicFile` writes beside an output."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, from its container metadata.

    Attributes:
        sample_rate: sampling rate in Hz.
        channels: channel count.
        duration_s: duration in seconds as the container states it (may be 0 if unknown).
        codec: FFmpeg codec name of the audio stream.
    """

    sample_rate: int
    channels: int
    duration_s: float
    codec: str


def _open(path: str | os.PathLike[str]) -> Any:
    import av

    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"input file not found: {p}")
    if p.is_dir():
        raise AudioInputError(f"input is a directory, not an audio file: {p}")
    try:
        container = av.open(str(p))
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc  # FFmpeg's words, not its errno
        raise AudioInputError(f"cannot read {p} as audio: {reason}") from None
    if not container.streams.audio:
        container.close()
        raise AudioInputError(f"{p} has no audio stream")
    return container


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's sampling rate, channel count and duration without decoding it."""
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        rate, channels = int(stream.codec_context.sample_rate), int(stream.codec_context.channels)
        if rate <= 0 or channels <= 0:
            raise AudioInputError(f"cannot read {path} as audio: no decodable audio stream")
        return AudioInfo(
            sample_rate=rate,
            channels=channels,
            duration_s=duration,
            codec=stream.codec_context.name,
        )
    finally:
        container.close()


def _samples(frame: Any, channels: int) -> np.ndarray:
    """A packed float32 frame as ``[C, n]`` (one plane, whatever the channel count)."""
    return np.ascontiguousarray(frame.to_ndarray().reshape(-1, channels).T, dtype=np.float32)


def iter_audio(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Decode a file block by block, any channel count.

    Yields:
        float32 ``[C, n]`` blocks at the file's own sampling rate, in order.

    Raises:
        AudioInputError: missing, unreadable, or undecodable input, or a NaN/Inf sample.
    """
    import av

    container = _open(path)
    done = 0
    try:
        stream = container.streams.audio[0]
        channels = int(stream.codec_context.channels)
        # packed float: one plane whatever the channel count (planar frames of 8 or more
        # channels crash PyAV's to_ndarray)
        resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout)

        def frames() -> Iterator[Any]:
            for frame in container.decode(stream):
                yield from resampler.resample(frame)
            yield from resampler.resample(None)

        try:
            for out in frames():
                block = _samples(out, channels)
                check_finite(block, str(path), done)
                done += block.shape[1]
                yield block
        except av.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise AudioInputError(f"cannot decode {path}: {reason}") from None
    finally:
        container.close()


def check_signal(path: str | os.PathLike[str], num_samples: int, peak: float) -> None:
    """Refuse empty or silent-only input with a clear message."""
    if num_samples == 0:
        raise AudioInputError(f"{path} holds no audio samples (empty input)")
    if peak <= SILENCE_PEAK:
        raise AudioInputError(f"{path} is silent (peak {peak:.2e}); there is nothing to code")


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode a whole file.

    Returns:
        ``(wav, sample_rate)`` with ``wav`` float32 ``[C, T]``.

    Raises:
        AudioInputError: missing, unreadable, empty or silent-only input.
    """
    info = probe(path)
    blocks = list(iter_audio(path))
    wav = np.concatenate(blocks, axis=1) if blocks else np.zeros((info.channels, 0), np.float32)
    check_signal(path, wav.shape[1], float(np.abs(wav).max()) if wav.size else 0.0)
    return wav, info.sample_rate


def output_format(path: str | os.PathLike[str], bits: int | None = None) -> tuple[str, str]:
    """The soundfile ``(format, subtype)`` for an output path, from its extension.

    Args:
        path: a ``.wav`` or ``.flac`` file name.
        bits: bit depth (:data:`OUTPUT_BITS`); default 32-bit float WAV, 24-bit FLAC.

    Raises:
        ConfigError: another extension, or a bit depth the format does not have.
    """
    ext = Path(path).suffix.lower()
    if ext not in _OUTPUT_FORMATS:
        raise ConfigError(f"cannot write {path}: output must end in {' or '.join(_OUTPUT_FORMATS)}")
    fmt, subtype = _OUTPUT_FORMATS[ext]
    if bits is None:
        return fmt, subtype
    if bits not in _SUBTYPES[ext]:
        depths = "/".join(str(b) for b in _SUBTYPES[ext])
        raise ConfigError(f"{ext[1:].upper()} output is {depths}-bit, not {bits}-bit")
    return fmt, _SUBTYPES[ext][bits]


def check_output_channels(path: str | os.PathLike[str], channels: int) -> None:
    """Refuse more channels than the output format holds (FLAC 8, WAV 1024).

    Raises:
        ConfigError: too many channels for the format (the message says what to use).
    """
    output_format(path)
    ext = Path(path).suffix.lower()
    limit = MAX_OUTPUT_CHANNELS[ext]
    if channels > limit:
        others = [e for e, n in MAX_OUTPUT_CHANNELS.items() if n >= channels]
        hint = f"; write {others[0]} instead" if others else ""
        raise ConfigError(
            f"cannot write {path}: {ext[1:].upper()} holds at most {limit} channels, "
            f"the audio has {channels}{hint}"
        )


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _sweep_stale(path: Path) -> None:
    """Remove temporary files of ``path`` left by bandgen runs that died (killed, crashed).

    The temporary name holds the writer's process id: a file whose process is gone is stale.
    """
    prefix = _temp_prefix(path)
    for old in path.parent.glob(f"{glob.escape(prefix)}*{TEMP_SUFFIX}"):
        pid = old.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            old.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Raises:
        ConfigError: the path is a folder, its folder is missing or is a file, or the
            folder is not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"output {p} is a folder; give a file name, e.g. {p / 'out'}")
    parent = p.parent
    if not parent.exists():
        if any(a.exists() and not a.is_dir() for a in parent.parents):
            raise ConfigError(f"cannot write {p}: a part of its folder path is a file")
        raise ConfigError(f"output folder does not exist: {parent}")
    if not parent.is_dir():
        raise ConfigError(f"cannot write {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {p}: no permission to write in the folder {parent}")
    return p


class AtomicFile:
    """A temporary file beside ``path`` that replaces ``path`` only on success.

    Use as a context manager; ``.tmp_path`` is where to write.  On an exception
    (``KeyboardInterrupt`` included) the temporary file is removed and ``path`` is left
    untouched; the CLI's SIGTERM handler removes it through :func:`discard_live_temporaries`.
    Temporary files of runs that were killed are swept first.

    Raises:
        ConfigError: ``path`` cannot be written (see :func:`check_output_path`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_output_path(path)
        _sweep_stale(self.path)
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=f"{_temp_prefix(self.path)}{os.getpid()}.",
                suffix=TEMP_SUFFIX,
                dir=self.path.parent,
            )
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path}: {exc.strerror}") from None
        os.close(fd)
        self.tmp_path = Path(tmp)
        _LIVE_TEMPS.add(self.tmp_path)

    def __enter__(self) -> AtomicFile:
        return self

    def discard(self) -> None:
        """Remove the temporary file (the output is left as it was)."""
        self.tmp_path.unlink(missing_ok=True)
        _LIVE_TEMPS.discard(self.tmp_path)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
            return
        # mkstemp creates 0600; give the result the mode a plain open() would (0666 - umask)
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(self.tmp_path, 0o666 & ~umask)
            os.replace(self.tmp_path, self.path)
            _LIVE_TEMPS.discard(self.tmp_path)
        except OSError as exc:
            self.discard()
            raise ConfigError(f"cannot write {self.path}: {exc.strerror}") from None


class AudioWriter:
    """Streaming WAV/FLAC writer that appears at ``path`` only when closed without error.

    Tracks the output's ``peak`` and the ``clipped`` samples (beyond full scale in some
    channel; an integer format clips them, a float WAV keeps them but players clip).

    Example::

        with AudioWriter("out.wav", 48000, channels=2) as w:
            w.write(block)  # float32 [C, n]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int,
        channels: int,
        *,
        bits: int | None = None,
    ) -> None:
        import soundfile as sf  # lazily: training on a packed cache runs without it

        fmt, subtype = output_format(path, bits)
        check_output_channels(path, channels)
        self._atomic = AtomicFile(path)
        try:
            self._file = sf.SoundFile(
                str(self._atomic.tmp_path),
                "w",
                samplerate=sample_rate,
                channels=channels,
                format=fmt,
                subtype=subtype,
            )
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            self._atomic.discard()
            raise ConfigError(
                f"cannot write {path} ({channels} ch at {sample_rate} Hz): {exc}"
            ) from None
        self.num_samples = 0
        self.peak = 0.0
        self.clipped = 0

    def write(self, wav: np.ndarray) -> None:
        """Append float32 ``[C, n]`` samples."""
        data = np.asarray(wav, dtype=np.float32)
        if data.size:
            magnitude = np.abs(data)
            self.peak = max(self.peak, float(magnitude.max()))
            if self.peak > 1.0:
                self.clipped += int((magnitude > 1.0).any(axis=0).sum())
        self._file.write(np.ascontiguousarray(data.T))
        self.num_samples += wav.shape[-1]

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()
        self._atomic.__exit__(exc_type, exc, tb)


def write_audio(path: str | os.PathLike[str], wav: np.ndarray, sample_rate: int) -> None:
    """Write float32 ``[C, T]`` (or ``[T]``) atomically as WAV (float) or FLAC (24-bit)."""
    data = np.atleast_2d(np.asarray(wav, dtype=np.float32))
    with AudioWriter(path, sample_rate, data.shape[0]) as writer:
        writer.write(data)
