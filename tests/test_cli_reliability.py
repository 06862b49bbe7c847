"""The CLI on bad paths, signals and closed pipes: clean messages, no temporary files left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bandgen.cli import main


def _write(path: Path, channels: int = 1, seconds: float = 0.2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    wav = (0.1 * rng.standard_normal((int(seconds * 48000), channels))).astype(np.float32)
    sf.write(str(path), wav, 48000, subtype="FLOAT")
    return path


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and "Traceback" not in err, err
    return err


def test_encode_refuses_a_non_bgn_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.wav")
    assert main(["encode", str(src), str(tmp_path / "out.wav"), "--hf", "none"]) == 2
    assert "out.bgn" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_output_path_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "in.wav")
    (tmp_path / "d.bgn").mkdir()
    assert main(["encode", str(src), str(tmp_path / "d.bgn"), "--hf", "none"]) == 2
    assert "is a folder" in _error(capsys)
    assert main(["encode", str(src), str(src / "x.bgn"), "--hf", "none"]) == 2
    assert "not a folder" in _error(capsys)
    bgn = tmp_path / "ok.bgn"
    assert main(["encode", str(src), str(bgn), "--hf", "none", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["decode", str(bgn), str(tmp_path / "nope" / "o.wav")]) == 2
    assert "does not exist" in _error(capsys)
    nine = _write(tmp_path / "nine.wav", channels=9)
    assert main(["encode", str(nine), str(tmp_path / "nine.bgn"), "--hf", "none"]) == 0
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "nine.bgn"), str(tmp_path / "nine.flac")]) == 2
    assert "at most 8 channels" in _error(capsys)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_non_finite_input_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = np.zeros((4800, 1), np.float32)
    wav[10] = np.inf
    sf.write(str(tmp_path / "inf.wav"), wav, 48000, subtype="FLOAT")
    args = ["encode", str(tmp_path / "inf.wav"), str(tmp_path / "o.bgn"), "--core", "mp3"]
    assert main(args) == 2
    assert "non-finite" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inf.wav"]


def test_threads_option_caps_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, ""))  # restored after the test
    src = _write(tmp_path / "in.wav")
    before = torch.get_num_threads()
    try:
        args = ["encode", str(src), str(tmp_path / "o.bgn"), "--hf", "none", "--threads", "1"]
        assert main([*args, "--no-progress"]) == 0
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit):
        main(["encode", str(src), str(tmp_path / "o.bgn"), "--threads", "0"])


def test_sigterm_removes_the_temporary_output(tmp_path: Path) -> None:
    """Only SIGINT cleaned up; ``timeout``/``kill`` left hidden ``.part`` files."""
    src = _write(tmp_path / "long.wav", channels=2, seconds=120)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bandgen.cli", "encode", str(src), str(tmp_path / "o.bgn")],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("*.part")):
        assert proc.poll() is None and time.monotonic() < deadline, "encode ended too early"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]


def test_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.wav")
    assert main(["encode", str(src), str(tmp_path / "o.bgn"), "--hf", "none", "--no-progress"]) == 0
    cmd = [sys.executable, "-m", "bandgen.cli", "info", str(tmp_path / "o.bgn"), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head -0` does
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
