"""Scoring another codec's files (``--files``): alignment, cut, missing files, payload rate."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bandgen.errors import ConfigError
from bandgen.eval import evaluate
from bandgen.eval.files import FilesCodec, load_coded, parse_files, payload_bytes
from bandgen.eval.measures import MeasureConfig, compute, output_bandwidth_hz
from bandgen.eval.specs import code, parse_spec

SR = 48_000


def _clip(channels: int, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """Band-limited noise with a few tones, float32 ``[C, T]``: easy to cross-correlate."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    tones = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((330.0, 1250.0, 3100.0)))
    wav = 0.05 * tones + 0.05 * rng.standard_normal((channels, t.size))
    return wav.astype(np.float32)


def _write(path: Path, wav: np.ndarray, codec: str, bit_rate: int | None = None) -> int:
    """Write ``wav [C, T]`` with PyAV's encoder ``codec``; returns the bytes of packets muxed."""
    import av

    layout = "mono" if wav.shape[0] == 1 else "stereo"
    muxed = 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=SR, layout=layout)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        frame_size = stream.codec_context.frame_size or 1024
        sample_format = stream.codec_context.format.name
        for start in range(0, wav.shape[1], frame_size):
            block = np.ascontiguousarray(wav[:, start : start + frame_size])
            if sample_format == "s16":
                data = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            else:  # fltp: one plane per channel
                data = block
            frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
            frame.sample_rate = SR
            frame.pts = start
            for packet in stream.encode(frame):
                muxed += packet.size
                container.mux(packet)
        for packet in stream.encode(None):
            muxed += packet.size
            container.mux(packet)
    return muxed


def _delayed(wav: np.ndarray, lag: int, tail: int) -> np.ndarray:
    """``wav`` lagging by ``lag`` samples, with ``tail`` extra samples of noise at the end."""
    extra = 0.02 * np.random.default_rng(9).standard_normal((wav.shape[0], tail))
    return np.concatenate([np.zeros((wav.shape[0], lag)), wav, extra], axis=1).astype(np.float32)


