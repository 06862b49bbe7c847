"""Random stereo segments of a 48 kHz corpus, for codecs that code the whole band (SpectroStream).

Unlike the core-coded cache of n-SBG, a full-band codec needs only the original audio: each
item is ``segment_length`` samples at a random offset of a corpus file, both channels kept
(mono files give the pair ``(x, x)``, as the codec codes mono), with a random gain. Files are
drawn in proportion to their duration (so every second of the corpus is equally likely), with
the categories optionally drawn equally often. Everything is seeded by (seed, epoch, index).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bandgen.data.manifest import ManifestEntry
from bandgen.errors import ConfigError

__all__ = ["StereoSegmentDataset", "read_stereo"]


def read_stereo(path: Path, start: int, frames: int) -> np.ndarray:
    """``frames`` samples from ``start`` of a 48 kHz file as ``[2, frames]`` float32.

    Mono is duplicated, more than two channels keep the first two; the end is zero-padded.
    """
    import soundfile as sf  # lazy: not needed to import the package

    data, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    if rate != 48_000:
        raise ConfigError(f"{path}: the corpus must be 48 kHz, got {rate} Hz")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    data = data[:, :2].T
    if data.shape[1] < frames:
        data = np.pad(data, ((0, 0), (0, frames - data.shape[1])))
    return np.ascontiguousarray(data)


class StereoSegmentDataset(Dataset[torch.Tensor]):
    """``length`` random stereo segments per epoch: item ``i`` is ``[2, segment_length]``.

    Args:
        root: corpus folder the entries' paths are relative to.
        entries: the files (one split of :func:`~bandgen.data.manifest.scan_corpus`).
        segment_length: samples per segment.
        length: segments per epoch.
        seed: base seed.
        gain_db: random gain range (dB, uniform) applied to each segment.
        balance_categories: draw each category equally often (then files by duration).
        silence_db: segments quieter than this (RMS, dBFS) are re-drawn (up to 8 times).
    """

    def __init__(
        self,
        root: str | Path,
        entries: Sequence[ManifestEntry],
        *,
        segment_length: int,
        length: int,
        seed: int = 0,
        gain_db: tuple[float, float] = (-12.0, 0.0),
        balance_categories: bool = False,
        silence_db: float = -60.0,
    ) -> None:
        self.root = Path(root)
        self.entries = [e for e in entries if e.duration_s * 48_000 >= segment_length]
        if not self.entries:
            raise ConfigError(f"no corpus file is longer than {segment_length} samples")
        self.segment_length = segment_length
        self.length = length
        self.seed = seed
        self.gain_db = gain_db
        self.silence_db = silence_db
        self.epoch = 0
        weights = np.array([e.duration_s for e in self.entries], dtype=np.float64)
        if balance_categories:
            cats = [e.category for e in self.entries]
            for cat in set(cats):
                mask = np.array([c == cat for c in cats])
                weights[mask] /= weights[mask].sum()
        self.probs = weights / weights.sum()

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws for a new epoch."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for _ in range(8):
            entry = self.entries[int(rng.choice(len(self.entries), p=self.probs))]
            total = int(entry.duration_s * 48_000)
            start = int(rng.integers(0, max(1, total - self.segment_length)))
            audio = read_stereo(self.root / entry.path, start, self.segment_length)
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) + 1e-12)
            if 20 * math.log10(rms) > self.silence_db:
                break
        gain = 10 ** (rng.uniform(*self.gain_db) / 20)
        peak = float(np.abs(audio).max()) + 1e-9
        return torch.from_numpy(audio * min(gain, 0.99 / peak))
