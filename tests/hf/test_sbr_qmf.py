"""QMF bank of the SBR tool: reconstruction, streaming, band selectivity."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bandgen.dsp import qmf


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((test - ref) ** 2)))


@pytest.mark.parametrize("length", [64, 1000, 4096, 9601])
def test_reconstruction_noise(rng: np.random.Generator, length: int) -> None:
    x = rng.standard_normal(length)
    y = qmf.synthesis(qmf.analysis(x))
    assert y.shape[0] >= length
    assert _snr_db(x, y[:length]) > 58.0


def test_reconstruction_music(synth_clip: Callable[..., np.ndarray]) -> None:
    x = synth_clip("music", seconds=2.0)[0].astype(np.float64)
    assert _snr_db(x, qmf.synthesis(qmf.analysis(x))[: x.shape[0]]) > 58.0


def test_prototype_properties() -> None:
    p = qmf.prototype_filter()
    assert p.shape == (640,)
    np.testing.assert_allclose(p, p[::-1], atol=1e-15)
    power = np.sum(p.reshape(-1, 64) ** 2, axis=0)
    np.testing.assert_allclose(64 * power, 1.0, atol=1e-12)
    response = np.abs(np.fft.rfft(p, 1 << 16))
    freqs = np.linspace(0, np.pi, response.shape[0])
    assert response[freqs > 1.5 * np.pi / 64].max() / response[0] < 10 ** (-70 / 20)


def test_streaming_equals_offline(rng: np.random.Generator) -> None:
    x = rng.standard_normal(64 * 50)
    ana, syn = qmf.QmfAnalysis(), qmf.QmfSynthesis()
    chunks = [syn.process(ana.process(x[i : i + 448])) for i in range(0, x.shape[0], 448)]
    streamed = np.concatenate(chunks)
    offline = qmf.synthesis(qmf.analysis(x))
    n = streamed.shape[0] - qmf.DELAY
    np.testing.assert_allclose(streamed[qmf.DELAY :], offline[:n], atol=1e-12)


def test_tone_lands_in_its_band() -> None:
    n = np.arange(64 * 40)
    tone = np.cos(2 * np.pi * 5000.0 / 48000 * n)  # 5000 Hz -> band 13 (4875-5250 Hz)
    energy = np.mean(np.abs(qmf.analysis(tone)[12:-12]) ** 2, axis=0)
    assert int(np.argmax(energy)) == 13
    assert energy[15:].max() < 1e-6 * energy[13]
