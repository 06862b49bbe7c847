"""PQMF bank: reconstruction, band placement, alignment, gradients and batching."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

from bandgen.dsp.pqmf import (
    PQMF,
    band_mask,
    design_prototype,
    fill_bands,
    prototype_cutoff_ratio,
    stopband_attenuation_db,
)
from bandgen.errors import ConfigError

SAMPLE_RATE = 48_000
BAND_HZ = 750.0

# scripts/measure_pqmf.py on the 24 dev clips (aligned mode): 57.7-68.1 dB, mean 61.8 dB. The
# bank's distortion |T(w)| ripples within [0.9981, 1.0009], so no signal can fall below
# -20 log10(0.0019) ~= 54 dB (aliasing is ~92 dB down); 50 dB leaves margin for float32.
MIN_SNR_DB = 50.0


@pytest.fixture(scope="module")
def pqmf() -> PQMF:
    return PQMF()


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    noise = (estimate - reference).double().square().sum()
    return float(10 * torch.log10(reference.double().square().sum() / noise))


def lag_of(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    """Lag (samples) maximising the cross-correlation of ``delayed`` against ``reference``."""
    core = reference[max_lag:-max_lag]
    scores = [
        np.dot(core, delayed[max_lag + lag : len(delayed) - max_lag + lag])
        for lag in range(-max_lag, max_lag + 1)
    ]
    return int(np.argmax(scores)) - max_lag


def test_reconstruction_snr_on_music(pqmf: PQMF, synth_clip: Callable[..., np.ndarray]) -> None:
    audio = synth_clip("music", seconds=2.0, sample_rate=SAMPLE_RATE)
    wav = torch.from_numpy(audio[:1])[None]  # [1, 1, T]
    out = pqmf(wav)
    assert out.shape == wav.shape
    edge = pqmf.taps
    assert snr_db(wav[..., edge:-edge], out[..., edge:-edge]) > MIN_SNR_DB


@pytest.mark.parametrize("length", [4096, 4096 + 1, 4096 + 31, 1000])
def test_exact_length_for_any_length(pqmf: PQMF, length: int) -> None:
    wav = torch.randn(2, 1, length, generator=torch.Generator().manual_seed(length))
    subbands = pqmf.analysis(wav)
    assert subbands.shape == (2, 32, math.ceil(length / 32))
    out = pqmf.synthesis(subbands, length=length)
    assert out.shape == wav.shape
    edge = pqmf.taps
    assert snr_db(wav[..., edge:-edge], out[..., edge:-edge]) > MIN_SNR_DB


def test_prototype_design_is_cached_and_attenuates() -> None:
    ratio = prototype_cutoff_ratio(32, 481, 9.0)
    # The optimum sits just above the nominal half-band edge 1 / (2 M) (375 Hz at 48 kHz).
    assert 1 / 64 < ratio < 1.2 / 64
    start = time.perf_counter()
    PQMF()
    assert time.perf_counter() - start < 0.2
    assert prototype_cutoff_ratio.cache_info().hits >= 1
    prototype = design_prototype(taps=481, cutoff_ratio=ratio, beta=9.0)
    assert stopband_attenuation_db(prototype, num_bands=32) > 85.0


# Bands overlap in a transition of about +-200 Hz around each edge (PQMF cancels the aliasing
# there), so a tone 100 Hz from an edge leaks ~10 % next door and one 250+ Hz in leaks < 0.03 %.
@pytest.mark.parametrize(
    ("freq_hz", "min_fraction"),
    [
        (375.0, 0.9999),
        (1_125.0, 0.9999),
        (3_850.0, 0.85),
        (9_350.0, 0.9997),
        (14_620.0, 0.9997),
        (17_900.0, 0.85),
        (23_600.0, 0.9999),
    ],
)
def test_sinusoid_lands_in_its_band(pqmf: PQMF, freq_hz: float, min_fraction: float) -> None:
    t = torch.arange(SAMPLE_RATE // 4, dtype=torch.float32) / SAMPLE_RATE
    wav = torch.sin(2 * math.pi * freq_hz * t)[None, None]
    energy = pqmf.analysis(wav)[..., 20:-20].square().sum(-1)[0]
    band = int(freq_hz // BAND_HZ)
    assert int(energy.argmax()) == band
    assert float(energy[band] / energy.sum()) > min_fraction


def test_zero_lag_aligned_and_taps_minus_one_causal(pqmf: PQMF) -> None:
    wav = torch.randn(1, 1, 8192, generator=torch.Generator().manual_seed(1))
    out = pqmf(wav)
    assert lag_of(wav[0, 0].numpy(), out[0, 0].numpy(), 600) == 0
    # A band-limited path (n-SBG keeps only some bands) is still zero lag.
    masked = pqmf.synthesis(band_mask(pqmf.analysis(wav), range(5, 15)))
    assert lag_of(wav[0, 0].numpy(), masked[0, 0].numpy(), 600) == 0
    causal = PQMF(causal=True)
    assert causal.delay == 480 and pqmf.delay == 0
    delayed = causal(wav)
    assert delayed.shape == wav.shape
    assert lag_of(wav[0, 0].numpy(), delayed[0, 0].numpy(), 600) == 480
    edge = causal.taps
    assert snr_db(wav[..., edge : -edge - 480], delayed[..., edge + 480 : -edge]) > MIN_SNR_DB


def test_gradients_flow(pqmf: PQMF) -> None:
    wav = torch.randn(2, 1, 2048, generator=torch.Generator().manual_seed(2), requires_grad=True)
    subbands = pqmf.analysis(wav)
    generated = subbands[:, 5:15].detach().requires_grad_(True)
    out = pqmf.synthesis(fill_bands([subbands[:, :5], generated], 32))
    out.square().sum().backward()
    for grad in (wav.grad, generated.grad):
        assert grad is not None
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_batch_items_are_independent(pqmf: PQMF) -> None:
    generator = torch.Generator().manual_seed(3)
    batch = torch.randn(3, 1, 3000, generator=generator)
    together = pqmf.analysis(batch)
    for i in range(3):
        torch.testing.assert_close(together[i : i + 1], pqmf.analysis(batch[i : i + 1]))
    changed = batch.clone()
    changed[1] = torch.randn(1, 3000, generator=generator)
    torch.testing.assert_close(pqmf(changed)[[0, 2]], pqmf(batch)[[0, 2]])


def test_band_helpers() -> None:
    subbands = torch.ones(2, 8, 4)
    kept = band_mask(subbands, slice(2, 4))
    assert kept[:, 2:4].eq(1).all() and kept[:, :2].eq(0).all() and kept[:, 4:].eq(0).all()
    assert band_mask(subbands, [0, 7]).sum() == 2 * 2 * 4
    filled = fill_bands([torch.ones(2, 3, 4), 2 * torch.ones(2, 2, 4)], 8)
    assert filled.shape == (2, 8, 4)
    assert filled[:, :3].eq(1).all() and filled[:, 3:5].eq(2).all() and filled[:, 5:].eq(0).all()
    with pytest.raises(ValueError):
        fill_bands([torch.ones(1, 9, 4)], 8)


def test_bad_config_and_shapes(pqmf: PQMF) -> None:
    with pytest.raises(ConfigError):
        PQMF(taps=480)
    with pytest.raises(ValueError):
        pqmf.analysis(torch.zeros(1, 2, 64))
    with pytest.raises(ValueError):
        pqmf.synthesis(torch.zeros(1, 16, 4))


def test_forward_is_near_perfect_up_to_the_edges(pqmf: PQMF) -> None:
    wav = torch.randn(1, 1, 4000, generator=torch.Generator().manual_seed(4))
    out = pqmf(wav)
    assert out.shape == wav.shape
    for part in (slice(0, 64), slice(-64, None)):
        assert snr_db(wav[..., part], out[..., part]) > MIN_SNR_DB


def test_analysis_of_the_lowest_bands_equals_the_slice() -> None:
    import torch

    from bandgen.dsp.pqmf import PQMF

    pqmf = PQMF()
    wav = torch.randn(2, 1, 3000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(pqmf.analysis(wav, bands=5), pqmf.analysis(wav)[:, :5])
