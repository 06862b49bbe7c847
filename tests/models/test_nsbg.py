"""n-SBG model: configs, shapes for 12/16 kbps, forward == decode(encode), gradients, blind."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bandgen.dsp.pqmf import band_mask
from bandgen.errors import ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG

LENGTH = 3 * 2048 - 300  # not a multiple of the 2048-sample frame: exercises pad + crop


def _model(**overrides: object) -> NSBG:
    torch.manual_seed(0)
    return NSBG(dataclasses.replace(NSBGConfig.debug(), **overrides))  # type: ignore[arg-type]


def _clips(batch: int = 2, length: int = LENGTH) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    target = 0.1 * torch.randn(batch, 1, length, generator=gen)
    core = target + 0.01 * torch.randn(batch, 1, length, generator=gen)
    return core, target


def test_presets() -> None:
    p12, p16 = NSBGConfig.paper_12k(), NSBGConfig.paper_16k()
    assert (p12.num_generated, p12.num_bins, p12.n_q) == (10, 320, 11)
    assert (p16.num_generated, p16.num_bins, p16.n_q) == (11, 352, 13)
    assert p12.side_info_kbps == pytest.approx(2.578125)
    assert p16.side_info_kbps == pytest.approx(3.046875)
    assert NSBGConfig.cpu_12k().channels < p12.channels
    assert dataclasses.replace(p12, blind=True).side_info_kbps == 0.0
    assert NSBGConfig.from_dict(p16.to_dict()) == p16
    with pytest.raises(ConfigError, match="unknown"):
        NSBGConfig.from_dict({"k_c": 5, "bogus": 1})
    with pytest.raises(ConfigError):
        NSBGConfig(k_c=6, k_h=5)
    with pytest.raises(ConfigError, match="generator"):
        NSBGConfig(generator="wavenet")
    with pytest.raises(ConfigError, match="at most k_c - 1"):
        NSBGConfig(generator="patch", k_c=4)  # the default span copies bands 1..4
    with pytest.raises(ConfigError, match="patch_span must be even"):
        NSBGConfig(generator="patch", k_c=10, k_h=29, patch_span=7)
    assert NSBGConfig(generator="patch", k_c=10, k_h=29, patch_span=8).patch_span == 8
    full16, full24 = NSBGConfig.cpu_patch_16k(), NSBGConfig.cpu_patch_24k()
    assert (full16.k_h + 1) * 750 >= 16_000 and (full24.k_h + 1) * 750 >= 20_000
    assert NSBGConfig.from_dict(full24.to_dict()) == full24


@pytest.mark.parametrize(("k_h", "generated", "n_q"), [(14, 10, 3), (15, 11, 4)])
def test_forward_shapes(k_h: int, generated: int, n_q: int) -> None:
    model = _model(k_h=k_h, n_q=n_q)
    core, target = _clips()
    out = model(core, target)
    assert out.y_hat.shape == out.y.shape == (2, 1, LENGTH)
    assert out.codes.shape == (2, n_q, 3)
    assert out.bands_hat.shape == (2, generated, 3 * 64)
    assert out.commitment_loss.ndim == 0 and out.codebook_loss.ndim == 0


def test_target_is_band_limited_reference() -> None:
    """With core == target, y is the PQMF resynthesis of bands 0..k_h of the target (HP §1.1)."""
    model = _model()
    _, target = _clips(length=4096)
    out = model(target, target)
    expected = model.pqmf.synthesis(band_mask(model.pqmf.analysis(target), slice(0, 15)))
    torch.testing.assert_close(out.y, expected, atol=1e-6, rtol=0)


PATCH = {"generator": "patch", "patch_channels": 8, "latent_dim": 8}
"""Overrides that give the debug model the patch generator and envelope encoder."""


@pytest.mark.parametrize("n_q", [None, 1])
@pytest.mark.parametrize("generator", ["seanet", "patch"])
def test_eval_forward_equals_decode_encode(n_q: int | None, generator: str) -> None:
    model = _model(**(PATCH if generator == "patch" else {})).eval()
    core, target = _clips()
    with torch.no_grad():
        out = model(core, target, n_q=n_q)
        codes = model.encode(target, core, n_q=n_q)
        wav = model.decode(core, codes)
    torch.testing.assert_close(codes, out.codes)
    torch.testing.assert_close(wav, out.y_hat, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("generator", ["seanet", "patch"])
def test_gradients_reach_every_parameter(generator: str) -> None:
    model = _model(**(PATCH if generator == "patch" else {})).train()
    core, target = _clips()
    out = model(core, target)
    out.y_hat.square().mean().backward(retain_graph=True)
    codebooks = {n for n, _ in model.named_parameters() if n.endswith("codebook.weight")}
    for name, param in model.named_parameters():
        if name in codebooks:
            assert param.grad is None, name  # straight-through: codebooks learn from their loss
        else:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
    (out.codebook_loss + out.commitment_loss).backward()
    for name in codebooks:
        assert model.get_parameter(name).grad is not None, name


@pytest.mark.parametrize("generator", ["seanet", "patch"])
def test_model_latency_is_one_frame_plus_pqmf(generator: str) -> None:
    """Changing both inputs from a frame boundary on leaves y_hat unchanged up to one frame + PQMF.

    The SBG encoder of frame n is conditioned on the generator's bottleneck, whose core PQMF
    analysis looks 240 samples ahead, so the side info of the previous frame may change too.
    """
    model = _model(**(PATCH if generator == "patch" else {})).eval()
    core, target = _clips(batch=1, length=5 * 2048)
    t0 = 3 * 2048
    core2, target2 = core.clone(), target.clone()
    core2[..., t0:] = torch.randn_like(core2[..., t0:])
    target2[..., t0:] = torch.randn_like(target2[..., t0:])
    with torch.no_grad():
        y, y2 = model(core, target).y_hat, model(core2, target2).y_hat
    keep = t0 - 2048 - model.pqmf.taps // 2
    torch.testing.assert_close(y2[..., :keep], y[..., :keep], atol=1e-6, rtol=0)


@pytest.mark.parametrize("generator", ["seanet", "patch"])
def test_blind_variant_has_no_side_info(generator: str) -> None:
    model = _model(blind=True, **(PATCH if generator == "patch" else {})).eval()
    assert model.encoder is None and model.quantizer is None and model.side_info_kbps == 0.0
    assert not any("film" in name for name, _ in model.named_parameters())
    core, target = _clips()
    with torch.no_grad():
        out = model(core, target)
        codes = model.encode(target, core)
        assert out.codes.shape == codes.shape == (2, 0, 3)
        torch.testing.assert_close(model.decode(core, None), out.y_hat, atol=1e-6, rtol=0)
        other = model(core, torch.randn_like(target)).y_hat
    torch.testing.assert_close(other, out.y_hat)  # the target cannot leak in
    assert float(out.commitment_loss) == 0.0


def test_state_dict_round_trip_strict() -> None:
    model = _model().eval()
    state = model.state_dict()
    assert not any("filter" in key for key in state)  # PQMF filters are rebuilt, not stored
    torch.manual_seed(5)
    fresh = NSBG(model.config).eval()
    fresh.load_state_dict(state, strict=True)
    core, target = _clips()
    with torch.no_grad():
        codes = model.encode(target, core)
        torch.testing.assert_close(fresh.encode(target, core), codes)
        torch.testing.assert_close(fresh.decode(core, codes), model.decode(core, codes))


def test_input_validation() -> None:
    model = _model()
    core, target = _clips()
    with pytest.raises(ValueError, match="mono"):
        model(core.expand(2, 2, -1), target.expand(2, 2, -1))
    with pytest.raises(ValueError, match="codes"):
        model.decode(core, torch.zeros(2, 3, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="differ"):
        model.encode(target[..., :-1], core)
