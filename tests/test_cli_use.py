"""Everyday CLI use (issue 16): overwrites, quiet/verbose/JSON, pipes, source rate and bit
depth, folders and several inputs, roundtrip, and a light start-up."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.cli import main
from bandgen.codec import Codec

FAST = ["--hf", "sbr", "--bitrate", "16", "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}


def _tone(path: Path, rate: int = 44_100, channels: int = 2, seconds: float = 0.5, amp=0.3) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    wav = np.stack([amp * np.sin(2 * np.pi * (300 + 200 * c) * t) for c in range(channels)], 1)
    sf.write(str(path), wav.astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return _tone(tmp_path / "in.wav")


# -- overwrite protection -------------------------------------------------------------------------


def test_existing_outputs_are_not_overwritten_without_force(
    tmp_path: Path, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bgn, out = tmp_path / "o.bgn", tmp_path / "o.wav"
    bgn.write_bytes(b"keep")
    assert main(["encode", str(wav), str(bgn), *FAST]) == 2
    assert "exists; pass -f/--force" in capsys.readouterr().err and bgn.read_bytes() == b"keep"
    assert main(["encode", str(wav), str(bgn), *FAST, "-f"]) == 0
    assert bgn.read_bytes()[:4] == b"BGEN"
    out.write_bytes(b"keep")
    for command in (["decode", str(bgn)], ["roundtrip", str(wav), *FAST]):
        capsys.readouterr()
        assert main([*command[:2], str(out), *command[2:], "--no-progress"]) == 2
        assert "exists" in capsys.readouterr().err and out.read_bytes() == b"keep"
    assert main(["decode", str(bgn), str(out), "-y", "--no-progress"]) == 0
    assert sf.info(str(out)).frames > 0


# -- quiet, verbose, JSON -------------------------------------------------------------------------


def test_quiet_verbose_and_json(
    tmp_path: Path, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bgn = tmp_path / "o.bgn"
    assert main(["encode", str(wav), str(bgn), *FAST, "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["encode", str(wav), str(bgn), *FAST, "-f", "-v"]) == 0
    text = capsys.readouterr().out
    assert "kbps per channel (core aac" in text and "real time" in text
    assert main(["encode", str(wav), str(bgn), *FAST, "-f", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["channels"] == 2 and summary["sample_rate"] == 44_100
    assert summary["kbps_per_channel"] > 10 and summary["hf"] == "sbr"
    assert main(["decode", str(bgn), str(tmp_path / "o.wav"), "--json", "--no-progress"]) == 0
    decoded = json.loads(capsys.readouterr().out)
    assert decoded["sample_rate"] == 44_100 and decoded["warnings"] == []


# -- pipes ----------------------------------------------------------------------------------------


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_and_stdout(
    tmp_path: Path,
    wav: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(wav.read_bytes()))
    assert main(["encode", "-", str(tmp_path / "p.bgn"), *FAST]) == 0
    assert Codec.decode((tmp_path / "p.bgn").read_bytes()).shape[0] == 2
    capsysbinary.readouterr()
    assert main(["encode", str(wav), "-", *FAST]) == 0
    out = capsysbinary.readouterr()
    assert out.out == (tmp_path / "p.bgn").read_bytes()  # the same .bgn, on stdout
    assert b"<stdout>" in out.err  # the summary goes to stderr, not into the data
    assert main(["decode", str(tmp_path / "p.bgn"), "-", "--no-progress", "--bits", "16"]) == 0
    audio, rate = sf.read(io.BytesIO(capsysbinary.readouterr().out))
    assert rate == 44_100 and audio.shape == (22_050, 2)
    assert main(["decode", str(tmp_path / "p.bgn"), "-", "--format", "flac", "-q"]) == 0
    assert capsysbinary.readouterr().out[:4] == b"fLaC"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "p.bgn"]


def test_a_real_pipe(tmp_path: Path, wav: Path) -> None:
    """``cat in.wav | bandgen encode - - | bandgen decode - out.wav``"""
    cli = [sys.executable, "-m", "bandgen.cli"]
    enc = subprocess.run(
        [*cli, "encode", "-", "-", *FAST], input=wav.read_bytes(), capture_output=True, env=ENV
    )
    assert enc.returncode == 0 and enc.stdout[:4] == b"BGEN", enc.stderr
    dec = subprocess.run(
        [*cli, "decode", "-", str(tmp_path / "o.wav"), "-q"], input=enc.stdout, env=ENV
    )
    assert dec.returncode == 0 and sf.info(str(tmp_path / "o.wav")).frames == 22_050


# -- output rate, format, bit depth, clipping -----------------------------------------------------


def test_output_at_the_source_rate_and_channels_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _tone(tmp_path / "in.wav", rate=22_050, channels=3)
    bgn = tmp_path / "o.bgn"
    assert main(["encode", str(src), str(bgn), *FAST]) == 0
    assert main(["decode", str(bgn), str(tmp_path / "a.wav"), "--no-progress"]) == 0
    info = sf.info(str(tmp_path / "a.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (22_050, 3, "FLOAT")
    assert abs(info.frames - 11_025) <= 1
    args = ["decode", str(bgn), str(tmp_path / "b.flac"), "--rate", "48000", "--bits", "16"]
    assert main([*args, "--no-progress"]) == 0
    info = sf.info(str(tmp_path / "b.flac"))
    assert (info.samplerate, info.subtype, abs(info.frames - 24_000) <= 1) == (
        48_000,
        "PCM_16",
        True,
    )
    capsys.readouterr()
    assert main([*args[:2], str(tmp_path / "c.flac"), "--bits", "32", "--no-progress"]) == 2
    assert "FLAC output is 16/24-bit" in capsys.readouterr().err
    assert main([*args[:2], str(tmp_path / "c.wav"), "--format", "flac"]) == 2
    assert "--format is flac" in capsys.readouterr().err


def test_clipping_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _tone(tmp_path / "in.wav", channels=1, amp=1.4)
    out = tmp_path / "o.wav"
    assert main(["roundtrip", str(src), str(out), *FAST, "--bits", "16"]) == 0
    err = capsys.readouterr().err
    assert "went beyond full scale" in err and "clipped in the output" in err
    assert main(["roundtrip", str(src), str(out), *FAST, "-f"]) == 0
    assert "kept in the float WAV" in capsys.readouterr().err
    assert np.abs(sf.read(str(out))[0]).max() > 1.0
    assert main(["roundtrip", str(src), str(out), *FAST, "-f", "-q"]) == 0
    assert capsys.readouterr().err == ""


# -- folders and several inputs -------------------------------------------------------------------


def test_a_folder_with_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _tone(tmp_path / "in" / "a.wav")
    _tone(tmp_path / "in" / "sub" / "b.wav", rate=48_000, channels=1)
    (tmp_path / "in" / "bad.flac").write_bytes(b"not audio")
    (tmp_path / "in" / "notes.txt").write_text("skipped")
    args = ["encode", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "3 files: 2 done, 1 failed" in out and "bad.flac" in out
    assert "bad.flac: cannot read" in err
    coded = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.bgn")
    )
    assert coded == ["a.bgn", "sub/b.bgn"]
    dec = ["decode", str(tmp_path / "out"), "-o", str(tmp_path / "dec"), "--no-progress"]
    assert main([*dec, "--format", "flac", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["done"] == 2 and summary["errors"] == 0
    assert {Path(f["output"]).name for f in summary["files"]} == {"a.flac", "b.flac"}
    assert main([*dec, "--format", "flac"]) == 1  # both exist now
    assert capsys.readouterr().err.count("exists") == 2


def test_several_inputs_and_argument_errors(
    tmp_path: Path, wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _tone(tmp_path / "other.wav", channels=1)
    out = tmp_path / "coded"
    assert main(["encode", str(wav), str(other), "--output", str(out), *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["in.bgn", "other.bgn"]
    assert main(["encode", str(wav), str(other), str(tmp_path / "x.bgn"), *FAST]) == 2
    assert "--output FOLDER" in capsys.readouterr().err
    assert main(["encode", "-", str(wav), "--output", str(out), *FAST]) == 2
    assert "stdin" in capsys.readouterr().err


# -- roundtrip ------------------------------------------------------------------------------------


def test_roundtrip(tmp_path: Path, wav: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rt.wav"
    assert main(["roundtrip", str(wav), str(out), *FAST]) == 0
    assert "coded at" in capsys.readouterr().out
    decoded, rate = sf.read(str(out))
    reference, _ = sf.read(str(wav))
    assert rate == 44_100 and decoded.shape == reference.shape
    snr = 10 * np.log10(np.sum(reference**2) / np.sum((reference - decoded) ** 2))
    assert snr > 5  # a 300/500 Hz tone survives the 16 kbps codec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "rt.wav"]


# -- start-up and help ----------------------------------------------------------------------------

_PROBE = """
import sys
from bandgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted(m for m in ("numpy", "torch", "av", "soundfile", "scipy") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["encode", "--help"], ["info"]])
def test_light_commands_import_nothing_heavy(tmp_path: Path, wav: Path, argv: list[str]) -> None:
    """``--help``, ``--version`` and ``info`` took 1.4 s importing torch, PyAV and numpy."""
    if argv == ["info"]:
        assert main(["encode", str(wav), str(tmp_path / "o.bgn"), *FAST, "-q"]) == 0
        argv = ["info", str(tmp_path / "o.bgn")]
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=ENV
    )
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout + run.stderr


def test_help_is_written_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "examples:" in top and "bandgen decode out.bgn - | aplay" in top
    assert "paper" not in top and "argparse" not in top
    for command in ("encode", "decode", "roundtrip", "restore"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "paper" not in text and ("examples:" in text or "example:" in text)
        assert "(default" in text and "--force" in text and "--json" in text


def test_header_core_names_are_the_cores() -> None:
    from bandgen import core, header

    assert header.CORE_NAMES == core.CORE_NAMES
