"""``--salvage``: damaged frames are skipped and concealed, the rest decodes as if intact."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import stft

import bandgen
from bandgen.bitstream import (
    encode_end,
    encode_frame,
    encode_header,
    read_container,
    write_container,
)
from bandgen.bitstream.container import ChannelFrame, ContainerReader, Frame
from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.decoder import OUTPUT_LIMIT, Concealment, limit_output
from bandgen.errors import BitstreamError
from bandgen.hf.sbr import SbrCoder
from bandgen.hf.sbr import decoder as sbr_decoder
from bandgen.hf.sbr.encoder import REFRESH_FRAMES

SECONDS = 4


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """A tone with noise that swells and fades: a high band worth regenerating."""
    rng = np.random.default_rng(0)
    t = np.arange(SECONDS * 48000) / 48000
    noise = 0.05 * rng.standard_normal(t.size) * (1 + np.sin(2 * np.pi * 3 * t))
    return (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)[None]


def _damage(data: bytes, frame: int) -> tuple[bytes, int, int]:
    """Flip a byte inside frame ``frame``'s body; returns the data and the frame's byte span."""
    header, frames = read_container(data)
    sizes = [len(encode_frame(f, seq=i)) for i, f in enumerate(frames)]
    end = len(encode_end({k: header[k] for k in ("num_frames", "num_samples")}))
    start = len(data) - end - sum(sizes) + sum(sizes[:frame])
    bad = bytearray(data)
    bad[start + sizes[frame] // 2] ^= 0x10
    return bytes(bad), start, start + sizes[frame]


def _band_energy(wav: np.ndarray, lo: float, hi: float) -> float:
    f, _, spec = stft(wav, 48000, nperseg=1024)
    return float(np.sum(np.abs(spec[(f > lo) & (f < hi)]) ** 2))


@pytest.mark.parametrize("core", ["aac", "opus", "mp3"])
def test_core_resumes_exactly_after_a_damaged_frame(music: np.ndarray, core: str) -> None:
    """One flipped byte cost 49 % of a file; now only its frame (and 5 ms fades) is lost."""
    data = Codec.create(bitrate_kbps=16, core=core, hf="none").encode(music, 48000)
    clean = Codec.decode(data)
    bad, _, _ = _damage(data, 3)
    got = Codec.decode(bad, salvage=True)
    assert got.shape == clean.shape
    differs = np.nonzero(np.abs(got - clean)[0] > 1e-4)[0]
    # the lost frame (0.5 s), the fades and the core decoder settling, nothing more
    assert differs.max() - differs.min() < 0.9 * 48000
    assert np.abs(got).max() <= np.abs(clean).max() * 1.05


@pytest.mark.parametrize("core", ["aac", "opus"])
def test_core_resumes_exactly_after_a_missing_frame(music: np.ndarray, core: str) -> None:
    """A frame cut out whole (no damaged bytes left to count) is found by its number."""
    data = Codec.create(bitrate_kbps=16, core=core, hf="none").encode(music, 48000)
    clean = Codec.decode(data)
    _, start, end = _damage(data, 2)
    cut = data[:start] + data[end:]
    with pytest.raises(BitstreamError, match="sequence number 3 where 2 was expected"):
        Codec.decode(cut)
    got = Codec.decode(cut, salvage=True)
    assert got.shape == clean.shape
    differs = np.nonzero(np.abs(got - clean)[0] > 1e-4)[0]
    assert differs.max() - differs.min() < 0.9 * 48000
    assert np.abs(got[:, -48000:] - clean[:, -48000:]).max() <= 1e-4  # in step after it


def test_high_band_restarts_and_nothing_blasts(music: np.ndarray) -> None:
    data = Codec.create(bitrate_kbps=16, hf="sbr").encode(music, 48000)
    clean = Codec.decode(data)
    bad, _, _ = _damage(data, 3)  # 1.5-2 s
    got = Codec.decode(bad, salvage=True)
    assert got.shape == clean.shape
    assert np.abs(got).max() <= np.abs(clean).max() * 1.05
    tail = slice(-2 * 48000, None)  # well after the gap
    ratio = _band_energy(got[0, tail], 5000, 11000) / _band_energy(clean[0, tail], 5000, 11000)
    assert 0.9 < ratio < 1.1
    head = slice(0, 48000)  # before the gap: what the intact stream decodes to
    np.testing.assert_array_equal(got[:, head], clean[:, head])


def test_sbr_sends_an_independent_payload_every_second(music: np.ndarray) -> None:
    coder = SbrCoder.for_bitrate(16)
    core = music[0] * 0.5  # any aligned stand-in for a decoded core
    payloads = coder.encode(music[0], core)
    starts = [i for i, p in enumerate(payloads) if coder.independent(p)]
    assert starts[0] == 0
    assert max(np.diff(starts)) <= REFRESH_FRAMES


def test_decode_file_reports_what_was_lost(
    tmp_path: Path, music: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Codec.create(bitrate_kbps=16, hf="sbr").encode(music, 48000)
    bad, start, end = _damage(data, 3)
    (tmp_path / "bad.bgn").write_bytes(bad)
    stats = bandgen.decode_file(tmp_path / "bad.bgn", tmp_path / "o.wav", salvage=True)
    assert stats.salvaged and not stats.truncated
    assert (stats.gaps, stats.lost_frames) == (1, 1)
    assert 0.4 < stats.lost_s < 0.6 and stats.core_only_s < 1.2  # one 0.5-s frame
    assert stats.limited_s == 0.0
    assert stats.num_samples == music.shape[1]
    with open(tmp_path / "bad.bgn", "rb") as f:
        reader = ContainerReader(f, salvage=True)
        list(reader)
    assert (reader.gaps[0].byte_offset, reader.gaps[0].num_bytes) == (start, end - start)
    capsys.readouterr()
    args = ["decode", str(tmp_path / "bad.bgn"), str(tmp_path / "c.wav"), "--salvage"]
    assert main([*args, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 damaged stretch" in err and "replaced by silence" in err


def test_limit_output_clips_and_counts() -> None:
    counts = Concealment()
    sound = np.full((2, 5), 0.5, np.float32)
    assert limit_output(sound, counts) is sound and counts.limited_samples == 0
    bad = sound.copy()
    bad[0, 1], bad[1, 1], bad[1, 3], bad[0, 4] = 50.0, -7.0, np.nan, -np.inf
    out = limit_output(bad, counts)
    assert counts.limited_samples == 3  # sample times with any channel out of bounds
    np.testing.assert_array_equal(out[:, 1], [OUTPUT_LIMIT, -OUTPUT_LIMIT])
    assert out[1, 3] == 0.0 and out[0, 4] == -OUTPUT_LIMIT and np.isfinite(out).all()


def test_decoder_limits_a_blasting_high_band_and_says_so(
    tmp_path: Path,
    music: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Whatever gets past the high-band bounds, the output stays within +12 dBFS."""
    (tmp_path / "in.bgn").write_bytes(Codec.create(bitrate_kbps=16, hf="sbr").encode(music, 48000))
    stats = bandgen.decode_file(tmp_path / "in.bgn", tmp_path / "clean.wav")
    assert stats.limited_s == 0.0
    monkeypatch.setattr(sbr_decoder, "bound_high_band", lambda low, high: high * 1000.0)
    stats = bandgen.decode_file(tmp_path / "in.bgn", tmp_path / "loud.wav")
    assert 0.0 < stats.limited_s <= SECONDS and not stats.salvaged
    loud, _ = sf.read(tmp_path / "loud.wav", dtype="float32")
    assert np.abs(loud).max() <= OUTPUT_LIMIT
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "in.bgn"), str(tmp_path / "c.wav"), "--no-progress"]) == 0
    assert "beyond +12 dBFS and was limited" in capsys.readouterr().err


