"""SpectroStream as a codec (issue 14): ``--core spectrostream`` through the CLI and the API.

A debug-size model (narrower still, :data:`TEST_SIZE`) with the paper's quantiser (64 levels x
1024 entries, so the rates are the real ones) stands in for the shipped weights: codebooks seeded by one training forward, saved
with ``export_weights`` and passed with ``--weights`` / ``weights=``.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

import bandgen
from bandgen.bitstream import ContainerReader, encode_header
from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.errors import BandgenWarning, BitstreamError, ConfigError
from bandgen.models.spectrostream import SpectroStream, SpectroStreamConfig
from bandgen.spectro_codec import SpectroCodec, group_levels
from bandgen.spectro_stream import unpack_codes
from bandgen.train.checkpoint import export_weights

SR = 48_000
TEST_SIZE: dict[str, Any] = {
    "base_channels": 1,
    "enc_channels": (1, 1, 1, 1, 1, 2, 2),
    "dec_channels": (4, 2, 1, 1, 1, 1, 1),
    "dim": 4,
    "num_levels": 64,
    "codebook_size": 1024,
}
"""The debug preset narrowed further (5x faster), with the paper's quantiser (the real rates)."""


def _export(path: Path, seed: int, clip: np.ndarray) -> Path:
    torch.manual_seed(seed)
    cfg = dataclasses.replace(SpectroStreamConfig.debug(), **TEST_SIZE)
    net = SpectroStream(cfg).train()
    net(torch.from_numpy(clip)[None])  # seeds the EMA codebooks
    export_weights(path, net.eval(), {"model": "spectrostream", "config": cfg.to_dict()})
    return path


@pytest.fixture(scope="module")
def weights(
    tmp_path_factory: pytest.TempPathFactory, synth_clip: Callable[..., np.ndarray]
) -> Path:
    folder = tmp_path_factory.mktemp("spectro")
    return _export(folder / "ss-debug.safetensors", 0, synth_clip("music", seconds=1.0))


@pytest.fixture(scope="module")
def model(weights: Path) -> SpectroStream:
    codec = Codec.create(core="spectrostream", weights=weights)
    assert isinstance(codec, SpectroCodec) and isinstance(codec.model, SpectroStream)
    return codec.model


def test_levels_follow_the_rate_per_channel(model: SpectroStream) -> None:
    cfg = model.cfg
    assert group_levels(cfg, 6.0, 2) == (48, False)  # 12 kbps for the pair
    assert group_levels(cfg, 6.0, 1) == (24, False)
    assert group_levels(cfg, 2.7, 1) == (11, False)  # nearest: 2.75 + framing
    assert group_levels(cfg, 2.7, 2) == (21, False)
    assert group_levels(cfg, 16.0, 1) == (64, False)
    assert group_levels(cfg, 16.0, 2) == (64, True)  # 32 kbps asked, 16 is the most
    with pytest.raises(ConfigError, match="at least"):
        group_levels(cfg, 0.05, 1)


def _codes(data: bytes, channel: int = 0, group: int = 0) -> np.ndarray:
    """The codes ``[levels, N]`` of the group whose packets are in ``channel``'s entries."""
    reader = ContainerReader(io.BytesIO(data))
    spec = reader.header["spectrostream"]
    levels, bits = spec["levels"][group], spec["code_bits"]
    parts = []
    for frame in reader:
        packet = frame.channels[channel].core[0]
        count = len(packet) * 8 // (levels * bits)
        parts.append(unpack_codes(packet, levels, count, bits, 1024, ""))
    return np.concatenate(parts, axis=1)


def _decoded(model: SpectroStream, codes: np.ndarray, length: int, channels: int) -> np.ndarray:
    """The model's offline decode of ``codes``."""
    return model.decode(torch.from_numpy(codes)[None], length, channels)[0].numpy()


