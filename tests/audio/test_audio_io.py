"""Audio input in every format PyAV decodes, atomic output, and clear input errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from bandgen.audio.io import AudioWriter, iter_audio, probe, read_audio, write_audio
from bandgen.audio.resample import StreamResampler, resample
from bandgen.errors import AudioInputError, ConfigError

# (extension, container format, codec, sample format)
LOSSY = [
    ("mp3", "mp3", "libmp3lame", "s16p"),
    ("m4a", "ipod", "aac", "fltp"),
    ("ogg", "ogg", "libopus", "flt"),
    ("opus", "opus", "libopus", "flt"),
]


def _write_with_pyav(
    path: Path, wav: np.ndarray, rate: int, fmt: str, codec: str, sample_fmt: str
) -> None:
    """Encode float32 [C, T] with PyAV into ``path``."""
    channels = wav.shape[0]
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
        frame_size = 960 if "opus" in codec else 1152 if "mp3" in codec else 1024
        pts = 0
        for start in range(0, wav.shape[1], frame_size):
            block = wav[:, start : start + frame_size]
            if block.shape[1] < frame_size:
                block = np.pad(block, ((0, 0), (0, frame_size - block.shape[1])))
            if sample_fmt.endswith("p"):
                data = block if sample_fmt == "fltp" else (block * 32767).astype(np.int16)
            else:
                data = block.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data), format=sample_fmt, layout=stream.layout.name
            )
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += frame_size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def music(synth_clip: Callable[..., np.ndarray]) -> np.ndarray:
    return synth_clip("music", seconds=1.0)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_lossless_any_rate_and_channels(
    tmp_path: Path, music: np.ndarray, rate: int, channels: int, ext: str
) -> None:
    wav = resample(music[:channels], 48000, rate)
    path = tmp_path / f"x.{ext}"
    sf.write(str(path), wav.T, rate, subtype="PCM_24")
    got, sr = read_audio(path)
    assert sr == rate and got.shape == wav.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, wav, atol=2e-7 * 2**8)
    assert probe(path).channels == channels


@pytest.mark.parametrize(("ext", "fmt", "codec", "sample_fmt"), LOSSY)
@pytest.mark.parametrize("channels", [1, 2])
def test_lossy_formats_decode(
    tmp_path: Path,
    music: np.ndarray,
    ext: str,
    fmt: str,
    codec: str,
    sample_fmt: str,
    channels: int,
) -> None:
    path = tmp_path / f"x.{ext}"
    _write_with_pyav(path, music[:channels], 48000, fmt, codec, sample_fmt)
    got, sr = read_audio(path)
    assert sr == 48000 and got.shape[0] == channels
    # lossy codecs add priming and padding; the length is within a few codec frames
    assert abs(got.shape[1] - music.shape[1]) < 4096
    assert np.sqrt(np.mean(got**2)) > 0.3 * np.sqrt(np.mean(music[:channels] ** 2))


def test_blocks_concatenate_to_whole(tmp_path: Path, music: np.ndarray) -> None:
    path = tmp_path / "x.flac"
    sf.write(str(path), music.T, 48000, subtype="PCM_24")
    blocks = list(iter_audio(path))
    assert len(blocks) > 1
    whole, _ = read_audio(path)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="not found"):
        read_audio(tmp_path / "nope.wav")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "text.wav"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioInputError, match="cannot read"):
        read_audio(path)


def test_empty_and_silent(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros((0, 1), np.float32), 48000)
    with pytest.raises(AudioInputError, match="no audio samples"):
        read_audio(empty)
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros((4800, 2), np.float32), 48000)
    with pytest.raises(AudioInputError, match="silent"):
        read_audio(silent)


def test_atomic_write_success_and_failure(tmp_path: Path, music: np.ndarray) -> None:
    path = tmp_path / "out.wav"
    write_audio(path, music, 48000)
    got, _ = sf.read(str(path), dtype="float32", always_2d=True)
    np.testing.assert_array_equal(got.T, music)
    before = path.read_bytes()
    with pytest.raises(RuntimeError), AudioWriter(path, 48000, 2) as writer:
        writer.write(music[:, :1000])
        raise RuntimeError("disk on fire")
    assert path.read_bytes() == before  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no temp left
    with pytest.raises(ConfigError, match=r"\.wav or \.flac"):
        write_audio(tmp_path / "out.mp3", music, 48000)


def test_atomic_output_gets_the_mode_of_a_plain_file(tmp_path: Path, music: np.ndarray) -> None:
    umask = os.umask(0o022)
    try:
        write_audio(tmp_path / "out.wav", music[:, :100], 48000)
    finally:
        os.umask(umask)
    assert (tmp_path / "out.wav").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


@pytest.mark.parametrize(
    ("src", "dst"), [(48000, 8000), (44100, 48000), (48000, 16000), (8000, 48000)]
)
def test_stream_resampler_equals_whole(rng: np.random.Generator, src: int, dst: int) -> None:
    wav = rng.standard_normal((2, src)).astype(np.float32)
    whole = resample(wav, src, dst)
    stream = StreamResampler(src, dst, 2)
    parts = [stream.push(wav[:, i : i + 777]) for i in range(0, wav.shape[1], 777)]
    parts.append(stream.flush())
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)
    assert whole.shape[1] == round(wav.shape[1] * dst / src)
