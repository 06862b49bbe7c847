"""HP-codec model: presets, shapes, codes == forward in eval, sections, resampler."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from bandgen.dsp.sinc_resample import SincResampler
from bandgen.errors import ConfigError
from bandgen.models.hpcodec import HPCodec, HPCodecConfig
from bandgen.nn.dac import stride_kernel


@pytest.fixture(scope="module")
def model() -> HPCodec:
    torch.manual_seed(0)
    return HPCodec(HPCodecConfig.debug()).eval()


def _signal(batch: int, length48: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x48 = 0.3 * torch.randn(batch, 1, length48, generator=gen)
    return x48, torch.zeros(batch, 1, length48 // 3)


def test_paper_preset_is_the_papers_codec() -> None:
    config = HPCodecConfig.paper()
    assert (config.hop_low, config.hop_high, config.latent_dim) == (160, 480, 1024)
    assert config.decoder_dim == 1536 and config.codebook_size == 1024
    assert config.kbps_per_branch == 6.0
    assert HPCodecConfig.cpu().kbps_per_branch == 6.0


def test_cpu_preset_size() -> None:
    params = sum(p.numel() for p in HPCodec(HPCodecConfig.cpu()).parameters())
    assert 0.8e6 < params < 3e6


def test_branches_must_give_the_same_token_rate() -> None:
    with pytest.raises(ConfigError, match="tokens per second"):
        HPCodecConfig(high_rates=(2, 5, 6, 4))


@pytest.mark.parametrize("stride", [2, 5, 6, 8])
def test_stride_kernels_round_trip_lengths(stride: int) -> None:
    kernel, pad = stride_kernel(stride)
    assert kernel == (2 * stride + 1 if stride % 2 else 2 * stride)
    down = torch.nn.Conv1d(1, 1, kernel, stride, padding=pad)
    up = torch.nn.ConvTranspose1d(1, 1, kernel, stride, padding=pad)
    frames = down(torch.zeros(1, 1, 7 * stride)).shape[-1]
    assert frames == 7 and up(torch.zeros(1, 1, 7)).shape[-1] == 7 * stride


def test_public_attributes(model: HPCodec) -> None:
    assert model.sections == ("harmonic", "percussive")
    assert (model.codebooks_per_section, model.hop_low, model.hop_high) == (3, 160, 480)
    assert model.codebook_size == 16


@pytest.mark.parametrize("length16", [1600, 1700])
def test_code_shapes_pad_inside(model: HPCodec, length16: int) -> None:
    x48, _ = _signal(2, 3 * length16)
    x16 = model.to_16k(x48)
    frames = math.ceil(length16 / 160)
    low = model.encode_low(x16)
    high = model.encode_high(x48)
    assert low.shape == high.shape == (2, 6, frames) and low.dtype == torch.long
    assert int(low.max()) < 16 and int(low.min()) >= 0
    assert model.decode_low(low).shape == (2, 1, 160 * frames)
    assert model.decode_high(high).shape == (2, 1, 480 * frames)


@torch.no_grad()
def test_decode_encode_equals_forward_per_branch(model: HPCodec) -> None:
    x48, _ = _signal(2, 4800, seed=1)
    x16 = model.to_16k(x48)
    out = model(x48, x16)
    low_codes = model.encode_low(x16)
    assert torch.equal(out.low.codes, low_codes)
    torch.testing.assert_close(out.low.wav, model.decode_low(low_codes), atol=1e-5, rtol=1e-4)
    assert out.residual is not None and out.high is not None and out.full is not None
    torch.testing.assert_close(out.residual, x48 - model.to_48k(out.low.wav))
    high_codes = model.encode_high(out.residual)
    assert torch.equal(out.high.codes, high_codes)
    torch.testing.assert_close(out.high.wav, model.decode_high(high_codes), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out.full, model.to_48k(out.low.wav) + out.high.wav)


def test_low_branch_only_runs_no_high_branch(model: HPCodec) -> None:
    x48, _ = _signal(1, 4800)
    out = model(x48, model.to_16k(x48), branch="low")
    assert out.high is None and out.full is None and out.residual is None


@pytest.mark.parametrize(
    ("section", "other"), [("harmonic", "percussive"), ("percussive", "harmonic")]
)
def test_section_step_trains_that_section_only(section: str, other: str) -> None:
    torch.manual_seed(0)
    codec = HPCodec(HPCodecConfig.debug()).train()
    x48, _ = _signal(2, 4800, seed=2)
    out = codec(x48, codec.to_16k(x48), sections=section)
    assert out.low.codes.shape[1] == 3  # that section's codebooks only
    assert out.full is not None
    (out.full.abs().mean() + out.low.wav.abs().mean() + out.low.codebook_loss).backward()
    for branch in (codec.low, codec.high):
        used = [p.grad for p in branch.quantizers[section].parameters()]
        unused = [p.grad for p in branch.quantizers[other].parameters()]
        assert any(g is not None and bool(g.abs().sum() > 0) for g in used)
        assert all(g is None or bool(g.abs().sum() == 0) for g in unused)


def test_section_codes_are_section_major(model: HPCodec) -> None:
    x48, _ = _signal(1, 4800, seed=3)
    x16 = model.to_16k(x48)
    codes = model.encode_low(x16)
    with torch.no_grad():
        harmonic = model(x48, x16, sections="harmonic", branch="low").low.codes
        percussive = model(x48, x16, sections="percussive", branch="low").low.codes
    assert torch.equal(codes[:, :3], harmonic) and torch.equal(codes[:, 3:], percussive)


def test_high_branch_pass_gives_the_low_branch_no_gradient() -> None:
    torch.manual_seed(0)
    codec = HPCodec(HPCodecConfig.debug()).train()
    x48, _ = _signal(1, 4800)
    out = codec(x48, codec.to_16k(x48), branch="high")
    assert out.full is not None
    out.full.abs().mean().backward()
    assert all(p.grad is None for p in codec.low.parameters())
    assert any(p.grad is not None for p in codec.high.parameters())


@pytest.mark.parametrize("bad", [{"branch": "mid"}, {"sections": "residual"}])
def test_forward_refuses_unknown_names(model: HPCodec, bad: dict[str, str]) -> None:
    x48, _ = _signal(1, 4800)
    with pytest.raises(ValueError):
        model(x48, model.to_16k(x48), **bad)


def test_resampler_passes_the_low_band_and_stops_above() -> None:
    resampler = SincResampler(3)
    t = np.arange(48_000) / 48_000
    for hz, passes in ((1000.0, True), (7000.0, True), (10_000.0, False), (20_000.0, False)):
        x = torch.tensor(np.sin(2 * np.pi * hz * t), dtype=torch.float32)
        low = resampler.down(x)
        assert low.shape[-1] == 16_000
        back = resampler.up(low)
        assert back.shape[-1] == 48_000
        middle = slice(4000, -4000)
        gain = float(back[middle].pow(2).mean().sqrt() / x[middle].pow(2).mean().sqrt())
        if passes:
            assert abs(gain - 1) < 0.01, (hz, gain)
        else:
            assert gain < 1e-3, (hz, gain)


def test_quiet_start_decoder_outputs_about_zero() -> None:
    """A fresh CPU-size 48 kHz decoder starts out of the tanh's flat part (it started at a
    DC of about -0.84 without ``quiet_start`` and never left it)."""
    torch.manual_seed(0)
    config = HPCodecConfig.cpu()
    assert config.quiet_start
    decoder = HPCodec(config).high.decoder
    out = decoder(torch.randn(1, config.latent_dim, 20))
    level = out.detach()
    assert abs(float(level.mean())) < 0.05 and float(level.abs().max()) < 0.2
    loud = torch.randn(1, 1, 1)
    out.mul(loud).sum().backward()  # the last conv still learns at full rate
    last = decoder.layers[-2].parametrizations.weight.original0
    assert last.grad is not None and float(last.grad.abs().sum()) > 0


def test_high_input_gain_scales_what_the_48k_encoder_sees() -> None:
    torch.manual_seed(0)
    plain = HPCodec(HPCodecConfig.debug()).eval()
    gained = HPCodec(dataclasses.replace(HPCodecConfig.debug(), high_input_gain=4.0)).eval()
    gained.load_state_dict(plain.state_dict())
    res, _ = _signal(1, 4800)
    torch.testing.assert_close(gained.encode_high(res), plain.encode_high(4.0 * res))
    out = gained(res, gained.to_16k(res))
    assert out.high is not None
    torch.testing.assert_close(out.high.codes, gained.encode_high(out.residual))
    with pytest.raises(ConfigError, match="high_input_gain"):
        HPCodecConfig(high_input_gain=0.0)
