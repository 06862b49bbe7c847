"""End to end: encode -> .bgn -> decode through the engine, API and container."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import bandgen
from bandgen.api import info
from bandgen.codec import Codec
from bandgen.core.align import find_lag
from bandgen.errors import AudioInputError, BitstreamError, ConfigError


@pytest.fixture(scope="module")
def music(synth_clip: Callable[..., np.ndarray]) -> np.ndarray:
    return synth_clip("music", seconds=6.0, seed=4)


@pytest.mark.parametrize("kbps", [12, 16, 24])
def test_round_trip_bitrate_and_alignment(tmp_path: Path, music: np.ndarray, kbps: int) -> None:
    src = tmp_path / "in.flac"
    sf.write(str(src), music.T, 48000, subtype="PCM_24")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    stats = bandgen.encode_file(src, tmp_path / "x.bgn", bitrate_kbps=kbps, hf="none")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest  # input untouched
    summary = info(tmp_path / "x.bgn")
    assert abs(summary.per_channel_kbps - kbps) <= 0.1 * kbps, summary
    assert summary.side_kbps == 0.0
    out = bandgen.decode_file(tmp_path / "x.bgn", tmp_path / "out.wav")
    decoded, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32", always_2d=True)
    assert sr == 48000 and decoded.shape == music.T.shape == (out.num_samples, 2)
    assert stats.num_samples == music.shape[1]
    for c in range(2):
        assert find_lag(music[c], decoded[:, c], max_lag=2000) == 0


def test_stream_and_memory_paths_agree(tmp_path: Path, music: np.ndarray) -> None:
    src = tmp_path / "in.flac"
    clip = music[:, : 3 * 48000]
    sf.write(str(src), clip.T, 48000, subtype="PCM_24")
    wav24, _ = sf.read(str(src), dtype="float32", always_2d=True)
    codec = Codec.create(bitrate_kbps=16, hf="sbr")
    data = codec.encode(wav24.T, 48000)
    bandgen.encode_file(src, tmp_path / "x.bgn", bitrate_kbps=16, hf="sbr")
    assert (tmp_path / "x.bgn").read_bytes() == data
    bandgen.decode_file(tmp_path / "x.bgn", tmp_path / "y.wav")
    from_file, _ = sf.read(str(tmp_path / "y.wav"), dtype="float32", always_2d=True)
    in_memory, rate = bandgen.decode(data)
    assert rate == 48000
    np.testing.assert_array_equal(from_file.T, in_memory)


def test_any_input_rate_gives_48k_of_same_duration(music: np.ndarray) -> None:
    from bandgen.audio.resample import resample

    wav = resample(music[:1, : 2 * 48000], 48000, 22050)
    out = Codec.decode(bandgen.load("none-16k").encode(wav, 22050))
    assert out.shape == (1, 2 * 48000)


def test_corrupt_stream_is_refused_and_salvage_recovers(tmp_path: Path, music: np.ndarray) -> None:
    data = bandgen.load("none-16k").encode(music[:1, : 4 * 48000], 48000)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(BitstreamError, match="frame"):
        bandgen.decode(bytes(bad))
    truncated = data[: int(len(data) * 0.6)]
    with pytest.raises(BitstreamError, match="salvage"):
        bandgen.decode(truncated)
    part, _ = bandgen.decode(truncated, salvage=True)
    full, _ = bandgen.decode(data)
    assert 0.4 * full.shape[1] < part.shape[1] < 0.7 * full.shape[1]
    # what was salvaged is what the whole stream decodes to, away from the cut (the 8 kHz
    # core's resampler flushes at the cut; its filter reaches back about 6000 samples)
    keep = part.shape[1] - 8192
    np.testing.assert_array_equal(part[:, :keep], full[:, :keep])


def test_bad_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros((0, 1), np.float32), 48000)
    with pytest.raises(AudioInputError, match="no audio samples"):
        bandgen.encode_file(empty, tmp_path / "x.bgn")
    assert not (tmp_path / "x.bgn").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["empty.wav"]
    with pytest.raises(ConfigError, match="form"):
        bandgen.load("twelve")
    with pytest.raises(ConfigError, match="positive"):
        Codec.create(bitrate_kbps=0)
    with pytest.raises(ConfigError, match="is the input"):
        bandgen.encode_file(empty, empty)
