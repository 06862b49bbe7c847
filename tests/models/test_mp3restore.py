"""The MP3 restoration model: layout, stacking, receptive field, residual start, int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.models.mp3restore import (
    MP3Restore,
    MP3RestoreConfig,
    RestoreBlock,
    from_image,
    to_image,
)
from bandgen.restore import quantize_int8


def test_image_layout_round_trip() -> None:
    spec = torch.randn(2, 513, 7, dtype=torch.complex64)
    image = to_image(spec)
    assert image.shape == (2, 2, 7, 513)  # rows re/im, frames, bins as channels
    assert torch.equal(image[1, 0, 3], spec[1, :, 3].real)
    assert torch.equal(image[1, 1, 3], spec[1, :, 3].imag)
    assert torch.equal(from_image(image), spec)


@pytest.mark.parametrize(
    ("num_blocks", "enc", "mid", "dec"), [(1, 0, 1, 0), (4, 2, 0, 2), (5, 2, 1, 2)]
)
def test_stacking_follows_the_reference(num_blocks: int, enc: int, mid: int, dec: int) -> None:
    model = MP3Restore(MP3RestoreConfig.debug(num_blocks))
    assert (len(model.encoder), len(model.middle), len(model.decoder)) == (enc, mid, dec)
    assert (model.final is None) == (num_blocks == 1)
    assert model.config.context_frames == 2 * model.config.num_convs


def test_paper_block_size() -> None:
    # HP §3: 2 x 5 x 5 depthwise + 2 pointwise (513 <-> 256) + bias + per-channel PReLU
    block = RestoreBlock(513, 256)
    expected = 513 * 25 + 513 * 256 + 256 + 256 + 256 * 25 + 256 * 513 + 513
    assert sum(p.numel() for p in block.parameters()) == expected


@pytest.mark.parametrize("num_blocks", [1, 5])
def test_receptive_field_is_context_frames(num_blocks: int) -> None:
    torch.manual_seed(0)
    cfg = MP3RestoreConfig(num_blocks=num_blocks, latent=8, residual=False)
    model = MP3Restore(cfg).eval()
    image = torch.randn(1, 2, 80, cfg.num_bins)
    poked = image.clone()
    poked[:, :, 40] += 1.0
    with torch.no_grad():
        changed = (model(poked) - model(image)).abs().amax(dim=(0, 1, 3)) > 0
    frames = changed.nonzero().flatten()
    c = cfg.context_frames
    assert frames.min().item() == 40 - c and frames.max().item() == 40 + c


@pytest.mark.parametrize("num_blocks", [1, 5])
def test_residual_model_starts_as_identity(num_blocks: int, rng: np.random.Generator) -> None:
    model = MP3Restore(MP3RestoreConfig.debug(num_blocks)).eval()
    wav = torch.from_numpy(rng.standard_normal((2, 9000)).astype(np.float32))
    with torch.no_grad():
        out = model.restore(wav)
    assert out.shape == wav.shape
    assert torch.allclose(out, wav, atol=1e-5)


def test_any_length_and_config_errors() -> None:
    model = MP3Restore(MP3RestoreConfig.debug(1))
    for frames in (1, 3, 401):
        assert model(torch.randn(1, 2, frames, 513)).shape == (1, 2, frames, 513)
    with pytest.raises(ConfigError):
        MP3RestoreConfig(kernel_size=4)
    with pytest.raises(ConfigError):
        MP3RestoreConfig.from_dict({"latnet": 3})


def test_int8_quantises_the_pointwise_layers(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    model = MP3Restore(MP3RestoreConfig(num_blocks=1, latent=32, residual=False)).eval()
    q = quantize_int8(model)
    assert type(q.middle[0].encode.pointwise).__name__ == "Linear"  # a dynamic quantised one
    assert "quantized" in type(q.middle[0].encode.pointwise).__module__
    assert isinstance(model.middle[0].encode.pointwise, torch.nn.Linear)  # original untouched
    wav = torch.from_numpy(rng.standard_normal((1, 8000)).astype(np.float32) * 0.1)
    with torch.no_grad():
        ref, got = model.restore(wav), q.restore(wav)
    rel = (got - ref).norm() / ref.norm()
    assert rel < 0.05