@pytest.mark.parametrize("channels", [1, 2])
def test_decode_equals_the_models_offline_decode(
    weights: Path, model: SpectroStream, synth_clip: Callable[..., np.ndarray], channels: int
) -> None:
    wav = synth_clip("music", seconds=4.3, channels=channels)  # 3 frames, 2 model chunks
    data = bandgen.encode(wav, SR, core="spectrostream", bitrate_kbps=6, weights=weights)
    out, rate = bandgen.decode(data, weights=weights)
    header = ContainerReader(io.BytesIO(data)).header
    levels = 24 * channels
    assert header["spectrostream"]["levels"] == [levels]
    assert header["core"]["name"] == "spectrostream" and header["hf"]["method"] == "none"
    assert rate == SR and out.shape == wav.shape
    # the chunked encoder gives the offline codes, up to near-ties of the toy codebooks that
    # float rounding (1e-7) breaks the other way; the chunked decoder their offline audio
    codes = _codes(data)
    offline = model.encode(torch.from_numpy(wav)[None], levels)[0].numpy()
    assert codes.shape == offline.shape
    assert (codes == offline).all(axis=0).mean() > 0.97
    np.testing.assert_allclose(out, _decoded(model, codes, wav.shape[1], channels), atol=1e-5)


def test_codec_create_and_decode(weights: Path, synth_clip: Callable[..., np.ndarray]) -> None:
    codec = Codec.create(core="spectrostream", bitrate_kbps=2.7, weights=weights)
    assert isinstance(codec, SpectroCodec)
    wav = synth_clip("speech", seconds=2.0)
    out = Codec.decode(codec.encode(wav, SR), weights=weights)
    assert out.shape == wav.shape and np.isfinite(out).all()


