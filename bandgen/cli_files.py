"""Which files a CLI command reads and writes: pipes, folders, several inputs, overwrites.

``bandgen encode a.wav out.bgn``, ``bandgen encode - out.bgn`` (stdin),
``bandgen decode in.bgn -`` (stdout), ``bandgen encode music/ --output coded/`` (a folder,
its subfolders mirrored) and ``bandgen encode a.wav b.flac --output coded/`` all become a
list of :class:`Job` (input, output) pairs. Nothing here imports numpy, torch or PyAV.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bandgen.errors import ConfigError

STDIO = "-"
"""The file name that stands for stdin (as input) or stdout (as output)."""

AUDIO_SUFFIXES = (
    ".wav",
    ".flac",
    ".mp3",
    ".m4a",
    ".aac",
    ".ogg",
    ".oga",
    ".opus",
    ".aif",
    ".aiff",
    ".wma",
    ".mka",
    ".webm",
)
"""Extensions taken as audio when a folder is given as input."""


@dataclass(frozen=True)
class Job:
    """One input file and the output it becomes (either may be :data:`STDIO`)."""

    src: str
    dst: str


def _is_folder_target(output: str, many: bool, named: bool) -> bool:
    """Whether the output is a folder: several inputs or a folder input, or ``--output``
    naming a folder (an existing one, or a name ending in ``/``)."""
    return many or (named and (output.endswith(("/", os.sep)) or Path(output).is_dir()))


def _find(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    ]
    return sorted(found)


def plan_jobs(
    inputs: Sequence[str], output: str | None, *, suffix: str, input_suffixes: Sequence[str]
) -> list[Job]:
    """The (input, output) pairs of a command.

    Args:
        inputs: the positional arguments; without ``output``, exactly ``[input, output]``.
        output: ``--output``: a file (one input) or a folder (several inputs, or a folder
            input, or a name ending in ``/``).
        suffix: extension of the outputs made in a folder (``.bgn``, ``.wav``, ...).
        input_suffixes: extensions taken from a folder input.

    Raises:
        ConfigError: the arguments do not name inputs and an output, stdin is mixed with
            other inputs, or a folder holds no input files.
    """
    named = output is not None
    if output is None:
        if len(inputs) != 2:
            raise ConfigError(
                "give an input and an output (IN OUT), or inputs and --output FOLDER "
                f"(got {len(inputs)} file name{'s' if len(inputs) != 1 else ''})"
            )
        inputs, output = inputs[:1], inputs[1]
    if STDIO in inputs and len(inputs) > 1:
        raise ConfigError("'-' (stdin) can only be the only input")
    many = len(inputs) > 1 or any(Path(i).is_dir() for i in inputs if i != STDIO)
    if not _is_folder_target(output, many, named):
        return [Job(inputs[0], output)]
    if output == STDIO:
        raise ConfigError("several inputs cannot all go to '-' (stdout); give --output FOLDER")
    out_dir = Path(output)
    jobs = []
    for name in inputs:
        if name == STDIO:
            raise ConfigError("'-' (stdin) needs an output file name, not a folder")
        src = Path(name)
        if src.is_dir():
            files = _find(src, input_suffixes)
            if not files:
                raise ConfigError(f"no input files ({', '.join(input_suffixes)}) in {src}")
            jobs += [
                Job(str(f), str((out_dir / f.relative_to(src)).with_suffix(suffix))) for f in files
            ]
        else:
            jobs.append(Job(name, str(out_dir / (src.stem + suffix))))
    dsts = [j.dst for j in jobs]
    clash = sorted({d for d in dsts if dsts.count(d) > 1})
    if clash:
        raise ConfigError(f"several inputs would be written to {clash[0]}; rename one of them")
    return jobs


def check_overwrite(job: Job, *, force: bool) -> None:
    """Refuse to replace an existing output unless ``force`` (``-f``/``-y``).

    Raises:
        ConfigError: ``job.dst`` exists and ``force`` is false.
    """
    if force or job.dst == STDIO:
        return
    if os.path.lexists(job.dst) and not Path(job.dst).is_dir():
        raise ConfigError(f"{job.dst} exists; pass -f/--force (or -y) to overwrite it")


def make_parent(dst: str) -> None:
    """Create the folder of an output inside a ``--output`` folder tree."""
    if dst != STDIO:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def local_paths(job: Job, *, output_suffix: str) -> Iterator[tuple[str, str]]:
    """Real file paths for a job whose input is stdin or whose output is stdout.

    stdin is read whole into a temporary file first (formats such as MP4 need to seek);
    an output to stdout is written to a temporary ``stdout<output_suffix>`` file and copied
    to stdout once complete. Temporary files are removed in any case.
    """
    if job.src != STDIO and job.dst != STDIO:
        yield job.src, job.dst
        return
    with tempfile.TemporaryDirectory(prefix="bandgen-") as tmp:
        src, dst = job.src, job.dst
        if src == STDIO:
            src = os.path.join(tmp, "stdin")
            with open(src, "wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
            if os.path.getsize(src) == 0:
                raise ConfigError("nothing was read from stdin ('-')")
        if dst == STDIO:
            dst = os.path.join(tmp, f"stdout{output_suffix}")
        yield src, dst
        if job.dst == STDIO:
            copy_to(dst, sys.stdout.buffer)


def copy_to(path: str, out: BinaryIO) -> None:
    """Copy a finished output file to ``out`` (stdout) and flush it."""
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    out.flush()


def label(name: str, *, output: bool) -> str:
    """How a file is named in messages (``-`` is ``<stdout>`` or ``<stdin>``)."""
    if name != STDIO:
        return name
    return "<stdout>" if output else "<stdin>"
