"""HP-codec as a codec (issue 15): ``--core hpcodec`` through the CLI and the API.

A debug-size model with the paper's codebooks (1024 entries, so the rates are the real ones)
stands in for the shipped weights: saved with ``export_weights`` and passed with
``--weights`` / ``weights=``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import bandgen
from bandgen.bitstream import ContainerReader, encode_header
from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.errors import BandgenWarning, BitstreamError, ConfigError
from bandgen.hp_codec import HPCodecCodec, branches_for
from bandgen.hp_stream import decode_tokens, encode_tokens
from bandgen.models.hpcodec import HPCodec, HPCodecConfig
from bandgen.pretrained import registry
from bandgen.spectro_stream import unpack_codes
from bandgen.train.checkpoint import export_weights

SR = 48_000


def _export(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    cfg = dataclasses.replace(HPCodecConfig.debug(), codebook_size=1024)
    export_weights(path, HPCodec(cfg).eval(), {"model": "hpcodec", "config": cfg.to_dict()})
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("hpcodec") / "hp-debug.safetensors", 0)


@pytest.fixture(scope="module")
def model(weights: Path) -> HPCodec:
    codec = Codec.create(core="hpcodec", weights=weights)
    assert isinstance(codec, HPCodecCodec) and isinstance(codec.model, HPCodec)
    return codec.model


def test_branches_follow_the_rate_per_channel() -> None:
    assert branches_for(12.0) == (2, False) and branches_for(9.0) == (2, False)
    assert branches_for(6.0) == (1, False) and branches_for(8.9) == (1, False)
    assert branches_for(16.0) == (2, True)
    with pytest.raises(ConfigError, match=r"6 kbps .* or 12 kbps"):
        branches_for(2.0)


def _codes(data: bytes, channel: int = 0) -> np.ndarray:
    """The codes ``[K, N]`` of one channel of a stream."""
    reader = ContainerReader(io.BytesIO(data))
    spec = reader.header["hpcodec"]
    count, bits = 6 * spec["branches"], spec["code_bits"]
    parts = []
    for frame in reader:
        packet = frame.channels[channel].core[0]
        tokens = len(packet) * 8 // (count * bits)
        parts.append(unpack_codes(packet, count, tokens, bits, 1024, ""))
    return np.concatenate(parts, axis=1)


def _whole(model: HPCodec, wav: np.ndarray, branches: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole-file codes ``[C, K, N]`` and decoded audio ``[C, T]`` of ``wav [C, T]``."""
    tokens = -(-wav.shape[1] // 480)
    padded = np.pad(wav, ((0, 0), (0, tokens * 480 - wav.shape[1])))
    codes = encode_tokens(model, torch.from_numpy(padded)[:, None], branches)
    audio = decode_tokens(model, codes)[:, 0, : wav.shape[1]]
    return codes.numpy(), audio.numpy()


@pytest.mark.parametrize(("kbps", "branches"), [(12, 2), (6, 1)])
def test_stream_equals_the_whole_file_coding(
    weights: Path,
    model: HPCodec,
    synth_clip: Callable[..., np.ndarray],
    kbps: float,
    branches: int,
) -> None:
    wav = synth_clip("music", seconds=4.3, channels=2)  # 3 frames, 2 model pieces
    data = bandgen.encode(wav, SR, core="hpcodec", bitrate_kbps=kbps, weights=weights)
    header = ContainerReader(io.BytesIO(data)).header
    assert header["core"]["name"] == "hpcodec" and header["hf"]["method"] == "none"
    assert header["hpcodec"]["branches"] == branches
    assert header["core"]["cutoff_hz"] == (24_000 if branches == 2 else 8_000)
    out, rate = bandgen.decode(data, weights=weights)
    assert rate == SR and out.shape == wav.shape
    codes, audio = _whole(model, wav, branches)
    for channel in range(2):  # each channel coded on its own, no seams between the pieces
        assert np.array_equal(_codes(data, channel), codes[channel])
    np.testing.assert_allclose(out, audio, atol=1e-5)


def test_low_branch_only_stops_at_8_khz(
    weights: Path, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("music", seconds=1.0)
    out, _ = bandgen.decode(
        bandgen.encode(wav, SR, core="hpcodec", bitrate_kbps=6, weights=weights), weights=weights
    )
    windowed = (out[0] - out[0].mean()) * np.hanning(out.shape[1])  # no DC, no edge leakage
    spectrum = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(out.shape[1], 1 / SR)
    assert spectrum[freqs > 8_500].sum() < 1e-6 * spectrum[freqs < 7_500].sum()


def _stream_kbps(bgn: Path, seconds: float, channels: int) -> float:
    """Rate of the frames (codes + framing), per channel: the file less its fixed header."""
    with open(bgn, "rb") as f:
        header = ContainerReader(f).header
    body = bgn.stat().st_size - len(encode_header(header, version=1))
    return body * 8 / 1000 / seconds / channels


@pytest.mark.parametrize(("kbps", "expected"), [(6.0, 6.0), (12.0, 12.0), (16.0, 12.0)])
def test_cli_rates(
    tmp_path: Path,
    weights: Path,
    synth_clip: Callable[..., np.ndarray],
    capsys: pytest.CaptureFixture[str],
    kbps: float,
    expected: float,
) -> None:
    wav = synth_clip("speech", seconds=10.0)
    src, bgn = tmp_path / "in.flac", tmp_path / "x.bgn"
    sf.write(str(src), wav.T, SR, subtype="PCM_24")
    args = ["encode", str(src), str(bgn), "--core", "hpcodec", "--bitrate", str(kbps)]
    assert main([*args, "--weights", str(weights), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert ("bandgen: warning:" in err and "at most 12 kbps" in err) == (expected != kbps)
    measured = _stream_kbps(bgn, 10.0, 1)
    assert abs(measured / expected - 1) < 0.02, measured
    assert main(["info", str(bgn)]) == 0
    assert "core:        hpcodec at 48000 Hz" in capsys.readouterr().out


def test_cli_round_trip_resampled_three_channels(
    tmp_path: Path, weights: Path, model: HPCodec, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("sound", seconds=1.5, sample_rate=44_100, channels=3)
    src, bgn, out = tmp_path / "in.wav", tmp_path / "x.bgn", tmp_path / "out.wav"
    sf.write(str(src), wav.T, 44_100, subtype="FLOAT")
    enc = ["encode", str(src), str(bgn), "--core", "hpcodec", "--hf", "none"]
    assert main([*enc, "--weights", str(weights), "--no-progress"]) == 0
    assert main(["decode", str(bgn), str(out), "--weights", str(weights), "--no-progress"]) == 0
    decoded, rate = sf.read(str(out), dtype="float32", always_2d=True)
    header = ContainerReader(io.BytesIO(bgn.read_bytes())).header
    assert header["source_sample_rate"] == 44_100 and header["channels"] == 3
    assert rate == 44_100 and decoded.shape == (wav.shape[1], 3)  # back at the source rate
    out48, _ = bandgen.decode(bgn.read_bytes(), weights=weights)
    assert out48.shape == (3, round(wav.shape[1] * SR / 44_100))
    third = decode_tokens(model, torch.from_numpy(_codes(bgn.read_bytes(), 2))[None])
    np.testing.assert_allclose(out48[2], third[0, 0, : out48.shape[1]].numpy(), atol=1e-5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hf", "sbr"], "takes no high-band method"),
        (["--side-kbps", "1"], "takes no option side_kbps"),
        (["--bitrate", "2"], "below what HP-codec codes"),
    ],
)
def test_bad_options(
    tmp_path: Path,
    weights: Path,
    synth_clip: Callable[..., np.ndarray],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    src, bgn = tmp_path / "in.wav", tmp_path / "x.bgn"
    sf.write(str(src), synth_clip("speech", seconds=0.5).T, SR)
    args = ["encode", str(src), str(bgn), "--core", "hpcodec", "--weights", str(weights)]
    assert main([*args, *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and message in err
    assert not bgn.exists()


def test_models_are_named_and_checked(
    tmp_path: Path, weights: Path, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("speech", seconds=0.5)
    if "hpcodec-cpu" not in registry.list_models():
        with pytest.raises(ConfigError, match="no shipped hpcodec model named 'hpcodec-cpu'"):
            bandgen.encode(wav, SR, core="hpcodec")
    data = bandgen.encode(wav, SR, core="hpcodec", weights=weights)
    with pytest.raises(BitstreamError, match=r"not shipped.*--weights"):
        bandgen.decode(data)
    other = _export(tmp_path / "other.safetensors", 1)
    with pytest.raises(BitstreamError, match="sha256"):
        bandgen.decode(data, weights=other)


def test_shipped_name_loads_once_the_files_are_there(
    tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"hpcodec-cpu{suffix}").write_bytes(weights.with_suffix(suffix).read_bytes())
    monkeypatch.setattr(registry, "PRETRAINED_DIR", tmp_path)
    codec = bandgen.load("hpcodec-cpu", bitrate_kbps=6)
    assert isinstance(codec, HPCodecCodec) and codec.branches == 1
    assert codec.info["name"] == "hpcodec-cpu"
    default = Codec.create(core="hpcodec")
    assert isinstance(default, HPCodecCodec) and default.info["name"] == "hpcodec-cpu"


def test_truncated_and_corrupt_streams(
    weights: Path, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("speech", seconds=4.5)  # 3 frames of 2 s
    data = bandgen.encode(wav, SR, core="hpcodec", weights=weights)
    with pytest.raises(BitstreamError, match="truncated"):
        bandgen.decode(data[:-100], weights=weights)
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0x10
    with pytest.raises(BitstreamError, match="CRC32"):
        bandgen.decode(bytes(corrupt), weights=weights)
    # salvaged, a truncated stream decodes its whole frames (2 of 2 s), as the whole stream
    # does but for the last tokens, whose right-hand context was cut off
    out, _ = bandgen.decode(data[:-100], weights=weights, salvage=True)
    whole, _ = bandgen.decode(data, weights=weights)
    assert out.shape[1] == 4 * SR
    same = 4 * SR - 16 * 480
    np.testing.assert_allclose(out[:, :same], whole[:, :same], atol=1e-5)


def test_forged_headers_are_refused(weights: Path, synth_clip: Callable[..., np.ndarray]) -> None:
    data = bandgen.encode(synth_clip("speech", seconds=0.5), SR, core="hpcodec", weights=weights)
    header = ContainerReader(io.BytesIO(data)).header
    prelude = len(encode_header(header, version=1))

    def forge(**changes: object) -> bytes:
        spec = {**header["hpcodec"], **changes.pop("spec", {})}  # type: ignore[dict-item]
        forged = {**header, **changes, "hpcodec": spec}
        return encode_header(forged, version=1) + data[prelude:]

    with pytest.raises(BitstreamError, match="branches"):
        bandgen.decode(forge(spec={"branches": 3}), weights=weights)
    with pytest.raises(BitstreamError, match="num_frames"):
        bandgen.decode(forge(num_samples=10 * SR), weights=weights)
    with pytest.raises(BitstreamError, match="hf"):
        bandgen.decode(forge(hf={"method": "sbr", "config": {}}), weights=weights)
    with pytest.raises(BitstreamError, match="code_bits"):
        bandgen.decode(forge(spec={"code_bits": 9}), weights=weights)
    with pytest.raises(BitstreamError, match="packet"):
        bandgen.decode(forge(spec={"branches": 1}), weights=weights)
    with pytest.warns(BandgenWarning, match="at most 12 kbps"):
        Codec.create(core="hpcodec", bitrate_kbps=20, weights=weights)


def test_shipped_model_codes_the_band_above_8k(synth_clip: Callable[..., np.ndarray]) -> None:
    """``hpcodec-cpu``: the 12 kbps mode (both branches) is closer to the original above
    8 kHz than the 6 kbps mode (16 kHz branch alone, nothing up there)."""
    from bandgen.metrics.basic import lsd

    wav = synth_clip("music", seconds=2.0, channels=1, seed=4)
    full, _ = bandgen.decode(bandgen.encode(wav, SR, core="hpcodec", bitrate_kbps=12))
    low, _ = bandgen.decode(bandgen.encode(wav, SR, core="hpcodec", bitrate_kbps=6))
    assert full.shape == low.shape == wav.shape and np.isfinite(full).all()
    band = {"min_hz": 8500.0, "max_hz": 16000.0}
    assert lsd(wav, full, SR, **band) < lsd(wav, low, SR, **band) - 1.0
