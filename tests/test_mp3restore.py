"""``bandgen restore``: chunked == whole-file, file API, weights loading, CLI errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bandgen.api import load_restorer, restore_file
from bandgen.audio.io import iter_audio
from bandgen.cli import main
from bandgen.core import make_core
from bandgen.errors import AudioInputError, ConfigError
from bandgen.models.mp3restore import MP3Restore, MP3RestoreConfig
from bandgen.restore import Restorer, load_restore_model
from bandgen.train.checkpoint import export_weights

Synth = Callable[..., np.ndarray]


def _random_model(num_blocks: int, seed: int = 0) -> MP3Restore:
    """A small untrained model with a non-trivial (non-identity) output."""
    torch.manual_seed(seed)
    return MP3Restore(MP3RestoreConfig(num_blocks=num_blocks, latent=8, residual=False)).eval()


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(1)
    model = MP3Restore(MP3RestoreConfig.debug(1))
    with torch.no_grad():  # move off the identity start so restoration changes the signal
        model.middle[0].decode.pointwise.weight.normal_(0, 0.01)
    path = tmp_path / "tiny.safetensors"
    export_weights(path, model, {"model": "mp3restore", "config": model.config.to_dict()})
    return path


@pytest.mark.parametrize("num_blocks", [1, 5])
@pytest.mark.parametrize("chunk_frames", [1, 5, 37, 4096])
def test_chunked_equals_whole_file(
    num_blocks: int, chunk_frames: int, rng: np.random.Generator
) -> None:
    model = _random_model(num_blocks)
    wav = (0.1 * rng.standard_normal((2, 30_011))).astype(np.float32)
    restorer = Restorer(model, chunk_frames=chunk_frames)
    whole = restorer.restore(wav)
    for block in (97, 4_800, 100_000):
        pieces = [wav[:, i : i + block] for i in range(0, wav.shape[1], block)]
        chunked = np.concatenate(list(restorer.stream(pieces)), axis=1)
        assert chunked.shape == wav.shape
        assert np.abs(chunked - whole).max() < 1e-5 * max(1.0, np.abs(whole).max())


def test_short_input_streams(rng: np.random.Generator) -> None:
    restorer = Restorer(_random_model(1), chunk_frames=3)
    for length in (1, 200, 1_000):
        wav = rng.standard_normal((1, length)).astype(np.float32)
        out = np.concatenate(list(restorer.stream([wav])), axis=1)
        assert out.shape == (1, length)
        assert np.allclose(out, restorer.restore(wav), atol=1e-5)


def test_restore_stereo_flac_at_44k(tmp_path: Path, weights: Path, synth_clip: Synth) -> None:
    wav44 = synth_clip("music", seconds=2.0, sample_rate=44_100)
    src = tmp_path / "in.flac"
    sf.write(str(src), wav44.T, 44_100, subtype="PCM_24")
    dst = tmp_path / "out.flac"
    stats = restore_file(src, dst, weights=weights, chunk_seconds=0.3)
    out, out_sr = sf.read(str(dst), always_2d=True)
    assert out_sr == 44_100 and out.shape == (wav44.shape[1], 2)
    assert stats.channels == 2 and stats.sample_rate == 44_100 and stats.model == "tiny"
    assert not np.allclose(out.T, wav44, atol=1e-3)  # the model did something


def test_restore_mp3_at_16k_writes_48k(tmp_path: Path, weights: Path, synth_clip: Synth) -> None:
    core = make_core("mp3", 32)
    low = synth_clip("speech", seconds=1.5, sample_rate=16_000)  # mono
    src = tmp_path / "in.mp3"
    src.write_bytes(b"".join(core.encode(low)[0]))
    whole = tmp_path / "whole.wav"
    chunked = tmp_path / "chunked.wav"
    restore_file(src, whole, weights=weights, chunk_seconds=100.0)
    stats = restore_file(src, chunked, weights=weights, chunk_seconds=0.05)
    a, sr = sf.read(str(whole), always_2d=True)
    b, _ = sf.read(str(chunked), always_2d=True)
    decoded = sum(block.shape[1] for block in iter_audio(src))  # 16 kHz samples
    assert sr == 48_000 and stats.input_sample_rate == 16_000
    assert a.shape == b.shape == (3 * decoded, 1) and stats.num_samples == 3 * decoded
    assert np.abs(a - b).max() < 1e-5


def test_weights_are_checked(tmp_path: Path, weights: Path) -> None:
    model, info = load_restore_model(weights=weights)
    assert info["name"] == "tiny" and model.config.latent == 8
    meta = weights.with_suffix(".json")
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "sha256": "0" * 64}))
    with pytest.raises(ConfigError, match="sha256"):
        load_restore_model(weights=weights)
    meta.write_text(json.dumps({**data, "model": "nsbg"}))
    with pytest.raises(ConfigError, match="mp3restore"):
        load_restore_model(weights=weights)
    with pytest.raises(ConfigError, match="no shipped mp3restore model"):
        load_restorer("no-such-model")
    with pytest.raises(ConfigError, match="chunk_seconds"):
        load_restorer(weights=weights, chunk_seconds=0)


def test_bad_input_leaves_no_output(tmp_path: Path, weights: Path) -> None:
    dst = tmp_path / "out.wav"
    with pytest.raises(AudioInputError, match="not found"):
        restore_file(tmp_path / "missing.mp3", dst, weights=weights)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(AudioInputError):
        restore_file(junk, dst, weights=weights)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "junk.mp3",
        "tiny.json",
        "tiny.safetensors",
    ]


def test_cli_restore_and_errors(
    tmp_path: Path, weights: Path, synth_clip: Synth, capsys: pytest.CaptureFixture[str]
) -> None:
    wav, sr = synth_clip("speech", seconds=1.0), 48_000
    src = tmp_path / "in.wav"
    sf.write(str(src), wav.T, sr)
    dst = tmp_path / "out.wav"
    args = ["restore", str(src), str(dst), "--weights", str(weights), "--no-progress"]
    assert main([*args, "--int8"]) == 0
    assert "real time" in capsys.readouterr().out and sf.info(str(dst)).frames == wav.shape[1]

    assert main(["restore", str(tmp_path / "none.mp3"), str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and "not found" in err
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 50)
    assert main(["restore", str(text), str(tmp_path / "y.wav"), "--weights", str(weights)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and "Traceback" not in err
    assert main(["restore", str(src), str(tmp_path / "z.ogg"), "--weights", str(weights)]) == 2
    assert "must end in" in capsys.readouterr().err
    assert not any(tmp_path.glob("[xyz].*")) and not any(tmp_path.glob(".*part"))
