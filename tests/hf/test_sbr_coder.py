"""The SBR high-band coder: registry, streaming == offline, malformed payloads, quality."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, stft

from bandgen.errors import BitstreamError
from bandgen.hf.registry import build
from bandgen.hf.sbr import SbrCoder
from bandgen.hf.sbr import decoder as sbr_decoder
from bandgen.hf.sbr.adjust import HIGH_BAND_FREE_ENERGY, HIGH_OVER_CORE_DB, bound_high_band


def _lowpass(x: np.ndarray, cutoff_hz: float = 4125.0) -> np.ndarray:
    return sosfiltfilt(butter(12, cutoff_hz, fs=48000, output="sos"), x)


def _high_band_lsd(ref: np.ndarray, test: np.ndarray, low_hz: float = 4000.0) -> float:
    """Log-spectral distance in dB over STFT bins above ``low_hz`` (2048-point Hann)."""
    _, _, a = stft(ref, 48000, nperseg=2048)
    freqs, _, b = stft(test, 48000, nperseg=2048)
    keep = freqs > low_hz
    la = 10 * np.log10(np.abs(a[keep]) ** 2 + 1e-10)
    lb = 10 * np.log10(np.abs(b[keep]) ** 2 + 1e-10)
    return float(np.mean(np.sqrt(np.mean((la - lb) ** 2, axis=0))))


@pytest.fixture(scope="module")
def clip(synth_clip: Callable[..., np.ndarray]) -> np.ndarray:
    return synth_clip("speech", seconds=3.0)[0].astype(np.float64)


def test_registry_and_config_round_trip() -> None:
    coder = build("sbr", mode_kbps=16, amp_res_db=1.5)
    assert isinstance(coder, SbrCoder)
    config = json.loads(json.dumps(coder.config()))
    again = build("sbr", **config)
    assert again.config() == coder.config() and again.frame_length == 2048
    assert (coder.crossover_hz, coder.stop_hz) == (4125.0, 12000.0)


@pytest.mark.parametrize("mode", [12, 24])
def test_streaming_equals_offline(mode: int, rng: np.random.Generator) -> None:
    n = 2048 * 4 + 777
    x = rng.standard_normal(n) * 0.1
    x[5000:5100] *= 20  # a transient
    core = _lowpass(x)
    coder = SbrCoder(mode_kbps=mode)
    payloads = coder.encode(x, core)
    assert len(payloads) == coder.num_frames(n)
    offline = coder.decode(core, payloads)
    assert offline.shape == (n,)
    dec = coder.new_decoder()
    outs, sent = [], 0
    for start in range(0, n, 1500):
        block = core[start : start + 1500]
        ready = min(len(payloads), (start + block.shape[0]) // 2048 + 1)
        outs.append(dec.push(block, payloads[sent:ready]))
        sent = ready
    outs.append(dec.push(np.zeros(0), payloads[sent:]))
    outs.append(dec.flush())
    np.testing.assert_array_equal(np.concatenate(outs), offline)


def test_malformed_payload_in_stream(rng: np.random.Generator) -> None:
    x = rng.standard_normal(2048 * 3) * 0.1
    core = _lowpass(x)
    coder = SbrCoder()
    payloads = coder.encode(x, core)
    with pytest.raises(BitstreamError, match="SBR frame 1"):
        coder.decode(core, [payloads[0], payloads[1][:-2], payloads[2]])
    with pytest.raises(BitstreamError):
        coder.decode(core, [b"\xff\xff\xff"] * 3)


def test_quality_beats_lowpassed_core(clip: np.ndarray) -> None:
    core = _lowpass(clip)
    coder = SbrCoder(mode_kbps=16)
    payloads = coder.encode(clip, core)
    out = coder.decode(core, payloads)
    kbps = sum(8 * len(p) for p in payloads) / (clip.shape[0] / 48000) / 1000
    assert 0.5 < kbps < 4.0
    lsd_core, lsd_sbr = _high_band_lsd(clip, core), _high_band_lsd(clip, out)
    assert lsd_sbr < lsd_core - 2.0, (lsd_core, lsd_sbr)
    # The low band passes through the QMF pair untouched.
    low = _lowpass(out, 3500.0) - _lowpass(core, 3500.0)
    assert np.sqrt(np.mean(low[2000:-2000] ** 2)) < 3e-3 * np.sqrt(
        np.mean(core**2)
    )  # QMF pair: ~60 dB SNR


def test_streaming_encoder_equals_offline(synth_clip: Callable[..., np.ndarray]) -> None:
    """Blocks of any size give the whole-signal payloads (bounded-memory encoding)."""
    from bandgen.audio.resample import resample
    from bandgen.hf.sbr import SbrCoder

    sr = 48_000
    x = synth_clip("music", seconds=2.5, seed=5)[0]
    core = resample(resample(x, sr, 8000), 8000, sr)
    coder = SbrCoder(mode_kbps=16)
    offline = coder.encode(x, core)
    enc = coder.new_encoder()
    rng = np.random.default_rng(1)
    streamed: list[bytes] = []
    i = 0
    while i < x.shape[0]:
        n = int(rng.integers(1, 6000))
        streamed += enc.push(x[i : i + n], core[i : i + n])
        i += n
    streamed += enc.flush()
    assert streamed == offline and len(offline) == coder.num_frames(x.shape[0])


def _forge_frames(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Well-formed but forged side info: every parsed frame gets random envelope codes up to
    the loudest (127), random noise floors and sinusoids in random bands."""
    rng = np.random.default_rng(seed)
    read = sbr_decoder.read_frame

    def forged(*args: object) -> object:
        frame = read(*args)  # type: ignore[arg-type]
        return dataclasses.replace(
            frame,
            env=tuple(tuple(int(v) for v in rng.integers(0, 128, len(e))) for e in frame.env),
            noise=tuple(tuple(int(v) for v in rng.integers(0, 31, len(e))) for e in frame.noise),
            sines=tuple(int(v) for v in rng.integers(0, 2, len(frame.sines))),
        )

    monkeypatch.setattr(sbr_decoder, "read_frame", forged)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forged_envelopes_cannot_blast(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forged envelopes decoded to peaks of 10^12; the high band now stays near the core."""
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.standard_normal(2048 * 4)
    core = _lowpass(x)
    coder = SbrCoder()
    payloads = coder.encode(x, core)
    _forge_frames(monkeypatch, seed)
    assert np.abs(coder.decode(core, payloads)).max() < 4.0  # the decoder's output limit
    monkeypatch.setattr(sbr_decoder, "bound_high_band", lambda low, high: high)
    _forge_frames(monkeypatch, seed)
    assert np.abs(coder.decode(core, payloads)).max() > 100.0  # what the bound stops


def test_bound_high_band_scales_only_the_steps_over_it(rng: np.random.Generator) -> None:
    low = rng.standard_normal((8, 10)) + 1j * rng.standard_normal((8, 10))
    high = 0.1 * (rng.standard_normal((8, 20)) + 1j * rng.standard_normal((8, 20)))
    high[4:] *= 1000.0  # the second step of 4 slots: far over the core
    out = bound_high_band(low, high)
    np.testing.assert_array_equal(out[:4], high[:4])
    ceiling = max(
        np.mean(np.sum(np.abs(low[4:]) ** 2, 1)) * 10 ** (HIGH_OVER_CORE_DB / 10),
        HIGH_BAND_FREE_ENERGY,
    )
    assert np.mean(np.sum(np.abs(out[4:]) ** 2, 1)) == pytest.approx(ceiling)


def test_bound_leaves_normal_decodes_unchanged(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = _lowpass(clip)
    coder = SbrCoder()
    payloads = coder.encode(clip, core)
    bounded = coder.decode(core, payloads)
    monkeypatch.setattr(sbr_decoder, "bound_high_band", lambda low, high: high)
    np.testing.assert_array_equal(bounded, coder.decode(core, payloads))
