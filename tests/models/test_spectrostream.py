"""SpectroStream (paper 003): shapes, exact STFT front end, inference == training forward,
causality within the stated look-ahead, chunked (streaming) == offline, layer-derived contexts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.models.spectrostream import (
    SpectralFrontEnd,
    SpectroStream,
    SpectroStreamConfig,
)


@pytest.fixture(scope="module")
def model() -> SpectroStream:
    """A debug-size model whose codebooks were seeded by one training forward."""
    torch.manual_seed(0)
    net = SpectroStream(SpectroStreamConfig.debug())
    net.train()
    net(torch.randn(2, 2, 48_000) * 0.1)
    return net.eval()


@pytest.fixture(scope="module")
def music(synth_clip: Callable[..., np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(synth_clip("music", seconds=3.0, seed=5))[None]  # [1, 2, T]


def test_paper_config_numbers() -> None:
    cfg = SpectroStreamConfig.paper()
    assert cfg.hop == 480 and cfg.num_bins == 480
    assert cfg.time_stride == 4 and cfg.freq_stride == 96
    assert cfg.embedding_rate_hz == 25.0
    assert cfg.kbps(64) == pytest.approx(16.0)
    assert cfg.levels_for_kbps(5.4) == 21
    assert cfg.levels_for_kbps(100) == 64


def test_paper_size_parameter_count() -> None:
    net = SpectroStream(SpectroStreamConfig.paper())
    weights = sum(p.numel() for p in net.parameters())
    codebooks = sum(s.embed.numel() for s in net.quantizer.stages)
    # HP §2 counts ~45 M in the encoder and decoder and 16.8 M in the codebooks
    assert 40e6 < weights < 55e6
    assert codebooks == 64 * 1024 * 256


def test_config_round_trip_and_unknown_key() -> None:
    cfg = SpectroStreamConfig.cpu()
    assert SpectroStreamConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        SpectroStreamConfig.from_dict({"dim": 8, "bogus": 1})
    with pytest.raises(ConfigError, match="one entry per encoder unit"):
        SpectroStreamConfig(dec_channels=(8, 8))


def test_front_end_is_exact_below_nyquist(rng: np.random.Generator) -> None:
    front = SpectralFrontEnd(960)
    spectrum = np.fft.rfft(rng.standard_normal(9_600))
    spectrum[-400:] = 0  # nothing near the (dropped) Nyquist bin
    wav = torch.from_numpy(np.fft.irfft(spectrum)).float()[None, None]
    frames = front.frames_for(wav.shape[-1])
    spec = front.analysis(wav, frames)
    assert spec.shape == (1, 1, 2, frames, 480)
    back = front.synthesis(spec)[..., : wav.shape[-1]]
    # exact inside; the cut at the clip's ends puts a little energy at Nyquist, which is dropped
    assert torch.allclose(back[..., 960:-960], wav[..., 960:-960], atol=1e-5)
    assert torch.allclose(back, wav, atol=3e-3)


def test_shapes_mono_and_stereo(model: SpectroStream, music: torch.Tensor) -> None:
    length = music.shape[-1]
    codes = model.encode(music, 5)
    assert codes.shape == (1, 5, model.num_embeddings(length)) and codes.dtype == torch.long
    assert model.decode(codes, length).shape == (1, 2, length)
    mono = music[:, :1]
    assert model.decode(model.encode(mono, 3), length, 1).shape == (1, 1, length)
    with pytest.raises(ValueError, match="expected wav"):
        model.embed(torch.zeros(1, 3, length))


def test_decode_of_encode_equals_forward_in_eval(model: SpectroStream, music: torch.Tensor) -> None:
    for levels in (1, 4, 8):
        decoded = model.decode(model.encode(music, levels), music.shape[-1])
        assert torch.allclose(decoded, model(music, levels).wav, atol=1e-6)


def test_causal_within_lookahead(model: SpectroStream, music: torch.Tensor) -> None:
    """Changing the input from sample t0 changes no output before t0 - (look-ahead + 1/2 frame)."""
    cfg = model.cfg
    t0 = 40 * cfg.samples_per_embedding
    later = music.clone()
    later[..., t0:] += 0.1 * torch.randn_like(later[..., t0:])
    a = model.decode(model.encode(music, 6), music.shape[-1])
    b = model.decode(model.encode(later, 6), music.shape[-1])
    lead = cfg.lookahead * cfg.samples_per_embedding + cfg.hop
    assert torch.equal(a[..., : t0 - lead], b[..., : t0 - lead])
    assert not torch.equal(a[..., t0 - lead :], b[..., t0 - lead :])


def test_chunked_equals_offline(model: SpectroStream, music: torch.Tensor) -> None:
    for chunk in (1, 5, 1000):
        assert torch.allclose(
            model.embed_chunked(music, chunk=chunk), model.embed(music), atol=1e-5
        )
    codes = model.encode(music, 7)
    # equal embeddings up to float rounding: a near-tie may rarely pick another entry
    assert (model.encode_chunked(music, 7, chunk=5) == codes).float().mean() > 0.95
    whole = model.decode(codes, music.shape[-1])
    for chunk in (1, 6, 1000):
        assert torch.allclose(
            model.decode_chunked(codes, music.shape[-1], chunk=chunk), whole, atol=1e-5
        )


def test_contexts_come_from_the_layers() -> None:
    net = SpectroStream(SpectroStreamConfig.debug())
    wide = SpectroStream(
        SpectroStreamConfig.from_dict({**SpectroStreamConfig.debug().to_dict(), "lookahead": 2})
    )
    assert net.encoder_context > 0 and net.decoder_context > 0
    assert wide.decoder_context == net.decoder_context + 1


def test_training_forward_updates_codebooks_and_backpropagates() -> None:
    torch.manual_seed(1)
    net = SpectroStream(SpectroStreamConfig.debug())
    net.train()
    wav = torch.randn(4, 2, 19_200) * 0.1
    before = net.quantizer.stages[0].embed.clone()
    out = net(wav)
    (out.wav.pow(2).mean() + out.commitment_loss).backward()
    assert out.wav.shape == wav.shape
    assert not torch.equal(before, net.quantizer.stages[0].embed)
    grads = [p.grad for p in net.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
