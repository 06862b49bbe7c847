"""Any channel count in, NaN refused, and clean errors (no temporary file left) on bad outputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.audio.io import (
    AtomicFile,
    AudioWriter,
    discard_live_temporaries,
    iter_audio,
    read_audio,
    write_audio,
)
from bandgen.errors import AudioInputError, ConfigError


def _noise(channels: int, samples: int = 9000, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((channels, samples))).astype(
        np.float32
    )


@pytest.mark.parametrize(("channels", "ext"), [(8, "flac"), (9, "wav"), (16, "wav")])
def test_any_channel_count_reads_exactly(tmp_path: Path, channels: int, ext: str) -> None:
    """8+ channels crashed PyAV's planar conversion (SIGSEGV)."""
    path = tmp_path / f"multi.{ext}"
    wav = _noise(channels)
    sf.write(str(path), wav.T, 48000, subtype="FLOAT" if ext == "wav" else "PCM_24")
    ref, _ = sf.read(str(path), dtype="float32", always_2d=True)
    got, rate = read_audio(path)
    assert rate == 48000 and got.shape == (channels, 9000)
    np.testing.assert_array_equal(got, ref.T)


def test_non_finite_input_is_refused(tmp_path: Path) -> None:
    wav = _noise(2)
    wav[1, 5000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), wav.T, 48000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match=r"non-finite sample .* at sample 5000 of channel 1"):
        list(iter_audio(path))


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_output_path_errors_leave_nothing(tmp_path: Path) -> None:
    wav = _noise(1, 100)
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        write_audio(tmp_path / "dir.wav", wav, 48000)
    with pytest.raises(ConfigError, match="does not exist"):
        write_audio(tmp_path / "missing" / "o.wav", wav, 48000)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        write_audio(tmp_path / "file" / "o.wav", wav, 48000)
    with pytest.raises(ConfigError, match="is a file"):
        write_audio(tmp_path / "file" / "deeper" / "o.wav", wav, 48000)
    with pytest.raises(ConfigError, match=r"FLAC holds at most 8 channels.*9.*wav instead"):
        write_audio(tmp_path / "o.flac", _noise(9, 100), 48000)
    assert _left(tmp_path) == ["dir.wav", "file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="no permission"):
            write_audio(folder / "o.wav", _noise(1, 100), 48000)
    finally:
        folder.chmod(0o755)
    assert _left(folder) == []


def test_writer_open_failure_removes_its_temp(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        AudioWriter(tmp_path / "o.wav", 0, 1)  # libsndfile refuses a 0 Hz rate
    assert _left(tmp_path) == []


def test_stale_temp_files_of_dead_runs_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / ".o.wav.999999999.abcd.part"  # no such process id
    alive = tmp_path / f".o.wav.{os.getppid()}.efgh.part"  # a live process: kept
    other = tmp_path / ".p.wav.999999999.abcd.part"  # another output's: kept
    for p in (dead, alive, other):
        p.write_bytes(b"x")
    with AtomicFile(tmp_path / "o.wav") as target:
        assert target.tmp_path.name.startswith(f".o.wav.{os.getpid()}.")
        target.tmp_path.write_bytes(b"y")
    assert _left(tmp_path) == sorted([alive.name, other.name, "o.wav"])


def test_live_temporaries_are_discarded_without_unwinding(tmp_path: Path) -> None:
    """What the CLI's SIGTERM handler does before it exits: open outputs' temporaries go,
    finished outputs and the ones never started stay."""
    with AtomicFile(tmp_path / "done.wav") as done:
        done.tmp_path.write_bytes(b"d")
    open_file = AtomicFile(tmp_path / "o.wav")
    open_file.tmp_path.write_bytes(b"x")
    (tmp_path / "o.wav").write_bytes(b"old")
    discard_live_temporaries()
    assert _left(tmp_path) == ["done.wav", "o.wav"]
    assert (tmp_path / "o.wav").read_bytes() == b"old"
    discard_live_temporaries()  # nothing left to remove: no error
