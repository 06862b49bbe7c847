"""A packed copy of a core-coded cache: 16-bit PCM ``.npy`` items that numpy alone reads.

The cache (:mod:`bandgen.data.cache`) stores each item as a 24-bit FLAC, which takes
``soundfile`` to read. A packed cache has the same layout and key (``PACK_ROOT/<key>/core.json``,
``index.jsonl``, ``items/...``), so a recipe whose ``data.cache_root`` points at ``PACK_ROOT``
trains from it unchanged, but each item is ``items/<stem>.npy``: int16 ``[T, 2]`` (time-major,
so a segment is one contiguous memory-mapped read), scaled so that the item's peak is int16 full
scale; the index line carries that peak as ``scale``. That keeps the quantisation floor 96 dB
below each item's peak (float16 would put it about 66 dB below every sample, near the level of
a weak high band). 4 bytes per 48 kHz sample pair: a minute of audio is 11.5 MB.

:func:`pack_cache` copies a whole cache or a subset that fits a size limit (items taken in
turn from each category, so a small pack still has speech, music and sound; the last item is
cut to fit), for instance to carry a training set to a machine without the audio libraries
(``scripts/pack_training.py``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bandgen.audio.io import AtomicFile
from bandgen.data.cache import CacheItem, read_index, read_item
from bandgen.errors import ConfigError

__all__ = ["BYTES_PER_SAMPLE", "pack_cache"]

BYTES_PER_SAMPLE = 4
"""Bytes per sample of a packed item (two int16 channels)."""

_NPY_HEADER = 128


def _interleaved(items: list[CacheItem]) -> list[CacheItem]:
    """Items round-robin over their categories (each sorted by path)."""
    groups: dict[str, list[CacheItem]] = {}
    for item in items:
        groups.setdefault(item.entry.category, []).append(item)
    ordered = [sorted(g, key=lambda i: i.path) for _, g in sorted(groups.items())]
    return [g[r] for r in range(max(map(len, ordered), default=0)) for g in ordered if r < len(g)]


def _within(items: list[CacheItem], budget_bytes: float | None) -> list[tuple[CacheItem, int]]:
    """``(item, samples to keep)`` in :func:`_interleaved` order until the budget is spent."""
    chosen = []
    left = budget_bytes
    for item in _interleaved(items):
        keep = item.num_samples
        if left is not None:
            keep = min(keep, int((left - _NPY_HEADER) // BYTES_PER_SAMPLE))
            left -= _NPY_HEADER + max(keep, 0) * BYTES_PER_SAMPLE
        if keep <= 0:
            break
        chosen.append((item, keep))
    return chosen


def _write_item(dst: Path, pair: np.ndarray) -> float:
    """Write float32 ``[2, n]`` as int16 ``[n, 2]`` scaled to its peak; returns the scale."""
    scale = max(float(np.abs(pair).max()) if pair.size else 0.0, 1e-9)
    pcm = np.round(pair.T * (32767 / scale)).astype(np.int16)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(dst) as out, open(out.tmp_path, "wb") as f:
        np.save(f, pcm)
    return scale


def pack_cache(
    cache_dir: str | os.PathLike[str],
    pack_root: str | os.PathLike[str],
    *,
    max_mb: float | None = None,
    valid_share: float = 0.1,
) -> Path:
    """Write a packed copy (module docstring) of a built cache folder.

    Args:
        cache_dir: a cache folder ``CACHE_ROOT/<key>`` (FLAC or packed items).
        pack_root: where the pack goes: ``pack_root/<key>``.
        max_mb: size limit of the items in MB (1e6 bytes), ``None``: all of them.
        valid_share: part of the limit for the ``valid`` split's items (if it has any).

    Returns:
        The packed folder ``pack_root/<key>``.

    Raises:
        ConfigError: the limit leaves no room for a training item, or the cache is empty.
    """
    cache_dir = Path(cache_dir)
    out_dir = Path(pack_root) / cache_dir.name
    items = read_index(cache_dir)
    train = [i for i in items if i.entry.split != "valid"]
    valid = [i for i in items if i.entry.split == "valid"]
    budget = None if max_mb is None else max_mb * 1e6
    valid_budget = None if budget is None else (budget * valid_share if valid else 0.0)
    chosen = _within(valid, valid_budget) if valid else []
    used = sum(_NPY_HEADER + keep * BYTES_PER_SAMPLE for _, keep in chosen)
    train_chosen = _within(train, None if budget is None else budget - used)
    if not train_chosen:
        raise ConfigError(f"{max_mb} MB leave no room for a training item of {cache_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache_dir / "core.json", out_dir / "core.json")
    lines = []
    for item, keep in sorted(train_chosen + chosen, key=lambda c: c[0].path):
        rel = str(Path(item.path).with_suffix(".npy"))
        scale = _write_item(out_dir / rel, read_item(cache_dir, item, 0, keep))
        record = {"entry": asdict(item.entry), "path": rel, "num_samples": keep, "scale": scale}
        lines.append(json.dumps(record, sort_keys=True) + "\n")
    with AtomicFile(out_dir / "index.jsonl") as out:
        out.tmp_path.write_text("".join(lines))
    return out_dir
