"""``bandgen extend``: blind bandwidth extension with a tiny random blind n-SBG model that the
test exports (8 kHz crossover: bands 10..29 from bands 0..9, as the shipped ``blind-8k``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import bandgen
from bandgen import extend
from bandgen.audio.resample import resample
from bandgen.cli import main
from bandgen.dsp.crossover import StreamCrossover, crossover, crossover_taps
from bandgen.errors import AudioInputError, ConfigError
from bandgen.extend import BlindMethod, Extender, load_extender
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.pretrained import registry
from bandgen.train.checkpoint import export_weights


def _blind_config(**changes: object) -> NSBGConfig:
    base = {
        **NSBGConfig.debug().to_dict(),
        "blind": True,
        "k_c": 10,
        "k_h": 29,
        "generator": "patch",
        "patch_channels": 8,
        "latent_dim": 8,
    }
    return NSBGConfig.from_dict({**base, **changes})


def _export(path: Path, seed: int = 0, **changes: object) -> Path:
    torch.manual_seed(seed)
    config = _blind_config(**changes)
    export_weights(path, NSBG(config), {"model": "nsbg", "config": config.to_dict()})
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("extend") / "blind8k.safetensors")


@pytest.fixture(scope="module")
def extender(weights: Path) -> Extender:
    return load_extender("blind", weights=weights)


def _noise(channels: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((channels, length))).astype(np.float32)


def _write(path: Path, wav: np.ndarray, rate: int) -> Path:
    sf.write(str(path), wav.T, rate, subtype="FLOAT")
    return path


# -- the crossover --------------------------------------------------------------------------------


def test_crossover_is_complementary_and_streams() -> None:
    taps = crossover_taps(8000, 48_000)
    response = np.abs(np.fft.rfft(taps, 48_000))  # 1 Hz bins
    assert response[:7700].min() > 1 - 1e-3 and response[8300:].max() < 1e-3
    assert abs(response[8000] - 0.5) < 1e-3
    low, high = _noise(2, 5000, 1), _noise(2, 5000, 2)
    whole = crossover(low, high, taps)
    assert np.allclose(crossover(low, low, taps), low, atol=1e-6)  # no gap, no doubled band
    joint = StreamCrossover(taps, 2)
    parts = [joint.push(low[:, :1234], high[:, :700])]
    parts += [joint.push(low[:, 1234:], high[:, 700:3000]), joint.push(low[:, :0], high[:, 3000:])]
    out = np.concatenate([*parts, joint.flush()], axis=1)
    assert out.shape == whole.shape and np.abs(out - whole).max() < 1e-5


# -- the extender ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [997, 16_000, 50_000])
def test_chunked_equals_whole(extender: Extender, block: int) -> None:
    x16 = _noise(2, 40_000)
    whole = extender.extend(x16)
    assert whole.shape == (2, 120_000)
    blocks = [x16[:, i : i + block] for i in range(0, x16.shape[1], block)]
    chunked = np.concatenate(list(extender.stream(blocks)), axis=1)
    assert chunked.shape == whole.shape and np.abs(chunked - whole).max() < 1e-5


def _band(wav: np.ndarray, lo_hz: float, hi_hz: float) -> np.ndarray:
    """The spectrum's bins in ``[lo_hz, hi_hz)``, of a Hann-windowed middle (no edge effects)."""
    middle = wav[..., 4800:-4800]
    spec = np.fft.rfft(middle * np.hanning(middle.shape[-1]), axis=-1)
    freqs = np.fft.rfftfreq(middle.shape[-1], 1 / 48_000)
    return spec[..., (freqs >= lo_hz) & (freqs < hi_hz)]


def test_below_8k_the_input_above_it_the_generated_band(extender: Extender) -> None:
    x16 = _noise(2, 32_000, seed=3)
    x16[1] *= 0.3  # stereo: each channel its own
    out = extender.extend(x16)
    core = resample(x16, 16_000, 48_000)
    generated = extender.method.generate(x16, core)
    below = _band(out - core, 0, 7700)
    assert np.abs(below).max() < 1e-3 * np.abs(_band(core, 0, 7700)).max()
    above = _band(out - generated, 8300, 24_000)
    assert np.abs(above).max() < 1e-3 * np.abs(_band(generated, 8300, 24_000)).max()
    assert np.abs(_band(out, 8300, 24_000)).max() > 0  # there is a generated band
    # channels are independent: channel 1 alone gives the same samples
    alone = extender.extend(x16[1:])
    assert np.abs(alone[0] - out[1]).max() < 1e-5