def test_parse_files_declarations() -> None:
    assert parse_files("heaac@3009=a/{clip}_{kbps}k.m4a") == FilesCodec(
        "heaac", "a/{clip}_{kbps}k.m4a", 3009
    )
    assert parse_files("x=d/{clip}.wav").lag is None
    assert parse_files("x@auto=d/{clip}.wav").lag is None
    assert parse_files("x@-5=d/{clip}.wav").lag == -5
    assert parse_files("h=a/{clip}_{kbps}k.m4a").path("c1", 12.0) == Path("a/c1_12k.m4a")
    for bad, message in (
        ("x@soon=d/{clip}.wav", "NAME\\[@LAG\\]=PATTERN"),
        ("d/{clip}.wav", "NAME\\[@LAG\\]=PATTERN"),
        ("x=d/all.wav", "lacks \\{clip\\}"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_files(bad)
    spec = parse_spec("files:h:12", files={"h": parse_files("h=d/{clip}.wav")})
    assert (spec.kind, spec.method, spec.kbps, spec.family) == ("files", "h", 12.0, "files:h")
    with pytest.raises(ConfigError, match="no --files other"):
        parse_spec("files:other:12", files={"h": parse_files("h=d/{clip}.wav")})


@pytest.mark.parametrize("lag", [300, None], ids=["fixed", "auto"])
def test_lag_removed_and_cut_to_reference(tmp_path: Path, lag: int | None) -> None:
    ref = _clip(2)
    _write(tmp_path / "c1_12k.flac", _delayed(ref, 300, tail=2000), "flac")
    codec = FilesCodec("f", str(tmp_path / "{clip}_{kbps}k.flac"), lag)
    got = load_coded(codec, 12.0, "c1", ref)
    assert got.lag == 300
    assert got.wav.shape == ref.shape  # the 2000-sample tail is cut
    np.testing.assert_allclose(got.wav, ref, atol=2 / 32768)  # 16-bit FLAC


def test_negative_lag_and_short_files(tmp_path: Path) -> None:
    ref = _clip(1)
    # 40 samples early: zeros take the place of the missing start
    _write(tmp_path / "early.flac", ref[:, 40:], "flac")
    got = load_coded(FilesCodec("f", str(tmp_path / "{clip}.flac"), None), 12.0, "early", ref)
    assert got.lag == -40
    np.testing.assert_allclose(got.wav[:, 40:], ref[:, 40:], atol=2 / 32768)
    assert not got.wav[:, :40].any()
    _write(tmp_path / "short.flac", ref[:, : ref.shape[1] // 2], "flac")
    with pytest.raises(ConfigError, match="shorter than the reference short"):
        load_coded(FilesCodec("f", str(tmp_path / "{clip}.flac"), 0), 12.0, "short", ref)
    # FFmpeg decodes mono HE-AAC v1 to two equal channels: taken as mono
    _write(tmp_path / "twin.flac", np.repeat(ref, 2, axis=0), "flac")
    twin = load_coded(FilesCodec("f", str(tmp_path / "{clip}.flac"), 0), 12.0, "twin", ref)
    np.testing.assert_allclose(twin.wav, ref, atol=2 / 32768)
    _write(tmp_path / "stereo.flac", np.concatenate([ref, -ref]), "flac")
    with pytest.raises(ConfigError, match="2 channels, but the reference"):
        load_coded(FilesCodec("f", str(tmp_path / "{clip}.flac"), 0), 12.0, "stereo", ref)
    with pytest.raises(ConfigError, match="no file"):
        load_coded(FilesCodec("f", str(tmp_path / "{clip}.flac"), 0), 12.0, "absent", ref)


def test_rate_is_the_packet_payload(tmp_path: Path) -> None:
    ref = _clip(2, seconds=1.0)
    path = tmp_path / "c1_32k.m4a"
    muxed = _write(path, ref, "aac", bit_rate=64_000)
    assert payload_bytes(path) == muxed
    codec = FilesCodec("aac", str(tmp_path / "{clip}_{kbps}k.m4a"))
    coded = code(
        parse_spec("files:aac:32", files={"aac": codec}), ref, clip_id="c1", files={"aac": codec}
    )
    # 8 bit/byte over 1 s and 2 channels; the whole file (MP4 boxes) costs more
    assert coded.kbps == pytest.approx(8 * muxed / 2 / 1000)
    assert 20 < coded.kbps < 45
    assert coded.info["file_kbps"] > coded.kbps


def _refs(folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir()
    clips = {"t_speech_01": _clip(1, seed=1), "t_music_01": _clip(2, seed=2)}
    for name, wav in clips.items():
        sf.write(folder / f"{name}.wav", wav.T, SR, subtype="FLOAT")
    return clips


def test_eval_scores_a_folder_of_aac_files(tmp_path: Path) -> None:
    clips = _refs(tmp_path / "refs")
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    for name, wav in clips.items():
        # 700 samples of delay before the encoder, as a codec's own delay would add
        delayed = _delayed(wav, 700, tail=0)
        _write(anchors / f"{name}_32k.m4a", delayed, "aac", bit_rate=32_000 * wav.shape[0])
    report = evaluate(
        tmp_path / "refs",
        ["files:lc:32", "aac:32"],
        tmp_path / "out",
        metrics="lsd,lsd_4k,mel,bw",
        files=[f"lc={anchors}/{{clip}}_{{kbps}}k.m4a"],
        plots=False,
    )
    rows = [r for r in report.result.records if r["spec"] == "files:lc:32"]
    anchor = {r["clip"]: r["metrics"] for r in report.result.records if r["spec"] == "aac:32"}
    assert len(rows) == 2
    for r in rows:
        assert r["lag_removed"] == 700  # found by cross-correlation through a lossy codec
        assert r["lag_samples"] == 0  # and the check after alignment agrees
        assert 15 < r["kbps"] < 50
        # the same encoder at the same rate as the aac:32 anchor: the same distances
        for metric in ("lsd", "lsd_4k", "mel"):
            assert r["metrics"][metric] == pytest.approx(anchor[r["clip"]][metric], rel=0.1)
        assert r["metrics"]["bw"] > 8000
    summary = list(csv.DictReader((tmp_path / "out" / "summary.csv").read_text().splitlines()))
    row = next(r for r in summary if r["spec"] == "files:lc:32" and r["category"] == "all")
    assert float(row["kbps_min"]) <= float(row["kbps"]) <= float(row["kbps_max"])
    assert row["side_kbps"] == ""  # unknown for another codec's files
    plain = next(r for r in summary if r["spec"] == "aac:32" and r["category"] == "all")
    assert float(plain["side_kbps"]) == 0.0
    assert "| files:lc:32 |" in (tmp_path / "out" / "summary.md").read_text()


def test_missing_file_is_refused_before_any_work(tmp_path: Path) -> None:
    _refs(tmp_path / "refs")
    (tmp_path / "a").mkdir()
    _write(tmp_path / "a" / "t_music_01.flac", _clip(2), "flac")
    with pytest.raises(ConfigError, match=r"1 of 2 clips have no file .*t_speech_01\.flac"):
        evaluate(
            tmp_path / "refs",
            ["files:x:12"],
            tmp_path / "out",
            files=[f"x={tmp_path}/a/{{clip}}.flac"],
            plots=False,
        )
    assert not (tmp_path / "out" / "results").exists()


def test_output_bandwidth_and_lsd_4k() -> None:
    from scipy.signal import butter, sosfiltfilt

    noise = np.random.default_rng(3).standard_normal((1, SR)).astype(np.float32)
    low = sosfiltfilt(butter(12, 8000, fs=SR, output="sos"), noise).astype(np.float32)
    assert output_bandwidth_hz(noise, SR) == 24000
    assert 8000 <= output_bandwidth_hz(low, SR) <= 11000  # 12th order: -60 dB near 1.4 fc
    assert output_bandwidth_hz(np.zeros((1, SR)), SR) == 0
    values = compute(["lsd_hi", "lsd_4k", "bw"], noise, low, SR, MeasureConfig())
    assert values["lsd_4k"] == values["lsd_hi"] > 1
    assert values["bw"] == output_bandwidth_hz(low, SR)


def test_bandgen_specs_report_their_side_info_rate() -> None:
    wav = _clip(1, seconds=1.0)
    sbr = code(parse_spec("sbr:16"), wav)
    none = code(parse_spec("none:16"), wav)
    assert 0 < sbr.info["side_kbps"] < 6
    assert none.info["side_kbps"] == 0


def test_cli_eval_files_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bandgen import cli

    clips = _refs(tmp_path / "refs")
    (tmp_path / "a").mkdir()
    for name, wav in clips.items():
        _write(tmp_path / "a" / f"{name}_12k.flac", _delayed(wav, 64, tail=100), "flac")
    argv = ["eval", str(tmp_path / "refs"), "--codecs", "files:pcm:12", "--no-plots"]
    argv += [
        "--files",
        f"pcm@64={tmp_path}/a/{{clip}}_{{kbps}}k.flac",
        "--out",
        str(tmp_path / "o"),
    ]
    assert cli.main([*argv, "--metrics", "lsd,bw"]) == 0
    assert "| files:pcm:12 |" in capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "o" / "per_file.csv").read_text().splitlines()))
    assert [float(r["lag_removed"]) for r in rows] == [64.0, 64.0]
    assert all(float(r["lsd"]) < 0.1 for r in rows)
