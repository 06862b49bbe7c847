"""The command line: encode, info, decode, errors, and no output left on failure."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.cli import main


@pytest.fixture
def clip(tmp_path: Path, synth_clip: Callable[..., np.ndarray]) -> Path:
    path = tmp_path / "speech.flac"
    sf.write(str(path), synth_clip("speech", seconds=3.0).T, 48_000, subtype="PCM_24")
    return path


def test_encode_info_decode(tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bgn, wav = tmp_path / "s.bgn", tmp_path / "s.wav"
    assert main(["encode", str(clip), str(bgn), "--bitrate", "12", "--no-progress"]) == 0
    assert "kbps per channel" in capsys.readouterr().out
    assert main(["info", str(bgn)]) == 0
    text = capsys.readouterr().out
    assert "core:        aac" in text and "measured:" in text
    assert main(["decode", str(bgn), str(wav), "--no-progress"]) == 0
    out, sr = sf.read(str(wav))
    assert sr == 48000 and out.shape[0] == 3 * 48000


def test_corrupt_file_error_and_no_output(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bgn = tmp_path / "s.bgn"
    assert main(["encode", str(clip), str(bgn), "--no-progress"]) == 0
    data = bytearray(bgn.read_bytes())
    data[-40] ^= 0x5A
    bad = tmp_path / "bad.bgn"
    bad.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["decode", str(bad), str(tmp_path / "o.wav"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and "frame" in err and "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bgn", "s.bgn", "speech.flac"]
    garbage = tmp_path / "garbage.bgn"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    assert main(["info", str(garbage)]) == 2
    assert "not a bandgen" in capsys.readouterr().err.lower()


def test_missing_input_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", str(tmp_path / "none.wav"), str(tmp_path / "x.bgn")]) == 2
    assert "not found" in capsys.readouterr().err


def test_installed_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bandgen.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("bandgen ")
