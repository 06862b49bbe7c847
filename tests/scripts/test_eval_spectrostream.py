"""``scripts/eval_spectrostream.py`` on two tiny synthetic clips (no ViSQOL): both codecs at
every rate, the first clip per category, the coherence error for the stereo clip only."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bandgen.models.spectrostream import SpectroStream, SpectroStreamConfig
from bandgen.train.checkpoint import export_weights

REPO = Path(__file__).resolve().parents[2]


def _script() -> object:
    spec = importlib.util.spec_from_file_location(
        "eval_spectrostream", REPO / "scripts" / "eval_spectrostream.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_on_two_clips(tmp_path: Path, synth_clip: Callable[..., np.ndarray]) -> None:
    torch.manual_seed(0)
    cfg = dataclasses.replace(
        SpectroStreamConfig.debug(),
        base_channels=1,
        enc_channels=(1, 1, 1, 1, 1, 2, 2),
        dec_channels=(4, 2, 1, 1, 1, 1, 1),
        num_levels=64,
        codebook_size=1024,
    )
    net = SpectroStream(cfg).train()
    net(torch.from_numpy(synth_clip("music", seconds=1.0))[None])
    weights = tmp_path / "ss.safetensors"
    export_weights(weights, net.eval(), {"model": "spectrostream", "config": cfg.to_dict()})
    refs = tmp_path / "refs"
    refs.mkdir()
    sf.write(str(refs / "dev_music_01.flac"), synth_clip("music", seconds=1.0).T, 48_000)
    sf.write(str(refs / "dev_speech_01.flac"), synth_clip("speech", seconds=1.0).T, 48_000)
    sf.write(str(refs / "dev_speech_02.flac"), synth_clip("speech", seconds=1.0, seed=1).T, 48_000)
    out = tmp_path / "out"
    script = _script()
    args = [str(refs), "--weights", str(weights), "--rates", "2.7,12", "--out", str(out)]
    assert script.main([*args, "--no-visqol", "--clips", "1"]) == 0  # type: ignore[attr-defined]
    records = json.loads((out / "per_clip.json").read_text())
    assert {r["clip"] for r in records} == {"dev_music_01", "dev_speech_01"}
    assert len(records) == 2 * 2 * 2  # clips x rates x codecs
    for r in records:
        assert np.isfinite([r["metrics"][m] for m in ("mel", "lsd", "si_sdr")]).all()
        assert ("coherence_err" in r["metrics"]) == (r["channels"] == 2)
        assert r["kbps"] > 0.5 * r["kbps_asked"] * (0.5 if r["capped"] else 1)
    music_12 = [r for r in records if r["clip"] == "dev_music_01" and r["kbps_asked"] == 12]
    assert all(r["capped"] for r in music_12)  # 24 kbps for the pair: coded at 16
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"music", "speech", "all"}
    assert set(summary["all"]["2.7"]) == {"spectrostream", "opus"}
    assert "## music" in (out / "summary.md").read_text()
