"""Patch + envelope band generator and its envelope side-info encoder."""

from __future__ import annotations

import pytest
import torch

from bandgen.nn.patch_envelope import (
    NOISE_PERIOD,
    EnvelopeEncoder,
    PatchEnvelopeGenerator,
    band_flatness,
    patch_sources,
)


def _core(batch: int = 2, length: int = 256, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 5, length, generator=torch.Generator().manual_seed(seed))


def test_patch_sources_are_upright_copies_of_bands_1_to_4() -> None:
    assert patch_sources(5, 14) == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    for k, j in zip(range(5, 27), patch_sources(5, 26), strict=True):
        assert 1 <= j <= 4 and (k - j) % 2 == 0  # even shift: the spectrum is not mirrored
    with pytest.raises(ValueError, match="span=4, k_c=4"):
        patch_sources(4, 10)


def test_patch_span_copies_the_top_core_bands() -> None:
    # an 8 kHz crossover (k_c = 10) patching from the 8 bands below it (1.5-7.5 kHz)
    sources = patch_sources(10, 29, span=8)
    assert sources[:8] == list(range(2, 10)) and set(sources) == set(range(2, 10))
    assert all((k - j) % 2 == 0 for k, j in zip(range(10, 30), sources, strict=True))
    with pytest.raises(ValueError, match="even span"):
        patch_sources(10, 29, span=7)
    with pytest.raises(ValueError, match="even span"):
        patch_sources(8, 29, span=8)  # would copy band 0 (DC)


def test_shapes_and_initial_level() -> None:
    torch.manual_seed(0)
    gen = PatchEnvelopeGenerator(k_c=5, k_h=14, channels=8, cond_dim=6)
    core = _core()
    emb = gen.embed(core)
    assert emb.h.shape == (2, 8, 32)
    bands = gen.generate(emb, torch.randn(2, 6, 4))
    assert bands.shape == (2, 10, 256)
    # starts as a quiet patch: about -20 dB of the source bands
    ratio_db = 10 * torch.log10(bands.detach().square().mean() / core[:, 1:].square().mean())
    assert -30 < float(ratio_db) < -10


def test_output_is_the_gained_patch_when_noise_share_is_zero() -> None:
    """With the noise share forced to 0, band k is exp(a) times core band src(k)."""
    torch.manual_seed(0)
    gen = PatchEnvelopeGenerator(k_c=5, k_h=10, channels=8)
    with torch.no_grad():
        gen.head_out.conv.bias[6:].fill_(-1e4)
    core = _core(length=128)
    emb = gen.embed(core)
    bands = gen.generate(emb)
    log_gain, _ = gen._params(emb.h, None)
    expected = torch.exp(log_gain).repeat_interleave(8, -1) * core[:, [1, 2, 3, 4, 1, 2]]
    torch.testing.assert_close(bands, expected)


def test_windows_with_offsets_equal_the_whole() -> None:
    """Noise is a function of absolute sub-band time: a window cut at a hop boundary with its
    offset reproduces the whole signal's output once past the generator's reach."""
    torch.manual_seed(0)
    gen = PatchEnvelopeGenerator(k_c=5, k_h=14, channels=8, cond_dim=4).eval()
    core, cond = _core(batch=1, length=1024), torch.randn(1, 4, 16)
    with torch.no_grad():
        whole = gen.generate(gen.embed(core), cond)
        start = 512  # 8 frames of 64 sub-band samples
        part = gen.generate(gen.embed(core[..., start:]), cond[..., start // 64 :], offset=start)
    keep = gen.past
    torch.testing.assert_close(part[..., keep:], whole[..., start + keep :])
    assert not torch.allclose(part[..., :8], whole[..., start : start + 8])  # padding differs


def test_generator_is_causal_within_its_hop() -> None:
    torch.manual_seed(0)
    gen = PatchEnvelopeGenerator(k_c=5, k_h=14, channels=8).eval()
    core = _core(batch=1, length=512)
    poked = core.clone()
    poked[..., 200] += 5.0
    with torch.no_grad():
        a, b = gen.generate(gen.embed(core)), gen.generate(gen.embed(poked))
    changed = torch.nonzero((a - b).abs().sum(1)[0])
    assert int(changed.min()) >= 200 // 8 * 8  # nothing before the poked hop changes
    assert int(changed.max()) < 200 // 8 * 8 + 8 + gen.past + 8


def test_noise_period_wraps() -> None:
    gen = PatchEnvelopeGenerator(k_c=5, k_h=6, channels=4)
    assert gen.noise.shape == (2, NOISE_PERIOD)
    torch.testing.assert_close(gen.noise.std(1), torch.ones(2))


def test_envelope_encoder_shapes_and_causality() -> None:
    torch.manual_seed(0)
    enc = EnvelopeEncoder(num_bands=10, cond_channels=8, channels=8, latent_dim=6).eval()
    bands = torch.randn(1, 10, 640)
    flat = torch.zeros(1, 10, 10)
    h = torch.randn(1, 8, 80)
    with torch.no_grad():
        z = enc(bands, flat, h)
        poked = bands.clone()
        poked[..., 5 * 64 + 3] += 10.0  # frame 5
        z2 = enc(poked, flat, h)
    assert z.shape == (1, 6, 10)
    changed = torch.nonzero((z - z2).abs().sum(1)[0]).flatten()
    assert int(changed.min()) == 5 and int(changed.max()) <= 5 + enc.past_frames


def test_band_flatness_tells_noise_from_tones() -> None:
    bins = 32
    noise = torch.rand(1, 1 + bins * 7, 3) + 0.5
    tone = torch.full_like(noise, 1e-6)
    tone[:, 1 + bins * 5 + 7] = 1.0
    assert float(band_flatness(noise, 5, 6, bins).min()) > -0.05
    flat = band_flatness(tone, 5, 6, bins)
    assert float(flat[:, 0].max()) < -0.5  # the band with the tone
    assert float(flat[:, 1].min()) > -0.05  # the empty band is flat


def test_gradients_stay_finite_on_silence_and_saturated_shares() -> None:
    """A silent core and noise shares driven to 0 and 1 give finite gradients (no NaN)."""
    from bandgen.losses.subband import SubbandSpectralLoss

    torch.manual_seed(0)
    gen = PatchEnvelopeGenerator(k_c=5, k_h=8, channels=8)
    with torch.no_grad():
        gen.head_out.conv.bias[4:6].fill_(200.0)  # share -> 1 in float32
        gen.head_out.conv.bias[6:].fill_(-200.0)  # share -> 0
    core = _core(batch=1, length=512)
    core[..., :256] = 0.0  # digital silence: exact zeros in the generated band
    bands = gen.generate(gen.embed(core))
    loss = SubbandSpectralLoss()(bands, torch.randn_like(bands))
    loss.backward()
    for name, p in gen.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