def test_non_finite_input_is_refused(extender: Extender) -> None:
    x16 = _noise(1, 4000)
    x16[0, 100] = np.inf
    with pytest.raises(AudioInputError, match="non-finite"):
        extender.extend(x16)
    with pytest.raises(AudioInputError, match="non-finite"):
        list(extender.stream([x16[:, :50], x16[:, 50:]]))


# -- models ---------------------------------------------------------------------------------------


def test_default_models_not_shipped_give_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "list_models", lambda kind=None: [])
    for method, name in (("blind", "blind-8k"), ("hpcodecx", "hpcodecx-cpu")):
        with pytest.raises(ConfigError, match=f"default model '{name}' is not shipped.*--weights"):
            load_extender(method)
    with pytest.raises(ConfigError, match="unknown extension method"):
        load_extender("magic")


def test_models_that_do_not_fit_are_refused(tmp_path: Path, weights: Path) -> None:
    with pytest.raises(ConfigError, match="needs a blind n-SBG model"):
        load_extender("blind", weights=_export(tmp_path / "nsbg.safetensors", blind=False))
    with pytest.raises(ConfigError, match="input band lies within 8000 Hz"):
        load_extender("blind", weights=_export(tmp_path / "k12.safetensors", k_c=12))
    with pytest.raises(ConfigError, match="input band lies within 8000 Hz"):
        load_extender("blind", weights=_export(tmp_path / "low.safetensors", k_c=5, k_h=9))
    with pytest.raises(ConfigError, match="not a 'hpcodecx' one"):
        load_extender("hpcodecx", weights=weights)
    with pytest.raises(ConfigError, match="not a model name"):
        load_extender("blind", "../x")


# -- files ----------------------------------------------------------------------------------------


def test_extend_file_equals_the_whole_signal_path(tmp_path: Path, extender: Extender) -> None:
    """A 44.1 kHz stereo file with content above 8 kHz: resampled to 16 kHz (the band above 8 kHz
    discarded), extended, written at 48 kHz; block by block, as the whole-signal path."""
    t = np.arange(44_100) / 44_100
    wav = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 12_000 * t)])
    wav = (wav + _noise(2, t.shape[0], 5)).astype(np.float32)
    src = _write(tmp_path / "in.wav", wav, 44_100)
    stats = bandgen.extend_file(src, tmp_path / "out.wav", extender=extender)
    out, rate = sf.read(str(tmp_path / "out.wav"), dtype="float32", always_2d=True)
    expected = extender.extend(wav, 44_100)
    assert np.array_equal(expected, extender.extend(resample(wav, 44_100, 16_000)))
    assert (rate, stats.sample_rate, stats.channels, stats.method) == (48_000, 48_000, 2, "blind")
    assert stats.model == "blind8k" and stats.input_sample_rate == 44_100
    assert out.T.shape == expected.shape and np.abs(out.T - expected).max() < 1e-5
    stats = bandgen.extend_file(src, tmp_path / "o.flac", extender=extender, sample_rate=22_050)
    assert sf.info(str(tmp_path / "o.flac")).samplerate == 22_050 == stats.sample_rate


def test_bad_inputs_leave_no_output(tmp_path: Path, extender: Extender) -> None:
    nan = np.zeros((1, 4800), np.float32)
    nan[0, 10] = np.nan
    _write(tmp_path / "nan.wav", nan, 48_000)
    with pytest.raises(AudioInputError, match="non-finite"):
        bandgen.extend_file(tmp_path / "nan.wav", tmp_path / "o.wav", extender=extender)
    _write(tmp_path / "empty.wav", np.zeros((1, 0), np.float32), 48_000)
    with pytest.raises(AudioInputError, match="no audio samples"):
        bandgen.extend_file(tmp_path / "empty.wav", tmp_path / "o.wav", extender=extender)
    with pytest.raises(AudioInputError):
        bandgen.extend_file(tmp_path / "missing.wav", tmp_path / "o.wav", extender=extender)
    with pytest.raises(ConfigError, match="is the input file"):
        bandgen.extend_file(tmp_path / "nan.wav", tmp_path / "nan.wav", extender=extender)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav", "nan.wav"]


