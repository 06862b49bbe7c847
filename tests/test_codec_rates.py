"""Rate accuracy: each file lands within 5 % of ``--bitrate``, header, framing and side info included."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bandgen.bitstream import encode_end, encode_header, read_container
from bandgen.bitstream.container import COUNT_KEYS
from bandgen.codec import Codec, framing_overhead_kbps
from bandgen.core import make_core

Synth = Callable[..., np.ndarray]


@pytest.mark.parametrize(("core", "hf"), [("aac", "none"), ("aac", "sbr"), ("opus", "none")])
@pytest.mark.parametrize("kind", ["speech", "music", "sound"])
def test_each_file_within_5_percent(synth_clip: Synth, core: str, hf: str, kind: str) -> None:
    """Was -10 % .. +21 % per file: music under-spent, noise over-spent."""
    wav = synth_clip(kind, seconds=8.0, seed=3, channels=1)
    kbps = 16.0
    data = Codec.create(bitrate_kbps=kbps, core=core, hf=hf).encode(wav, 48000)
    measured = 8 * len(data) / 8.0 / 1000
    assert abs(measured / kbps - 1) <= 0.05, measured


def test_opus_core_codes_at_a_constant_packet_size() -> None:
    """The Opus core runs CBR in a stream: the rate does not depend on the content."""
    core = make_core("opus", 12.0, exact_rate=True)
    rng = np.random.default_rng(0)
    quiet = 0.001 * rng.standard_normal(48000).astype(np.float32)
    loud = 0.3 * rng.standard_normal(48000).astype(np.float32)
    sizes = {len(p) for x in (quiet, loud) for p in core.encode(x[None])[0][1:-1]}
    assert sizes == {12000 * 20 // 1000 // 8}
    assert make_core("opus", 12.0).params.options["vbr"] == "on"  # the plain anchor is VBR


def test_charged_bits_come_out_of_the_core_budget(synth_clip: Synth) -> None:
    """Bits spent beside the packets (side info, framing) make the AAC core spend less."""
    core = make_core("aac", 12.0)
    x = synth_clip("music", seconds=6.0, sample_rate=core.sample_rate, channels=1)[0]

    def payload_kbps(charge_bps: int) -> float:
        enc = core.new_encoder(target_bit_rate=12000)
        bits = 0
        for at in range(0, x.shape[0], 800):  # 0.1 s steps
            bits += 8 * sum(len(p) for p in enc.push(x[at : at + 800]))
            enc.charge(charge_bps // 10)
        bits += 8 * sum(len(p) for p in enc.flush())
        return bits / 6.0 / 1000

    assert payload_kbps(3000) < payload_kbps(0) - 2.0
    assert abs(payload_kbps(3000) - 9.0) < 0.1 * 9.0


def test_opus_core_reaches_8_kbps() -> None:
    """``--bitrate 8`` failed with every core; Opus (CBR floor 6 kbps) now codes it."""
    codec = Codec.create(bitrate_kbps=8, core="opus", hf="none")
    assert 6.5 < codec.core.bitrate / 1000 < 8.0


@pytest.mark.parametrize("kind", ["speech", "sound"])
def test_aac_core_is_steered_down_to_its_target(synth_clip: Synth, kind: str) -> None:
    """FFmpeg's AAC encoder spends at least what its bit reservoir was sized for when opened:
    opened at its target, noisy content overspent by 11-12 % (a lower rate set later changed
    nothing). Opened at the lowest rate the control may ask, it is steered up to the target."""
    core = make_core("aac", 12.0)
    x = synth_clip(kind, seconds=6.0, sample_rate=core.sample_rate, channels=1)[0]
    enc = core.new_encoder(target_bit_rate=10_000)
    bits = 8 * sum(len(p) for p in [*enc.push(x), *enc.flush()])
    assert bits / 6.0 / 1000 < 1.06 * 10.0


@pytest.mark.parametrize(("kind", "kbps"), [("sound", 12.0), ("sound", 16.0), ("music", 16.0)])
def test_bursts_after_silence_stay_within_5_percent(
    synth_clip: Synth, kind: str, kbps: float
) -> None:
    """Seconds of silence let FFmpeg's AAC quality run up, so the bursts after them spent
    2-4x the request: +11.6 %, +6.5 % and +7.8 % before the request was held near the
    recent packets. The saved budget is still spent (half silent, yet on target)."""
    wav = synth_clip(kind, seconds=8.0, seed=3, channels=1)
    seconds = np.arange(wav.shape[1]) / 48000
    wav = (wav * ((seconds % 2.0) >= 1.0)).astype(np.float32)  # 1 s silence, 1 s sound
    data = Codec.create(bitrate_kbps=kbps, core="aac", hf="none").encode(wav, 48000)
    measured = 8 * len(data) / 8.0 / 1000
    assert abs(measured / kbps - 1) <= 0.05, measured


@pytest.mark.parametrize("kind", ["speech", "music", "sound"])
def test_short_stream_pays_for_its_last_packets(synth_clip: Synth, kind: str) -> None:
    """The packets of the codec delay and the padded last frame come out after the last
    steering decision; unreserved they put 3 s streams up to 10.6 % over their target."""
    core = make_core("aac", 12.0)
    x = synth_clip(kind, seconds=3.0, sample_rate=core.sample_rate, channels=1, seed=1)[0]
    enc = core.new_encoder(target_bit_rate=12000)
    bits = 8 * sum(len(p) for p in [*enc.push(x), *enc.flush()])
    assert abs(bits / 3.0 / 12000 - 1) <= 0.05, bits


@pytest.mark.parametrize(("core", "hf"), [("aac", "sbr"), ("opus", "none"), ("opus", "sbr")])
def test_framing_cost_is_what_the_core_was_told(synth_clip: Synth, core: str, hf: str) -> None:
    """The core gets the budget less :func:`framing_overhead_kbps`: it must be what the
    container really spends (Opus's equal packets: one length per frame, not per packet)."""
    wav = synth_clip("music", seconds=6.0, seed=2, channels=1)
    codec = Codec.create(bitrate_kbps=16.0, core=core, hf=hf)
    data = codec.encode(wav, 48000)
    header, frames = read_container(data)
    payloads = sum(len(p) for f in frames for ch in f.channels for p in (*ch.core, *ch.side))
    prelude = len(encode_header({k: v for k, v in header.items() if k not in COUNT_KEYS}))
    end = len(encode_end({k: header[k] for k in COUNT_KEYS}))
    framing_kbps = 8 * (len(data) - prelude - end - payloads) / 6.0 / 1000
    expected = framing_overhead_kbps(codec.core, codec.hf)
    assert abs(framing_kbps - expected) <= 0.1 * expected, (framing_kbps, expected)
    if (core, hf) == ("opus", "none"):
        assert framing_kbps < 0.25  # was 0.54: a length byte per 20-ms packet


def test_core_without_steering_pays_for_the_header(synth_clip: Synth) -> None:
    """Opus (CBR) cannot be steered, so nobody paid for the header: its files were +3-4 %
    over. Where the length is known the core asks for that much less."""
    wav = synth_clip("speech", seconds=3.0, seed=4, channels=1)
    codec = Codec.create(bitrate_kbps=16.0, core="opus", hf="none")
    known = codec.encode(wav, 48000)
    unknown = io.BytesIO()
    codec.encode_stream([wav], 48000, unknown)  # a stream of unknown length
    assert len(known) < len(unknown.getvalue())
    # CBR: packets of whole bytes, 400 bit/s steps
    assert abs(8 * len(known) / 3.0 / 16000 - 1) <= 0.02


def test_mp3_between_cbr_rates_codes_abr(synth_clip: Synth) -> None:
    """LAME codes a CBR request at the nearest CBR rate: ``sbr`` at 24 kbps left the core
    20.9 kbps, coded at 16 (files 19-23 % under). Off the CBR rates, the core codes ABR."""
    codec = Codec.create(bitrate_kbps=24.0, core="mp3", hf="sbr")
    assert codec.core.params.options.get("abr") == "1"
    assert "abr" not in Codec.create(bitrate_kbps=16.0, core="mp3", hf="none").core.params.options
    wav = synth_clip("music", seconds=6.0, seed=3, channels=1)
    measured = 8 * len(codec.encode(wav, 48000)) / 6.0 / 1000
    assert abs(measured / 24.0 - 1) <= 0.1, measured


@pytest.mark.parametrize(("hf", "kbps"), [("sbr", 24.0), ("sbr", 12.0)])
def test_mp3_is_calibrated_in_two_passes(hf: str, kbps: float) -> None:
    """LAME takes no new rate once opened and its ABR follows the content: a pure tone came
    out 7-10 % under in one pass. Where the input can be read again, a measuring pass scales
    the request."""
    t = np.arange(3 * 48000) / 48000
    wav = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    one_pass = Codec.create(bitrate_kbps=kbps, core="mp3", hf=hf)
    single = one_pass.encode_stream([wav], 48000, io.BytesIO(), duration_s=3.0)
    assert 8 * single.total_bytes / 3.0 / 1000 < 0.95 * kbps  # the miss the passes correct
    codec = Codec.create(bitrate_kbps=kbps, core="mp3", hf=hf)
    measured = 8 * len(codec.encode(wav, 48000)) / 3.0 / 1000
    assert abs(measured / kbps - 1) <= 0.05, measured
    assert codec.core_rate_scale > 1.0


def test_steered_and_cbr_cores_code_in_one_pass(synth_clip: Synth) -> None:
    """Only a two-pass core reads its input more than once."""
    wav = synth_clip("speech", seconds=1.0, seed=2, channels=1)
    for core in ("aac", "opus"):
        codec = Codec.create(bitrate_kbps=16.0, core=core, hf="sbr")
        calls = []

        def blocks(wav: np.ndarray = wav, calls: list[int] = calls) -> list[np.ndarray]:
            calls.append(1)
            return [wav]

        codec.calibrate(blocks, 48000, duration_s=1.0)
        assert calls == [] and codec.core_rate_scale == 1.0


def test_encode_file_calibrates_an_mp3_core(tmp_path: Path) -> None:
    import soundfile as sf

    from bandgen.api import encode_file

    t = np.arange(3 * 48000) / 48000
    src, dst = tmp_path / "tone.wav", tmp_path / "tone.bgn"
    sf.write(str(src), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    stats = encode_file(src, dst, bitrate_kbps=24.0, core="mp3", hf="sbr")
    measured = 8 * dst.stat().st_size / 3.0 / 1000
    assert stats.total_bytes == dst.stat().st_size
    assert abs(measured / 24.0 - 1) <= 0.05, measured
