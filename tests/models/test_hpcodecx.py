"""HP-codecX (transformers + frozen HP-codec): configs that must agree, a codec that stays
frozen, the training tokens as the codec codes them, and the generated band's shape."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.models.hpcodecx import HPCodecX, HPCodecXConfig
from bandgen.models.hpcodecx_lm import LMConfig


def test_presets_and_consistency() -> None:
    paper, cpu = HPCodecXConfig.paper(), HPCodecXConfig.cpu()
    assert paper.lm == LMConfig.paper() and paper.window_frames == 250
    assert cpu.lm == LMConfig.cpu() and cpu.codec.codebook_size == 1024
    assert HPCodecXConfig.from_dict(cpu.to_dict()) == cpu
    debug = HPCodecXConfig.debug()
    with pytest.raises(ConfigError, match="must be the codec's"):
        dataclasses.replace(debug, lm=dataclasses.replace(debug.lm, codebook_size=32))
    with pytest.raises(ConfigError, match="window_frames"):
        dataclasses.replace(debug, window_frames=10)


@pytest.fixture(scope="module")
def model() -> HPCodecX:
    torch.manual_seed(0)
    return HPCodecX(HPCodecXConfig.debug())


def test_the_codec_stays_frozen(model: HPCodecX) -> None:
    model.train()
    assert model.lm.training and not model.codec.training
    assert not any(p.requires_grad for p in model.codec.parameters())
    assert all(p.requires_grad for p in model.lm.parameters())
    model.eval()
    assert not model.lm.training


def test_tokens_and_generated_band(model: HPCodecX) -> None:
    g = torch.Generator().manual_seed(1)
    x16 = 0.1 * torch.randn(2, 1, 1600, generator=g)
    x48 = 0.1 * torch.randn(2, 1, 4800, generator=g)
    low, high = model.tokens(x16, x48)
    assert low.shape == high.shape == (2, 6, 10)
    codec = model.codec
    assert torch.equal(low, codec.encode_low(x16))
    residual = x48 - codec.to_48k(codec.decode_low(low))
    assert torch.equal(high, codec.encode_high(residual))
    out = model.extend_high(x16)
    assert out.shape == (2, 1, 4800)
    assert torch.allclose(out, codec.decode_high(model.lm.predict(low)))
