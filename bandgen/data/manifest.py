"""Training manifests: one JSON line per audio file, with a seeded, file-level split.

A manifest lists the files of a corpus folder with what the data pipeline needs to know
before decoding them (duration, sample rate, channels, category) and the split each file
belongs to. Two ways in:

- a folder made by ``shared/data/tools/make_train_corpus.py``: its ``manifest.jsonl`` (one
  line per *source* file, ``status == "ok"`` lines carry ``out``, ``dur``, ``ch``,
  ``category``, ``package``, ``member``) is read as is, no file is opened;
- any other folder: every audio file under it is probed with PyAV; the category is the first
  path component if it is one of :data:`CATEGORIES`, else ``"unknown"``.

Splits are drawn per *source file* from a seeded hash of its key (package + member for the
corpus, the relative path otherwise), so a file is in exactly one split whatever the order of
the scan, and adding files never moves existing ones to another split.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bandgen.audio import WORK_RATE
from bandgen.audio.io import AtomicFile, probe
from bandgen.errors import AudioInputError, ConfigError

__all__ = [
    "CATEGORIES",
    "SPLITS",
    "ManifestEntry",
    "assign_split",
    "read_manifest",
    "scan_corpus",
    "select_hours",
    "write_manifest",
]

CATEGORIES: tuple[str, ...] = ("speech", "music", "sound")
"""Categories recognised from the first folder of a path (``make_train_corpus.py`` layout)."""

SPLITS: tuple[str, ...] = ("train", "valid", "test")
"""Split names, in the order their hash intervals are laid out."""

CORPUS_MANIFEST = "manifest.jsonl"
"""File name of the ``make_train_corpus.py`` manifest at the root of a corpus folder."""

_AUDIO = re.compile(r"\.(flac|wav|ogg|oga|opus|mp3|m4a|aac|aif|aiff)$", re.IGNORECASE)


@dataclass(frozen=True)
class ManifestEntry:
    """One audio file of a corpus.

    Attributes:
        path: file path relative to the corpus root (POSIX separators).
        duration_s: duration in seconds.
        sample_rate: sampling rate of the file in Hz.
        channels: channel count of the file.
        category: ``speech``, ``music``, ``sound`` or ``unknown``.
        key: the source-file key the split is drawn from.
        split: ``train``, ``valid`` or ``test``.
    """

    path: str
    duration_s: float
    sample_rate: int
    channels: int
    category: str
    key: str
    split: str = "train"

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps(asdict(self), sort_keys=True)


def assign_split(key: str, *, seed: int, valid_fraction: float, test_fraction: float) -> str:
    """The split of a source file: a uniform draw from ``sha256(seed, key)``.

    ``[0, valid)`` is ``valid``, ``[valid, valid + test)`` is ``test``, the rest ``train``.
    """
    if valid_fraction < 0 or test_fraction < 0 or valid_fraction + test_fraction >= 1:
        raise ConfigError(
            f"split fractions must be >= 0 and sum below 1; got valid={valid_fraction}, "
            f"test={test_fraction}"
        )
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < valid_fraction:
        return "valid"
    if u < valid_fraction + test_fraction:
        return "test"
    return "train"


def _category_of(rel_path: str) -> str:
    head = rel_path.split("/", 1)[0]
    return head if head in CATEGORIES else "unknown"


def _from_corpus_manifest(root: Path) -> list[ManifestEntry]:
    entries = []
    with open(root / CORPUS_MANIFEST, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # the corpus builder may be writing its last line right now
                continue
            if rec.get("status") != "ok" or "out" not in rec:
                continue
            try:
                entries.append(
                    ManifestEntry(
                        path=str(rec["out"]),
                        duration_s=float(rec["dur"]),
                        sample_rate=WORK_RATE,  # make_train_corpus.py writes 48 kHz FLAC
                        channels=int(rec["ch"]),
                        category=str(rec.get("category") or _category_of(rec["out"])),
                        key=f"{rec['package']}/{rec['member']}",
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(
                    f"{root / CORPUS_MANIFEST}:{line_no}: not a make_train_corpus.py record ({exc})"
                ) from None
    return entries


def _from_folder(root: Path) -> list[ManifestEntry]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not _AUDIO.search(name):
                continue
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            try:
                info = probe(full)
            except AudioInputError:
                continue
            entries.append(
                ManifestEntry(
                    path=rel,
                    duration_s=info.duration_s,
                    sample_rate=info.sample_rate,
                    channels=info.channels,
                    category=_category_of(rel),
                    key=rel,
                )
            )
    return entries


def scan_corpus(
    root: str | os.PathLike[str],
    *,
    seed: int = 0,
    valid_fraction: float = 0.02,
    test_fraction: float = 0.0,
) -> list[ManifestEntry]:
    """List the audio files of a corpus folder with their split, sorted by path.

    Args:
        root: corpus folder; its ``manifest.jsonl`` is used when present (see module doc).
        seed: split seed.
        valid_fraction: share of source files drawn into ``valid``.
        test_fraction: share of source files drawn into ``test``.

    Raises:
        ConfigError: missing folder, or a folder with no audio.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"corpus folder not found: {root}")
    found = _from_corpus_manifest(root) if (root / CORPUS_MANIFEST).exists() else _from_folder(root)
    if not found:
        raise ConfigError(f"no audio files found under {root}")
    entries = [
        replace(
            e,
            split=assign_split(
                e.key, seed=seed, valid_fraction=valid_fraction, test_fraction=test_fraction
            ),
        )
        for e in found
    ]
    return sorted(entries, key=lambda e: e.path)


def select_hours(entries: Sequence[ManifestEntry], max_hours: float | None) -> list[ManifestEntry]:
    """A seeded-hash-ordered subset of at most ``max_hours`` of audio (all if ``None``).

    The order is that of ``sha256(key)``, so a larger budget is a superset of a smaller one
    and every category is sampled in proportion.
    """
    if max_hours is None:
        return list(entries)
    ordered = sorted(entries, key=lambda e: hashlib.sha256(e.key.encode()).hexdigest())
    chosen, total = [], 0.0
    for e in ordered:
        if total + e.duration_s > max_hours * 3600:
            continue
        chosen.append(e)
        total += e.duration_s
    return sorted(chosen, key=lambda e: e.path)


def write_manifest(path: str | os.PathLike[str], entries: Iterable[ManifestEntry]) -> None:
    """Write entries as JSON lines, atomically."""
    with AtomicFile(path) as out, open(out.tmp_path, "w", encoding="utf-8") as f:
        for e in entries:
            f.write(e.to_json() + "\n")


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestEntry]:
    """Read a manifest written by :func:`write_manifest`."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entries.append(ManifestEntry(**json.loads(line)))
    return entries
