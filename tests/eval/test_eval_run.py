"""End to end: ``bandgen eval`` on two tiny clips writes tables and plots and resumes from its cache."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen import cli
from bandgen.errors import ConfigError
from bandgen.eval import compare, evaluate
from bandgen.eval import specs as spec_module
from bandgen.eval.run import find_clips

pytest.importorskip("matplotlib")

SR = 48_000


def _write_clips(folder: Path) -> None:
    """Two 1-s clips, a voiced "speech" tone burst and a noisy "music" chord."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    # a pitch glide, 140 -> 170 Hz: a fixed pitch correlates as well one period off, so a
    # coarser coding could move the measured lag by a period (-320 samples at 150 Hz)
    phase = 2 * np.pi * (140 * t + 15 * t**2)
    speech = sum(np.sin(k * phase) / k for k in range(1, 30)) * np.sin(np.pi * t)
    music = sum(
        np.sin(2 * np.pi * f * t) for f in (220, 277, 330, 5000)
    ) + 0.3 * rng.standard_normal(SR)
    sf.write(folder / "t_speech_01.wav", 0.1 * speech, SR, subtype="FLOAT")
    sf.write(folder / "t_music_01.flac", 0.05 * np.stack([music, music[::-1]]).T, SR)


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval") / "refs"
    _write_clips(folder)
    return folder


def test_categories_from_names_and_manifest(refs: Path, tmp_path: Path) -> None:
    assert {c.id: c.category for c in find_clips(refs)} == {
        "t_music_01": "music",
        "t_speech_01": "speech",
    }
    other = tmp_path / "refs"
    _write_clips(other)
    (other / "manifest.json").write_text(
        json.dumps({"clips": [{"id": "t_music_01", "category": "sound"}]})
    )
    assert {c.id: c.category for c in find_clips(other)}["t_music_01"] == "sound"


def test_eval_writes_tables_plots_and_resumes(
    refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    first = evaluate(refs, ["aac:16", "none:16"], out, metrics="lsd,lsd_hi,mel")
    assert (first.result.coded, first.result.reused) == (4, 0)
    rows = list(csv.DictReader((out / "per_file.csv").read_text().splitlines()))
    assert {(r["clip"], r["spec"]) for r in rows} == {
        (c, s) for c in ("t_music_01", "t_speech_01") for s in ("aac:16", "none:16")
    }
    for r in rows:
        assert 10 < float(r["kbps"]) < 30
        assert float(r["lsd"]) > 0
        assert int(r["lag_samples"]) == 0  # measured by cross-correlation, not assumed
        if r["clip"] == "t_music_01":  # broadband noise, but the coded band ends near 4 kHz
            assert float(r["lsd_hi"]) > float(r["lsd"])
    summary = list(csv.DictReader((out / "summary.csv").read_text().splitlines()))
    assert {(r["spec"], r["category"]) for r in summary} >= {
        ("aac:16", "all"),
        ("none:16", "music"),
    }
    assert "| aac:16 |" in (out / "summary.md").read_text()
    assert "4 of 4 coded clips are at lag 0" in (out / "summary.md").read_text()
    for name in (
        "rd_lsd.png",
        "rd_lsd_hi.png",
        "rd_mel.png",
        "spec_t_music_01.png",
        "spec_t_speech_01.png",
    ):
        assert (out / "plots" / name).stat().st_size > 1000

    def no_coding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached (clip, spec) pair was coded again")

    monkeypatch.setattr(spec_module, "code", no_coding)
    again = evaluate(refs, ["aac:16", "none:16"], out, metrics="lsd,mel", plots=False)
    assert (again.result.coded, again.result.reused) == (0, 4)
    assert again.summary[0].stats["lsd"] == first.summary[0].stats["lsd"]


def test_eval_refuses_unreachable_spec_before_work(refs: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        evaluate(refs, ["aac:0.5"], tmp_path / "x")
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(refs, ["aac:16"], tmp_path / "x", metrics="lsd,bogus")


def test_compare_cli_writes_figure(
    refs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = refs / "t_speech_01.wav"
    wav, _ = sf.read(ref, dtype="float32")
    noisy = tmp_path / "noisy.wav"
    sf.write(
        noisy, wav + 0.01 * np.random.default_rng(1).standard_normal(wav.shape), SR, subtype="FLOAT"
    )
    fig = tmp_path / "fig.png"
    assert (
        cli.main(
            ["compare", str(ref), str(ref), str(noisy), "-o", str(fig), "--metrics", "lsd,snr"]
        )
        == 0
    )
    assert fig.stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "snr 100" in printed and "lsd 0" in printed

    short = tmp_path / "short.wav"
    sf.write(short, wav[:-10], SR, subtype="FLOAT")
    with pytest.raises(ConfigError, match=r"48000 samples.*47990 samples"):
        compare(ref, [short], tmp_path / "fig2.png")
