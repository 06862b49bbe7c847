"""The core-coded cache: every training file coded once by the core codec, stored beside its
original.

Coding through AAC on the fly costs more than a CPU training step, so each file is coded
once, ahead of training, at the mode's core bitrate. For a manifest entry ``a/b.flac`` the
cache holds ``CACHE_DIR/<key>/items/a/b.flac``: a **2-channel** 48 kHz FLAC (24 bit) with

- channel 0: the original, mixed down to mono (mean of its channels), at 48 kHz;
- channel 1: that mono signal coded and decoded by the core codec, resampled back to 48 kHz,
  sample-aligned to channel 0 (the core codecs remove their own delay).

Both channels share one gain so that the peak is below full scale (FLAC is integer PCM);
random gain is applied later anyway. n-SBG is a mono model (paper ``000``), hence the mix-down:
one item per file, never a channel pair of a stereo file that could leak across batches.

``<key>`` is a hash of the core codec's :class:`~bandgen.core.CoreParams` and of
:data:`CACHE_VERSION`, so caches of several modes live side by side and a change in the coder
never reuses stale items. ``CACHE_DIR/<key>/core.json`` records the params,
``CACHE_DIR/<key>/index.jsonl`` the items that are done (the manifest entry plus
``num_samples``). Building is resumable (items already on disk are skipped; each is written
atomically) and parallel (``jobs`` worker processes).

A *packed* cache (:mod:`bandgen.data.packed`) has the same layout with ``.npy`` items (16-bit
PCM scaled to each item's peak, the scale in the index); :func:`read_item` reads both kinds, and
only FLAC items need ``soundfile``: training from a packed cache needs neither soundfile nor
PyAV nor soxr.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.io import AtomicFile, read_audio
from bandgen.audio.resample import resample
from bandgen.core import CoreCodec, CoreParams, core_from_params
from bandgen.data.manifest import ManifestEntry
from bandgen.errors import AudioInputError

__all__ = [
    "CACHE_VERSION",
    "CacheItem",
    "build_cache",
    "cache_dir_for",
    "cache_key",
    "code_item",
    "read_index",
    "read_item",
]

CACHE_VERSION = 1
"""Bumped whenever the stored format or the coding procedure changes."""

PEAK = 0.99
"""Items whose peak would exceed this are scaled down (both channels alike)."""


@dataclass(frozen=True)
class CacheItem:
    """One cached file: where it is and what it came from.

    Attributes:
        path: the 2-channel FLAC, relative to the cache folder ``CACHE_DIR/<key>``.
        num_samples: its length at 48 kHz.
        entry: the manifest entry it was made from.
        scale: of a packed (``.npy``, int16) item, the value of int16 full scale.
    """

    path: str
    num_samples: int
    entry: ManifestEntry
    scale: float = 1.0


def cache_key(params: CoreParams) -> str:
    """A 12-hex-digit hash of the core codec params and :data:`CACHE_VERSION`."""
    blob = json.dumps({"version": CACHE_VERSION, "core": asdict(params)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_dir_for(cache_root: str | os.PathLike[str], core: CoreCodec) -> Path:
    """``cache_root/<cache_key(core.params)>``."""
    return Path(cache_root) / cache_key(core.params)


def code_item(wav: np.ndarray, sample_rate: int, core: CoreCodec) -> np.ndarray:
    """Mix down, resample to 48 kHz, and code through the core.

    Args:
        wav: float32 ``[C, T]`` at ``sample_rate``.
        sample_rate: Hz.
        core: the core codec.

    Returns:
        float32 ``[2, T48]``: mono original and core-decoded signal, both at 48 kHz,
        scaled together so that the peak is at most :data:`PEAK`.
    """
    mono = np.asarray(wav, dtype=np.float32).mean(axis=0, keepdims=True)
    mono = resample(mono, sample_rate, WORK_RATE)
    num = mono.shape[1]
    low = resample(mono, WORK_RATE, core.sample_rate)
    decoded = core.decode(core.encode(low), low.shape[1])
    core48 = resample(decoded, core.sample_rate, WORK_RATE)
    if core48.shape[1] < num:
        core48 = np.pad(core48, ((0, 0), (0, num - core48.shape[1])))
    pair = np.concatenate([mono, core48[:, :num]], axis=0)
    peak = float(np.abs(pair).max()) if pair.size else 0.0
    if peak > PEAK:
        pair *= PEAK / peak
    return pair.astype(np.float32, copy=False)


def _item_path(entry: ManifestEntry) -> str:
    stem = entry.path.rsplit(".", 1)[0] if "." in entry.path.rsplit("/", 1)[-1] else entry.path
    return f"items/{stem}.flac"


def _work(args: tuple[str, str, dict[str, object], dict[str, object]]) -> dict[str, object]:
    corpus_root, out_dir, params, entry_dict = args
    entry = ManifestEntry(**entry_dict)  # type: ignore[arg-type]
    rel = _item_path(entry)
    dst = Path(out_dir) / rel
    import soundfile as sf  # lazily: reading a packed cache does not need it

    if dst.exists():
        return {"entry": entry_dict, "path": rel, "num_samples": sf.info(str(dst)).frames}
    core = core_from_params(CoreParams(**params))  # type: ignore[arg-type]
    try:
        wav, sr = read_audio(Path(corpus_root) / entry.path)
    except AudioInputError as exc:
        return {"entry": entry_dict, "error": str(exc)}
    pair = code_item(wav, sr, core)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(dst) as out:
        sf.write(str(out.tmp_path), pair.T, WORK_RATE, format="FLAC", subtype="PCM_24")
    return {"entry": entry_dict, "path": rel, "num_samples": pair.shape[1]}


def build_cache(
    corpus_root: str | os.PathLike[str],
    entries: Sequence[ManifestEntry],
    cache_root: str | os.PathLike[str],
    core: CoreCodec,
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Code every entry once into the cache (skipping items already there) and write the index.

    Args:
        corpus_root: folder the entries' paths are relative to.
        entries: files to code (e.g. from :func:`~bandgen.data.manifest.scan_corpus`).
        cache_root: cache folder; items go to ``cache_root/<cache_key>``.
        core: the core codec of the mode.
        jobs: worker processes (1 = in this process).
        progress: called with 1 after each file.

    Returns:
        The cache folder ``cache_root/<cache_key>`` (pass it to :func:`read_index`).
    """
    out_dir = cache_dir_for(cache_root, core)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"version": CACHE_VERSION, "sample_rate": WORK_RATE, "core": asdict(core.params)}
    with AtomicFile(out_dir / "core.json") as out:
        out.tmp_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    tasks = [
        (str(corpus_root), str(out_dir), asdict(core.params), asdict(e))
        for e in sorted(entries, key=lambda e: e.path)
    ]
    results: list[dict[str, object]] = []
    if jobs <= 1:
        for t in tasks:
            results.append(_work(t))
            if progress:
                progress(1)
    else:
        with get_context("spawn").Pool(jobs) as pool:
            for res in pool.imap_unordered(_work, tasks, chunksize=1):
                results.append(res)
                if progress:
                    progress(1)
    with AtomicFile(out_dir / "index.jsonl") as out, open(out.tmp_path, "w") as f:
        for res in sorted(results, key=lambda r: str(r.get("path", ""))):
            if "error" not in res:
                f.write(json.dumps(res, sort_keys=True) + "\n")
    return out_dir


