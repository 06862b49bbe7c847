"""Multi-band SEANet generator: shapes, bottleneck feature, causality, TFiLM conditioning."""

from __future__ import annotations

import pytest
import torch

from bandgen.nn.seanet import SEANetGenerator


def _generator(cond_dim: int | None = 6) -> SEANetGenerator:
    torch.manual_seed(0)
    return SEANetGenerator(in_bands=5, out_bands=10, channels=4, cond_dim=cond_dim)


def test_shapes_and_bottleneck() -> None:
    gen = _generator()
    core = torch.randn(2, 5, 128)
    cond = torch.randn(2, 6, 2)  # 64 sub-band samples per frame, as with n_fft = 2048
    embedding = gen.embed(core)
    assert gen.hop_length == 8
    assert embedding.h.shape == (2, 16, 16)  # 4C channels at T / 8
    assert [s.shape[1:] for s in embedding.skips] == [(8, 128), (16, 64), (32, 32), (64, 16)]
    bands = gen.generate(embedding, cond)
    assert bands.shape == (2, 10, 128)
    torch.testing.assert_close(gen(core, cond), bands)


def test_generator_is_causal() -> None:
    """Output before the bottleneck hop that holds t0 ignores input from t0 on (block-causal)."""
    gen = _generator().eval()
    core = torch.randn(1, 5, 192)
    cond = torch.randn(1, 6, 3)
    y = gen(core, cond)
    for t0 in (64, 100):
        changed = core.clone()
        changed[..., t0:] = torch.randn_like(changed[..., t0:])
        y2 = gen(changed, cond)
        start = t0 // gen.hop_length * gen.hop_length
        torch.testing.assert_close(y2[..., :start], y[..., :start], atol=1e-6, rtol=0)
        assert not torch.allclose(y2[..., start + 8 :], y[..., start + 8 :])


def test_conditioning_is_causal_per_frame() -> None:
    gen = _generator().eval()
    core = torch.randn(1, 5, 192)
    cond = torch.randn(1, 6, 3)
    cond2 = cond.clone()
    cond2[..., 1:] += 1.0
    y, y2 = gen(core, cond), gen(core, cond2)
    torch.testing.assert_close(y2[..., :64], y[..., :64], atol=1e-6, rtol=0)
    assert not torch.allclose(y2[..., 64:], y[..., 64:])


def test_blind_generator_has_no_tfilm() -> None:
    gen = _generator(cond_dim=None)
    assert gen.films is None
    core = torch.randn(1, 5, 64)
    assert gen(core).shape == (1, 10, 64)
    with pytest.raises(ValueError, match="cond"):
        gen(core, torch.randn(1, 6, 1))
    with pytest.raises(ValueError, match="hop"):
        gen(torch.randn(1, 5, 60))


def test_paper_size_channels() -> None:
    gen = SEANetGenerator(in_bands=5, out_bands=10, channels=64, cond_dim=320)
    assert gen.bottleneck_channels == 256
    assert gen.films is not None
    assert [f.channels for f in gen.films] == [1024, 512, 256, 128, 64]
