"""``scripts/gpu_train.sh``: pack a recipe's cache subset and the code, train from the pack
with no PyAV/soundfile/soxr (a CPU dry run of the debug recipe), bring back small files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from bandgen.core import make_core
from bandgen.data.cache import build_cache
from bandgen.data.manifest import scan_corpus
from bandgen.train.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_train.sh"
PACKER = REPO / "scripts" / "pack_training.py"


@pytest.fixture(scope="module")
def debug_cache(
    tmp_path_factory: pytest.TempPathFactory, synth_clip: Callable[..., np.ndarray]
) -> Path:
    """The debug recipe's core-coded cache of two 2 s synthetic clips (cache root)."""
    root = tmp_path_factory.mktemp("gpu_pack")
    corpus = root / "corpus"
    for rel, kind in (("music/a.flac", "music"), ("speech/b.flac", "speech")):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(corpus / rel), synth_clip(kind, seconds=2.0, seed=4).T, 48_000)
    data = load_recipe(REPO / "recipes" / "debug.yaml").data
    build_cache(
        corpus,
        scan_corpus(corpus, valid_fraction=0.0),
        root / "cache",
        make_core(data.core, data.core_kbps),
    )
    return root / "cache"


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "BANDGEN_PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=900
    )


def test_pack_then_cpu_dry_run_without_audio_libraries(debug_cache: Path, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    res = _run("pack", "recipes/debug.yaml", str(pack), "--cache-root", str(debug_cache),
               "--data-mb", "1", "--num-workers", "0", env={"PYTHONPATH": str(REPO)})  # fmt: skip
    assert res.returncode == 0, res.stderr
    files = [p for p in pack.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 55e6
    assert not any(p.suffix in (".flac", ".safetensors") for p in files)
    assert any(p.suffix == ".npy" for p in (pack / "cache").rglob("*"))

    blocked = tmp_path / "blocked"  # stand-ins that fail to import, as on the GPU machine
    blocked.mkdir()
    for name in ("av", "soundfile", "soxr"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    out = tmp_path / "out"
    res = _run("train", str(pack), "1", str(out), "--resume-half",
               env={"PYTHONPATH": str(blocked), "BANDGEN_DEVICE": "cpu"}, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    brought = sorted(p.name for p in out.iterdir())
    assert {"log.jsonl", "resume.safetensors", "resume.json", "train.log"} <= set(brought)
    assert len(brought) <= 8 and all(p.stat().st_size <= 16e6 for p in out.iterdir())
    with safe_open(str(out / "resume.safetensors"), "pt") as f:
        assert any(f.get_tensor(k).dtype == torch.float16 for k in f.keys())  # noqa: SIM118


def _packer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PACKER), *args], capture_output=True, text=True)


def test_shard_and_join_round_trip(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    tensors = {f"t{i}": torch.randn(10_000) for i in range(6)}  # 40 kB each
    save_file(tensors, str(run / "resume.safetensors"), metadata={"bandgen": '{"step": 3}'})
    (run / "log.jsonl").write_text("{}\n")

    assert _packer("shard", str(run), str(tmp_path / "whole"), "--max-file-mb", "1").returncode == 0
    assert sorted(p.name for p in (tmp_path / "whole").iterdir()) == [
        "log.jsonl",
        "resume.safetensors",
    ]

    parts = tmp_path / "parts"
    res = _packer("shard", str(run), str(parts), "--max-file-mb", "0.1")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in parts.glob("*.safetensors"))
    assert names == [f"resume.part-{k}-of-3.safetensors" for k in (1, 2, 3)]
    assert all(p.stat().st_size <= 100_000 for p in parts.iterdir())
    assert _packer("join", str(parts)).returncode == 0
    joined = load_file(str(parts / "resume.safetensors"))
    assert joined.keys() == tensors.keys() and all(
        torch.equal(joined[k], tensors[k]) for k in tensors
    )
    with safe_open(str(parts / "resume.safetensors"), "pt") as f:
        assert f.metadata() == {"bandgen": '{"step": 3}'}

    res = _packer(
        "shard", str(run), str(tmp_path / "x"), "--max-file-mb", "0.1", "--max-files", "2"
    )
    assert res.returncode != 0 and "4 files to bring back, over 2" in res.stderr