# -- the command ----------------------------------------------------------------------------------


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_the_command(
    tmp_path: Path,
    weights: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = _write(tmp_path / "in.wav", _noise(2, 16_000), 16_000)
    out = tmp_path / "out.wav"
    w = ["--weights", str(weights), "--no-progress"]
    assert main(["extend", str(src), str(out), *w, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "blind" and summary["sample_rate"] == 48_000
    assert summary["channels"] == 2 and summary["input_sample_rate"] == 16_000
    assert sf.info(str(out)).frames == 48_000
    assert main(["extend", str(src), str(out), *w]) == 2
    assert "exists; pass -f" in capsys.readouterr().err
    assert main(["extend", str(src), str(out), *w, "-f", "-v", "--rate", "44100"]) == 0
    assert "(input 16000 Hz), method blind, model blind8k" in capsys.readouterr().out
    assert sf.info(str(out)).samplerate == 44_100
    monkeypatch.setattr(registry, "list_models", lambda kind=None: [])
    assert main(["extend", str(src), str(out), "-f", "--method", "hpcodecx", "-q"]) == 2
    assert "--method hpcodecx needs" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", _Stdin(src.read_bytes()))
    assert main(["extend", "-", str(tmp_path / "p.flac"), *w, "-q", "--bits", "16"]) == 0
    assert sf.info(str(tmp_path / "p.flac")).subtype == "PCM_16"
    (tmp_path / "in2").mkdir()
    _write(tmp_path / "in2" / "a.wav", _noise(1, 8000), 8000)
    (tmp_path / "in2" / "bad.wav").write_bytes(b"not audio")
    assert main(["extend", str(tmp_path / "in2"), "-o", str(tmp_path / "out2"), *w]) == 1
    assert "2 files: 1 done, 1 failed" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["a.wav"]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["extend", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--method" in text and "paper" not in text
    assert "(default" in text and "--force" in text and "--json" in text


def test_blind_method_needs_the_model_kind(weights: Path) -> None:
    model, info = registry.load_weights(weights)
    method = BlindMethod(model, info)  # type: ignore[arg-type]
    assert method.name == "blind" and extend.METHODS == ("blind", "hpcodecx")


# -- HP-codecX ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hpx_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bandgen.models.hpcodecx import HPCodecX, HPCodecXConfig

    torch.manual_seed(0)
    config = HPCodecXConfig.debug()
    path = tmp_path_factory.mktemp("hpx") / "hpx.safetensors"
    export_weights(path, HPCodecX(config), {"model": "hpcodecx", "config": config.to_dict()})
    return path


def test_hpcodecx_streams_as_whole_and_keeps_the_input_band(hpx_weights: Path) -> None:
    ext = load_extender("hpcodecx", weights=hpx_weights)
    assert ext.method.name == "hpcodecx"
    x16 = _noise(2, 16_000, seed=4)  # 100 frames: several 20-frame windows
    whole = ext.extend(x16)
    assert whole.shape == (2, 48_000)
    for block in (1234, 16_000):
        parts = [x16[:, i : i + block] for i in range(0, x16.shape[1], block)]
        chunked = np.concatenate(list(ext.stream(parts)), axis=1)
        assert chunked.shape == whole.shape and np.abs(chunked - whole).max() < 1e-5
    core = resample(x16, 16_000, 48_000)
    below = _band(whole - core, 0, 7700)
    assert np.abs(below).max() < 1e-3 * np.abs(_band(core, 0, 7700)).max()
    generated = ext.method.generate(x16, core)
    above = _band(whole - generated, 8300, 24_000)
    assert np.abs(above).max() < 1e-3 * np.abs(_band(generated, 8300, 24_000)).max()


def test_hpcodecx_command(
    tmp_path: Path, hpx_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.wav", _noise(1, 8000), 16_000)
    args = ["--method", "hpcodecx", "--weights", str(hpx_weights), "--json", "--no-progress"]
    assert main(["extend", str(src), str(tmp_path / "o.wav"), *args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "hpcodecx" and summary["model"] == "hpx"
    assert sf.info(str(tmp_path / "o.wav")).frames == 24_000
