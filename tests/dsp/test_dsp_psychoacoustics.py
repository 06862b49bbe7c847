"""MPEG-1 psychoacoustic model 1 masking thresholds (paper ``001`` §6, HP §5)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from bandgen.dsp.psychoacoustics import PsychoacousticModel, bark, threshold_in_quiet_db
from bandgen.errors import ConfigError

SR = 48000


def _tone(freq_hz: float, amplitude: float, length: int = 4096) -> torch.Tensor:
    t = torch.arange(length, dtype=torch.float32) / SR
    return amplitude * torch.sin(2 * math.pi * freq_hz * t)[None, None]


def test_bark_and_threshold_in_quiet() -> None:
    assert bark(0.0) == 0.0
    assert bark(1000.0) == pytest.approx(8.5, abs=0.1)
    assert bark(24000.0) == pytest.approx(24.9, abs=0.1)
    tq = threshold_in_quiet_db(np.array([100.0, 1000.0, 3300.0, 15000.0]))
    assert tq[2] < 0 < tq[1] < tq[0] and tq[3] > 30  # most sensitive near 3-4 kHz


def test_full_scale_sine_reads_96_db() -> None:
    model = PsychoacousticModel()
    bin_hz = SR / 512
    out = model(_tone(20 * bin_hz, 1.0))
    assert out.psd_db.shape == (1, 257, 1 + 4096 // 256)
    assert out.psd_db[0, 20, 8].item() == pytest.approx(96.0, abs=0.01)


def test_silence_gives_threshold_in_quiet() -> None:
    model = PsychoacousticModel()
    out = model(torch.zeros(1, 1, 2048))
    threshold = out.threshold_db[0, :, 4]
    torch.testing.assert_close(threshold, model.tq_db, atol=1e-3, rtol=0)
    assert threshold[20:50].min() < 0.0  # 2-4.5 kHz: below 0 dB SPL


@pytest.mark.parametrize("tone_bin", [11, 43])
def test_tone_threshold_peaks_at_tone_and_decays_with_bark(tone_bin: int) -> None:
    # bin-centred tones (~1 and ~4 kHz): no window leakage that PAM-1 would count as noise
    freq_hz = tone_bin * SR / 512
    model = PsychoacousticModel()
    out = model(_tone(freq_hz, 0.1))
    threshold = out.threshold_db[0, :, 8]
    excess = (threshold - model.tq_db)[: int(16000 / (SR / 512))]
    assert abs(int(excess.argmax()) - tone_bin) <= 1
    z = model.z
    z_tone = float(bark(freq_hz))
    levels_up = [threshold[int((z - z_tone - dz).abs().argmin())] for dz in (0.0, 1.0, 3.0, 6.0)]
    levels_down = [threshold[int((z - z_tone + dz).abs().argmin())] for dz in (0.0, 1.0, 2.5)]
    assert all(a > b for a, b in itertools.pairwise(levels_up))
    assert all(a > b for a, b in itertools.pairwise(levels_down))
    # the mask sits below the tone (tonal offset ~6-9 dB) and well above the threshold in quiet
    peak_psd = out.psd_db[0, :, 8].max()
    assert peak_psd - 20 < threshold[tone_bin] < peak_psd
    quieter = model(_tone(freq_hz, 0.01)).threshold_db[0, :, 8]
    assert (threshold - quieter)[tone_bin] == pytest.approx(20.0, abs=2.0)


def test_batched_and_chunked_frames_agree() -> None:
    wav = 0.1 * torch.randn(2, 1, 3000, generator=torch.Generator().manual_seed(0))
    one = PsychoacousticModel(chunk_frames=1)(wav).threshold_db
    many = PsychoacousticModel(chunk_frames=64)(wav).threshold_db
    torch.testing.assert_close(one, many)
    assert torch.isfinite(many).all()


def test_rejects_bad_config_and_shapes() -> None:
    with pytest.raises(ConfigError):
        PsychoacousticModel(n_fft=8)
    with pytest.raises(ValueError):
        PsychoacousticModel()(torch.zeros(1, 2, 1024))
