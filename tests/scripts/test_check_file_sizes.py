"""``scripts/check_file_sizes.py`` (run by ``.ci/run``): big files only where they may live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_file_sizes.py"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True
    )


def _sized(path: Path, mb: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(int(mb * 1e6))  # sparse: the size is all that is checked


def test_refuses_big_files_outside_the_allowed_places(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("out/\n")
    _sized(tmp_path / "bandgen/pretrained/model.safetensors", 6)
    _sized(tmp_path / "training/run/resume.safetensors", 6)
    _sized(tmp_path / "out/huge.bin", 6)  # ignored: never committed
    _sized(tmp_path / "small.bin", 4.9)
    _git(tmp_path, "add", "-A")
    assert _check(tmp_path).returncode == 0

    _sized(tmp_path / "training/run/log.jsonl", 5.5)  # untracked, not ignored
    _sized(tmp_path / "data/clip.flac", 7)
    res = _check(tmp_path)
    assert res.returncode == 1
    assert "training/run/log.jsonl is 5.5 MB" in res.stderr and "data/clip.flac" in res.stderr
    assert "pretrained" not in res.stderr.split("limit outside")[0]
