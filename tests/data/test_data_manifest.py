"""Manifests: corpus-manifest parsing, folder scans, seeded file-level splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bandgen.data.manifest import (
    assign_split,
    read_manifest,
    scan_corpus,
    select_hours,
    write_manifest,
)
from bandgen.errors import ConfigError


def test_splits_are_disjoint_seeded_and_proportional() -> None:
    keys = [f"pkg{i % 7}/file_{i}.ogg" for i in range(2000)]
    splits = [assign_split(k, seed=3, valid_fraction=0.1, test_fraction=0.05) for k in keys]
    again = [assign_split(k, seed=3, valid_fraction=0.1, test_fraction=0.05) for k in keys]
    other = [assign_split(k, seed=4, valid_fraction=0.1, test_fraction=0.05) for k in keys]
    assert splits == again
    assert splits != other
    assert 0.07 < splits.count("valid") / len(keys) < 0.13
    assert 0.03 < splits.count("test") / len(keys) < 0.07
    with pytest.raises(ConfigError):
        assign_split("x", seed=0, valid_fraction=0.6, test_fraction=0.5)


def test_corpus_manifest_is_read_and_split_by_source(tmp_path: Path) -> None:
    records = [
        {
            "package": "p",
            "member": f"m{i}.ogg",
            "category": "music",
            "ch": 2,
            "dur": 2.0,
            "status": "ok",
            "out": f"music/p/m{i}.flac",
        }
        for i in range(50)
    ]
    records.append(
        {"package": "p", "member": "bad.ogg", "category": "sound", "status": "skip:bandwidth"}
    )
    (tmp_path / "manifest.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records) + '\n{"truncat'
    )
    entries = scan_corpus(tmp_path, seed=1, valid_fraction=0.3)
    assert len(entries) == 50
    assert all(e.sample_rate == 48_000 and e.channels == 2 for e in entries)
    by_split = {s: {e.key for e in entries if e.split == s} for s in ("train", "valid")}
    assert by_split["train"] and by_split["valid"]
    assert not by_split["train"] & by_split["valid"]
    assert select_hours(entries, 10 / 3600) == select_hours(entries, 10 / 3600)
    assert sum(e.duration_s for e in select_hours(entries, 10 / 3600)) <= 10
    write_manifest(tmp_path / "out.jsonl", entries)
    assert read_manifest(tmp_path / "out.jsonl") == entries


def test_folder_scan_probes_files(tiny_corpus: Path) -> None:
    entries = scan_corpus(tiny_corpus, valid_fraction=0.0)
    assert [e.category for e in entries] == ["music", "sound", "speech"]
    assert all(abs(e.duration_s - 1.5) < 0.01 and e.sample_rate == 48_000 for e in entries)
    with pytest.raises(ConfigError):
        scan_corpus(tiny_corpus / "missing")
