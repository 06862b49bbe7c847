"""The core-coded cache and the segment dataset."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bandgen.core import make_core
from bandgen.data.cache import build_cache, read_index
from bandgen.data.dataset import SegmentDataset
from bandgen.data.manifest import scan_corpus


def test_cache_holds_aligned_pairs_and_resumes(tiny_corpus: Path, tiny_cache: Path) -> None:
    items = read_index(tiny_cache)
    assert len(items) == 3
    for item in items:
        wav, sr = sf.read(str(tiny_cache / item.path), dtype="float32", always_2d=True)
        assert sr == 48_000 and wav.shape == (item.num_samples, 2) and item.num_samples == 72_000
    music = next(i for i in items if i.entry.category == "music")
    wav, _ = sf.read(str(tiny_cache / music.path), dtype="float32")
    orig, core = torch.from_numpy(wav.T.copy())
    # the core keeps the low band, aligned: strong correlation at lag 0
    corr = float((orig * core).sum() / (orig.norm() * core.norm()))
    assert corr > 0.8
    stamp = os.path.getmtime(tiny_cache / music.path)
    entries = scan_corpus(tiny_corpus, valid_fraction=0.0)
    again = build_cache(tiny_corpus, entries, tiny_cache.parent, make_core("aac", 9.4))
    assert again == tiny_cache
    assert os.path.getmtime(tiny_cache / music.path) == stamp


def test_dataset_is_seeded_and_skips_silence(tiny_cache: Path) -> None:
    make = lambda seed: SegmentDataset(tiny_cache, None, segment_length=8192, seed=seed)  # noqa: E731
    a, b, c = make(0), make(0), make(1)
    assert len(a) == 3 * 72_000 // 8192
    for i in range(len(a)):
        sa, sb = a[i], b[i]
        assert sa.target.shape == sa.core.shape == (1, 8192)
        assert torch.equal(sa.target, sb.target) and torch.equal(sa.core, sb.core)
        rms_db = 10 * np.log10(float(sa.target.pow(2).mean()) + 1e-12)
        assert rms_db > -60 - 10  # threshold before the random gain (<= 10 dB)
    assert any(not torch.equal(a[i].target, c[i].target) for i in range(len(a)))
    a.set_epoch(1)
    assert any(not torch.equal(a[i].target, b[i].target) for i in range(len(a)))


def test_balance_categories_evens_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 h of music and 1 h of speech: drawn 10:1 by default, 1:1 when balanced."""
    from bandgen.data import dataset as dataset_module
    from bandgen.data.cache import CacheItem
    from bandgen.data.manifest import ManifestEntry

    def item(cat: str, i: int, hours: float) -> CacheItem:
        entry = ManifestEntry(f"{cat}/{i}.flac", hours * 3600, 48_000, 1, cat, f"{cat}{i}")
        return CacheItem(f"{cat}{i}.flac", int(hours * 3600 * 48_000), entry)

    items = [item("music", i, 5.0) for i in range(2)] + [item("speech", i, 0.25) for i in range(4)]
    monkeypatch.setattr(dataset_module, "read_index", lambda *_: items)
    plain = SegmentDataset("unused", None)
    balanced = SegmentDataset("unused", None, balance_categories=True)
    assert plain._weights[:2].sum() == pytest.approx(10 / 11)
    assert balanced._weights[:2].sum() == pytest.approx(0.5)
    assert balanced._weights[2:] == pytest.approx([0.125] * 4)
