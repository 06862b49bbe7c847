"""Aligned ``(original, core-decoded)`` training segments from a core-coded cache.

Item ``i`` of epoch ``e`` is drawn from ``numpy.random.default_rng([seed, e, i])``: a file
(chosen with probability proportional to its length), an offset in it, and a gain in
``gain_db``; the same gain scales both signals. Segments whose original is below
``silence_db`` RMS are redrawn (up to ``max_tries`` times, then the loudest draw is kept).
So an item depends only on ``(seed, epoch, index)``: any worker, any process, any resume
gives the same batch, and :meth:`SegmentDataset.set_epoch` changes all draws.

The gain is applied after coding (coding is done once, in the cache); AAC is close to
scale-invariant over the +-10 dB used here, which is what makes the cache possible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bandgen.data.cache import CacheItem, read_index, read_item
from bandgen.errors import ConfigError

__all__ = ["Segment", "SegmentDataset"]


@dataclass
class Segment:
    """One training example.

    Attributes:
        target: the original ``[1, T]`` (48 kHz, float32).
        core: the core-decoded signal ``[1, T]``, sample-aligned to ``target``.
    """

    target: torch.Tensor
    core: torch.Tensor


def collate_segments(batch: list[Segment]) -> Segment:
    """Stack segments into ``[B, 1, T]`` tensors."""
    return Segment(
        target=torch.stack([s.target for s in batch]), core=torch.stack([s.core for s in batch])
    )


class SegmentDataset(Dataset[Segment]):
    """Seeded random excerpts of a core-coded cache (see module docstring).

    Args:
        cache_dir: a cache folder made by :func:`bandgen.data.cache.build_cache`.
        split: ``train``, ``valid``, ``test``, or ``None`` for all items.
        segment_length: samples per segment (45056 = 0.94 s at 48 kHz, HP §1.5).
        seed: seed of all draws.
        gain_db: ``(low, high)`` uniform random gain in dB (both signals alike).
        silence_db: RMS threshold (dBFS) below which a segment is redrawn.
        max_tries: draws per item before the loudest one is kept.
        length: items per epoch; default ``total samples // segment_length`` (at least 1).
        balance_categories: draw each category (speech, music, sound, ...) equally often
            instead of in proportion to its hours (a corpus of 12 h of music and 0.5 h of
            speech would otherwise barely train on speech).

    Shape:
        ``dataset[i] -> Segment(target [1, segment_length], core [1, segment_length])``.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        split: str | None = "train",
        *,
        segment_length: int = 45_056,
        seed: int = 0,
        gain_db: tuple[float, float] = (-10.0, 0.0),
        silence_db: float = -60.0,
        max_tries: int = 10,
        length: int | None = None,
        balance_categories: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.items: list[CacheItem] = read_index(cache_dir, split)
        if not self.items:
            raise ConfigError(f"cache {cache_dir} has no items in split {split!r}")
        self.segment_length = segment_length
        self.seed = seed
        self.gain_db = gain_db
        self.silence_db = silence_db
        self.max_tries = max_tries
        self.epoch = 0
        sizes = np.array([max(it.num_samples, 1) for it in self.items], dtype=np.float64)
        self._weights = sizes / sizes.sum()
        if balance_categories:
            # each category gets the same share of draws, files within it by length
            cats = np.array([it.entry.category for it in self.items])
            for cat in np.unique(cats):
                mask = cats == cat
                self._weights[mask] = sizes[mask] / sizes[mask].sum()
            self._weights /= self._weights.sum()
        self._length = length or max(1, int(sizes.sum()) // segment_length)

    def __len__(self) -> int:
        return self._length

    def set_epoch(self, epoch: int) -> None:
        """Select the draws of epoch ``epoch``."""
        self.epoch = epoch

    def _read(self, item: CacheItem, offset: int) -> np.ndarray:
        pair = read_item(self.cache_dir, item, offset, offset + self.segment_length)  # [2, n]
        if pair.shape[1] < self.segment_length:
            pair = np.pad(pair, ((0, 0), (0, self.segment_length - pair.shape[1])))
        return pair

    def __getitem__(self, index: int | tuple[int, int]) -> Segment:
        """Item ``index`` of the current epoch, or of epoch ``e`` for ``index = (e, i)``."""
        epoch, index = index if isinstance(index, tuple) else (self.epoch, index)
        rng = np.random.default_rng([self.seed, epoch, index])
        best: np.ndarray | None = None
        best_rms = -np.inf
        for _ in range(self.max_tries):
            item = self.items[int(rng.choice(len(self.items), p=self._weights))]
            offset = int(rng.integers(0, max(1, item.num_samples - self.segment_length + 1)))
            pair = self._read(item, offset)
            rms_db = 10 * np.log10(float(np.mean(pair[0] ** 2)) + 1e-12)
            if rms_db > best_rms:
                best, best_rms = pair, rms_db
            if rms_db >= self.silence_db:
                break
        assert best is not None
        gain = 10 ** (rng.uniform(*self.gain_db) / 20)
        best = best * np.float32(gain)
        return Segment(target=torch.from_numpy(best[0:1]), core=torch.from_numpy(best[1:2]))
