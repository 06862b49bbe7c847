"""The packed cache: int16 ``.npy`` items that numpy alone reads, within a size limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bandgen.data.cache import read_index, read_item
from bandgen.data.dataset import SegmentDataset
from bandgen.data.packed import BYTES_PER_SAMPLE, pack_cache
from bandgen.errors import ConfigError


def test_packed_items_equal_the_cache_to_16_bits(tiny_cache: Path, tmp_path: Path) -> None:
    packed = pack_cache(tiny_cache, tmp_path)
    assert packed == tmp_path / tiny_cache.name
    assert (packed / "core.json").read_text() == (tiny_cache / "core.json").read_text()
    items, originals = read_index(packed), read_index(tiny_cache)
    assert [i.entry for i in items] == [i.entry for i in originals]
    for item, orig in zip(items, originals, strict=True):
        assert item.path.endswith(".npy") and item.num_samples == orig.num_samples
        got, want = read_item(packed, item, 1000, 9000), read_item(tiny_cache, orig, 1000, 9000)
        assert got.dtype == np.float32 and got.shape == want.shape == (2, 8000)
        peak = float(np.abs(read_item(tiny_cache, orig)).max())
        np.testing.assert_allclose(got, want, rtol=0, atol=peak / 32767 * 0.51 + 1e-6)
    a = SegmentDataset(tiny_cache, None, segment_length=8192, seed=3)
    b = SegmentDataset(packed, None, segment_length=8192, seed=3)
    for i in range(4):
        torch.testing.assert_close(b[i].target, a[i].target, rtol=0, atol=1e-4)
        torch.testing.assert_close(b[i].core, a[i].core, rtol=0, atol=1e-4)


def test_pack_keeps_to_its_size_limit_and_every_category(tiny_cache: Path, tmp_path: Path) -> None:
    limit_mb = 0.5  # room for about 1.7 of the three 1.5 s items
    packed = pack_cache(tiny_cache, tmp_path, max_mb=limit_mb)
    size = sum(p.stat().st_size for p in (packed / "items").rglob("*.npy"))
    assert 0.9 * limit_mb * 1e6 < size <= limit_mb * 1e6
    items = read_index(packed)
    assert len(items) == 2 and len({i.entry.category for i in items}) == 2
    assert sum(i.num_samples for i in items) * BYTES_PER_SAMPLE < limit_mb * 1e6
    with pytest.raises(ConfigError, match="no room"):
        pack_cache(tiny_cache, tmp_path / "none", max_mb=0.0001)


def test_valid_split_gets_its_share(tiny_cache: Path, tmp_path: Path) -> None:
    """A cache whose index puts one item in ``valid`` keeps it within ``valid_share``."""
    src = tmp_path / "src" / tiny_cache.name
    src.mkdir(parents=True)
    for name in ("core.json",):
        (src / name).write_text((tiny_cache / name).read_text())
    (src / "items").symlink_to(tiny_cache / "items")
    lines = (tiny_cache / "index.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["entry"]["split"] = "valid"
    (src / "index.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    packed = pack_cache(src, tmp_path / "pack", max_mb=0.5, valid_share=0.2)
    valid = read_index(packed, "valid")
    assert len(valid) == 1 and valid[0].num_samples * BYTES_PER_SAMPLE <= 0.2 * 0.5e6
    assert read_index(packed, "train")


def test_reading_a_packed_cache_needs_no_audio_library(tiny_cache: Path, tmp_path: Path) -> None:
    packed = pack_cache(tiny_cache, tmp_path)
    code = (
        "import sys\n"
        "for m in ('av', 'soundfile', 'soxr'): sys.modules[m] = None\n"
        "from bandgen.data.dataset import SegmentDataset\n"
        f"ds = SegmentDataset({str(packed)!r}, None, segment_length=4096)\n"
        "print(ds[0].target.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "torch.Size([1, 4096])" in res.stdout
