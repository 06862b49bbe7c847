"""Joint stereo (:mod:`bandgen.stereo`): mid/side coding with an uneven bit split."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from bandgen.bitstream import ContainerReader
from bandgen.codec import Codec
from bandgen.errors import BitstreamError, ConfigError
from bandgen.stereo import StereoConfig, to_left_right, to_mid_side


def _stereo(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A nearly centred pair ``[2, T]``: shared tones and noise, a little of each side alone."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 48_000)
    t = np.arange(n) / 48_000
    common = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 1250 * t)
    common += 0.02 * np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    own = 0.01 * rng.standard_normal((2, n))
    return (np.stack([common, 0.8 * common]) + own).astype(np.float32)


def _core_bytes(data: bytes) -> list[int]:
    sizes = [0, 0]
    for frame in ContainerReader(io.BytesIO(data)):
        for c, ch in enumerate(frame.channels):
            sizes[c] += sum(len(p) for p in ch.core)
    return sizes


def test_rotation_is_exact() -> None:
    wav = _stereo(0.1)
    ms = to_mid_side(wav)
    np.testing.assert_allclose(ms[0], wav.mean(axis=0), atol=1e-7)
    np.testing.assert_allclose(to_left_right(ms), wav, atol=1e-6)


def test_mid_side_splits_the_bits_and_decodes_to_left_right() -> None:
    wav = _stereo()
    plain = Codec.create(bitrate_kbps=16, hf="sbr")
    joint = Codec.create(bitrate_kbps=16, hf="sbr", stereo="ms", side_share=0.25)
    data = joint.encode(wav, 48_000)
    header = ContainerReader(io.BytesIO(data)).header
    assert header["stereo"] == {"mode": "ms", "side_share": 0.25}
    mid, side = _core_bytes(data)
    assert side < 0.6 * mid  # the side channel gets a quarter of the pair's bits, not a half
    lr_data = plain.encode(wav, 48_000)
    assert "stereo" not in ContainerReader(io.BytesIO(lr_data)).header
    assert len(data) == pytest.approx(len(lr_data), rel=0.05)  # the same total rate
    out = Codec.decode(data)
    assert out.shape == wav.shape
    # the decoder rotates back: its channels are mid + side and mid - side
    level = [float(np.sqrt(np.mean(x**2))) for x in out]
    assert level[1] / level[0] == pytest.approx(0.8, abs=0.08)
    assert np.corrcoef(out)[0, 1] > 0.95


def test_mono_input_stays_per_channel() -> None:
    wav = _stereo(1.0)[:1]
    joint = Codec.create(bitrate_kbps=16, hf="none", stereo="ms")
    data = joint.encode(wav, 48_000)
    assert "stereo" not in ContainerReader(io.BytesIO(data)).header
    assert data == Codec.create(bitrate_kbps=16, hf="none").encode(wav, 48_000)


def test_bad_options_and_headers_are_refused() -> None:
    with pytest.raises(ConfigError, match="add stereo='ms'"):
        Codec.create(bitrate_kbps=16, hf="none", side_share=0.2)
    with pytest.raises(ConfigError, match="side_share must be between"):
        Codec.create(bitrate_kbps=16, hf="none", stereo="ms", side_share=0.9)
    with pytest.raises(ConfigError, match="unknown stereo mode"):
        StereoConfig("xy")
    data = Codec.create(bitrate_kbps=16, hf="none", stereo="ms").encode(_stereo(0.5), 48_000)
    header = json.loads(json.dumps(ContainerReader(io.BytesIO(data)).header))
    for bad in ({"mode": "lr", "side_share": 0.3}, {"mode": "ms"}, {"mode": "ms", "side_share": 2}):
        with pytest.raises(BitstreamError, match=r"corrupt \.bgn header"):
            Codec.from_header({**header, "stereo": bad})
    with pytest.raises(BitstreamError, match="stereo mode ms with 1 channels"):
        Codec.from_header({**header, "channels": 1})


def test_cli_stereo_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bandgen.cli import main

    src, bgn = tmp_path / "in.wav", tmp_path / "out.bgn"
    sf.write(str(src), _stereo(0.5).T, 48_000, subtype="FLOAT")
    args = ["encode", str(src), str(bgn), "--no-progress", "--hf", "none", "--bitrate", "16"]
    assert main([*args, "--stereo", "ms", "--side-share", "0.2"]) == 0
    header = ContainerReader(io.BytesIO(bgn.read_bytes())).header
    assert header["stereo"] == {"mode": "ms", "side_share": 0.2}
    capsys.readouterr()
    assert main([*args, "-f", "--side-share", "0.2"]) == 2
    assert "--stereo ms" in capsys.readouterr().err


def test_high_band_is_coded_per_left_and_right() -> None:
    """Mid and side go to the cores, but the high band is coded on left and right: a high
    band in the left channel alone stays out of the right one (generated for mid and side
    independently, it would leak into both)."""
    rng = np.random.default_rng(3)
    n = 3 * 48_000
    t = np.arange(n) / 48_000
    low = 0.2 * np.sin(2 * np.pi * 440 * t)
    hiss = 0.05 * rng.standard_normal(n)
    sos = butter(8, 9000, btype="high", fs=48_000, output="sos")
    wav = np.stack([low + sosfiltfilt(sos, hiss), 0.9 * low]).astype(np.float32)
    out = Codec.decode(Codec.create(bitrate_kbps=16, hf="sbr", stereo="ms").encode(wav, 48_000))
    high = sosfiltfilt(sos, out, axis=-1)
    level = np.sqrt(np.mean(high**2, axis=-1))
    assert level[0] > 0.01 and level[1] < 0.2 * level[0]