def test_resampled_input_and_channel_pairs(
    weights: Path, model: SpectroStream, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("sound", seconds=1.5, sample_rate=44_100, channels=3)
    data = bandgen.encode(wav, 44_100, core="spectrostream", bitrate_kbps=4, weights=weights)
    header = ContainerReader(io.BytesIO(data)).header
    assert header["source_sample_rate"] == 44_100 and header["channels"] == 3
    assert header["spectrostream"]["levels"] == [32, 16]  # channels 1+2 jointly, 3 alone
    out, _ = bandgen.decode(data, weights=weights)
    assert out.shape == (3, round(wav.shape[1] * SR / 44_100))
    # the third channel is its own mono group, its packets in channel 3's entries
    third = _decoded(model, _codes(data, channel=2, group=1), out.shape[1], 1)
    np.testing.assert_allclose(out[2:], third, atol=1e-5)


def _stream_kbps(bgn: Path, seconds: float, channels: int) -> float:
    """Rate of the frames (codes + framing), per channel: the file less its fixed header."""
    with open(bgn, "rb") as f:
        header = ContainerReader(f).header
    body = bgn.stat().st_size - len(encode_header(header, version=1))
    return body * 8 / 1000 / seconds / channels


@pytest.mark.parametrize(
    ("kind", "kbps", "expected"),
    [
        ("speech", 2.7, 2.7),
        ("speech", 6.0, 6.0),
        ("speech", 16.0, 16.0),
        ("music", 2.7, 2.7),
        ("music", 6.0, 6.0),
        ("music", 16.0, 8.0),  # stereo is capped at 16 kbps for the pair
    ],
)
def test_cli_rates(
    tmp_path: Path,
    weights: Path,
    synth_clip: Callable[..., np.ndarray],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    kbps: float,
    expected: float,
) -> None:
    wav = synth_clip(kind, seconds=10.0)
    src, bgn = tmp_path / f"{kind}.flac", tmp_path / "x.bgn"
    sf.write(str(src), wav.T, SR, subtype="PCM_24")
    args = ["encode", str(src), str(bgn), "--core", "spectrostream", "--bitrate", str(kbps)]
    assert main([*args, "--weights", str(weights), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert ("bandgen: warning:" in err and "at most 16 kbps" in err) == (expected != kbps)
    measured = _stream_kbps(bgn, 10.0, wav.shape[0])
    assert abs(measured / expected - 1) < 0.05, measured
    assert main(["info", str(bgn)]) == 0
    assert "core:        spectrostream at 48000 Hz" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["speech", "music"])
def test_cli_round_trip(
    tmp_path: Path,
    weights: Path,
    model: SpectroStream,
    synth_clip: Callable[..., np.ndarray],
    kind: str,
) -> None:
    wav = synth_clip(kind, seconds=2.5)
    src, bgn, out = tmp_path / "in.wav", tmp_path / "x.bgn", tmp_path / "out.wav"
    sf.write(str(src), wav.T, SR, subtype="FLOAT")
    enc = ["encode", str(src), str(bgn), "--core", "spectrostream", "--hf", "none"]
    assert main([*enc, "--bitrate", "5.3", "--weights", str(weights), "--no-progress"]) == 0
    assert main(["decode", str(bgn), str(out), "--weights", str(weights), "--no-progress"]) == 0
    decoded, rate = sf.read(str(out), dtype="float32", always_2d=True)
    expected = _decoded(model, _codes(bgn.read_bytes()), wav.shape[1], wav.shape[0])
    assert rate == SR
    np.testing.assert_allclose(decoded.T, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hf", "sbr"], "takes no high-band method"),
        (["--side-kbps", "1"], "takes no option side_kbps"),
        (["--bitrate", "0.05"], "at least"),
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
    args = ["encode", str(src), str(bgn), "--core", "spectrostream", "--weights", str(weights)]
    assert main([*args, *extra, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bandgen: error:") and message in err
    assert not bgn.exists()


def test_models_are_named_and_checked(
    tmp_path: Path, weights: Path, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("speech", seconds=0.5)
    with pytest.raises(ConfigError, match="no shipped spectrostream model"):
        bandgen.encode(wav, SR, core="spectrostream", model="no-such-model")
    data = bandgen.encode(wav, SR, core="spectrostream", bitrate_kbps=3, weights=weights)
    with pytest.raises(BitstreamError, match=r"not shipped.*--weights"):
        bandgen.decode(data)
    other = _export(tmp_path / "other.safetensors", 1, wav)
    with pytest.raises(BitstreamError, match="sha256"):
        bandgen.decode(data, weights=other)


def test_truncated_and_corrupt_streams(
    weights: Path, synth_clip: Callable[..., np.ndarray]
) -> None:
    wav = synth_clip("speech", seconds=4.5)  # 3 frames of 2 s
    data = bandgen.encode(wav, SR, core="spectrostream", bitrate_kbps=4, weights=weights)
    with pytest.raises(BitstreamError, match="truncated"):
        bandgen.decode(data[:-100], weights=weights)
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0x10
    with pytest.raises(BitstreamError, match="CRC32"):
        bandgen.decode(bytes(corrupt), weights=weights)
    # salvaged, a truncated stream decodes its whole frames (2 of 2 s), as the whole stream
    # does but for the last embeddings, which miss the look-ahead of the frame cut off
    out, _ = bandgen.decode(data[:-100], weights=weights, salvage=True)
    whole, _ = bandgen.decode(data, weights=weights)
    assert out.shape[1] == 4 * SR
    same = 4 * SR - 2 * 1920
    np.testing.assert_allclose(out[:, :same], whole[:, :same], atol=1e-5)


def test_forged_headers_are_refused(weights: Path, synth_clip: Callable[..., np.ndarray]) -> None:
    data = bandgen.encode(
        synth_clip("speech", seconds=0.5), SR, core="spectrostream", bitrate_kbps=3, weights=weights
    )
    header = ContainerReader(io.BytesIO(data)).header
    prelude = len(encode_header(header, version=1))

    def forge(**changes: object) -> bytes:
        spec = {**header["spectrostream"], **changes.pop("spec", {})}  # type: ignore[dict-item]
        forged = {**header, **changes, "spectrostream": spec}
        return encode_header(forged, version=1) + data[prelude:]

    with pytest.raises(BitstreamError, match="levels"):
        bandgen.decode(forge(spec={"levels": [12, 12]}), weights=weights)
    with pytest.raises(BitstreamError, match="num_frames"):
        bandgen.decode(forge(num_samples=10 * SR), weights=weights)
    with pytest.raises(BitstreamError, match="hf"):
        bandgen.decode(forge(hf={"method": "sbr", "config": {}}), weights=weights)
    with pytest.raises(BitstreamError, match="packet"):
        bandgen.decode(forge(spec={"levels": [13]}), weights=weights)
    with pytest.warns(BandgenWarning, match="at most"):
        Codec.create(core="spectrostream", bitrate_kbps=20, weights=weights).encode(
            synth_clip("music", seconds=0.3), SR
        )