def read_index(cache_dir: str | os.PathLike[str], split: str | None = None) -> list[CacheItem]:
    """The items of a built cache folder, optionally of one split only, sorted by path."""
    index = Path(cache_dir) / "index.jsonl"
    if not index.exists():
        raise AudioInputError(f"no cache index at {index}; build it with scripts/build_cache.py")
    items = []
    with open(index, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            entry = ManifestEntry(**rec["entry"])
            if split is None or entry.split == split:
                scale = float(rec.get("scale", 1.0))
                items.append(CacheItem(rec["path"], int(rec["num_samples"]), entry, scale))
    return items


def read_item(
    cache_dir: str | os.PathLike[str], item: CacheItem, start: int = 0, stop: int | None = None
) -> np.ndarray:
    """Samples ``[start, stop)`` of a cached item (FLAC, or packed ``.npy``) as float32
    ``[2, n]`` (original, core-decoded); ``n`` is shorter than asked at the item's end."""
    path = Path(cache_dir) / item.path
    if path.suffix == ".npy":
        pcm = np.load(path, mmap_mode="r")[start:stop]  # int16 [T, 2]
        return np.ascontiguousarray(pcm.T, dtype=np.float32) * np.float32(item.scale / 32767)
    import soundfile as sf

    wav, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    return np.ascontiguousarray(wav.T)