def _mutated(payload: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(payload) or bytearray(b"\0")
    kind = int(rng.integers(3))
    if kind == 0:
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        del data[int(rng.integers(len(data))) :]
    else:
        data = bytearray(rng.bytes(len(data)))
    return bytes(data)


def _fuzz_frames(cases: int, seed: int) -> None:
    """Garble packets/payloads (CRCs recomputed) or raw bytes; salvage must decode sanely."""
    rng = np.random.default_rng(seed)
    wav = (0.2 * rng.standard_normal((1, 24000))).astype(np.float32)
    streams = [
        Codec.create(bitrate_kbps=16, hf="sbr", core=core).encode(wav, 48000)
        for core in ("aac", "opus", "mp3")
    ]
    for case in range(cases):
        data = streams[case % 3]
        header, frames = read_container(data)
        if case % 2:  # structure-aware: garble one packet or payload, valid CRC
            index = int(rng.integers(len(frames)))
            ch = frames[index].channels[0]
            core, side = list(ch.core), list(ch.side)
            which = side if side and rng.random() < 0.5 else core
            if which:
                k = int(rng.integers(len(which)))
                which[k] = _mutated(which[k], rng)
            frames[index] = Frame((ChannelFrame(tuple(core), tuple(side)),))
            buf = io.BytesIO()
            write_container(buf, header, frames)
            data = buf.getvalue()
        else:  # raw damage past the header
            bad = bytearray(data)
            start = len(encode_header(header))
            for _ in range(3):
                bad[int(rng.integers(start, len(bad)))] = int(rng.integers(256))
            data = bytes(bad)
        try:
            out = Codec.decode(data, salvage=True)
        except BitstreamError:
            continue  # e.g. a frame whose garbled packets the core refuses outright
        # a damaged end record leaves the length unknown: the output is what the frames
        # decode to, at most the core's last packet and the resampler's tail beyond it
        assert np.isfinite(out).all() and out.shape[1] <= header["num_samples"] + 3000, case
        assert np.abs(out).max(initial=0) < 2.5, case


def test_fuzzed_frames_never_crash_or_blast_when_salvaging() -> None:
    """Frame bodies with packets and payloads garbled (CRCs recomputed) and raw damage:
    salvage decodes every case to finite audio no longer than the header and never louder
    than +6 dBFS (a lost MP3 bit reservoir decoded to 291, forged SBR side info to 2000)."""
    _fuzz_frames(240, seed=7)


@pytest.mark.slow
def test_many_fuzzed_frames() -> None:
    """The long run: ``$BANDGEN_FUZZ_CASES`` (default 100 000) damaged streams."""
    _fuzz_frames(int(os.environ.get("BANDGEN_FUZZ_CASES", "100000")), seed=1)
