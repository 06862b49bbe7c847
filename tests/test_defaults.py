"""The default mode per bitrate (bandgen.defaults) and how a codec, the API and the CLI use it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.defaults import (
    DEFAULT_MODES,
    NSBG_FROM_KBPS,
    OPUS_FROM_KBPS,
    default_mode,
    resolve_mode,
)


@pytest.mark.parametrize(
    ("kbps", "mode"),
    [
        (8.0, ("opus", "none")),
        (NSBG_FROM_KBPS - 0.05, ("opus", "none")),
        (NSBG_FROM_KBPS, ("aac", "nsbg")),
        (12.0, ("aac", "nsbg")),
        (OPUS_FROM_KBPS - 0.05, ("aac", "nsbg")),
        (OPUS_FROM_KBPS, ("opus", "none")),
        (16.0, ("opus", "none")),
        (24.0, ("opus", "none")),
        (64.0, ("opus", "none")),
    ],
)
def test_default_mode_per_rate(kbps: float, mode: tuple[str, str]) -> None:
    row = default_mode(kbps)
    assert (row.core, row.hf) == mode


def test_rows_rise() -> None:
    starts = [m.from_kbps for m in DEFAULT_MODES]
    assert starts == sorted(starts) and starts[0] == 0.0


def test_what_is_named_is_kept() -> None:
    assert resolve_mode(None, None, 16) == ("opus", "none")
    assert resolve_mode(None, "sbr", 16) == ("aac", "sbr")  # a named method: the AAC core
    assert resolve_mode("opus", None, 12) == ("opus", "nsbg")  # a named core: n-SBG
    assert resolve_mode("spectrostream", None, 6) == ("spectrostream", "none")
    assert resolve_mode("mp3", "none", 16) == ("mp3", "none")
    # options of a high-band method (weights, side-info cap) name the default method
    assert resolve_mode(None, None, 16, method_options=True) == ("aac", "nsbg")


@pytest.mark.parametrize(
    "kbps", [8, 9, 10, 11, NSBG_FROM_KBPS, 12, 13, 13.9, 14, 16, 20, 24, 32, 64]
)
def test_every_rate_builds_its_default_mode(kbps: float) -> None:
    """A row that starts below what its core and method can code would fail here."""
    codec = Codec.create(bitrate_kbps=kbps)
    assert (codec.core.name, codec.hf.name) == resolve_mode(None, None, kbps)


def test_named_options_keep_the_method() -> None:
    codec = Codec.create(bitrate_kbps=16, side_kbps=2.0)
    assert (codec.core.name, codec.hf.name) == ("aac", "nsbg")


def test_cli_reports_the_default_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = np.arange(24_000) / 48_000
    src = tmp_path / "in.wav"
    sf.write(str(src), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48_000)
    for kbps, mode in (("16", ("opus", "none")), ("12", ("aac", "nsbg"))):
        out = tmp_path / f"o{kbps}.bgn"
        assert main(["encode", str(src), str(out), "-b", kbps, "--json", "--no-progress"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert (summary["core"], summary["hf"]) == mode
