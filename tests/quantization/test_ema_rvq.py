"""EMA residual VQ of SpectroStream: the biased dropout table, bypass, EMA learning, eval
identity of ``decode(encode(z))`` and the training forward."""

from __future__ import annotations

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.quantization.ema_rvq import EMAResidualVQ, biased_levels


def test_biased_levels_match_the_paper() -> None:
    levels = biased_levels(64)
    assert levels[:16] == tuple(range(1, 17))
    assert levels[16:24] == tuple(range(18, 33, 2))
    assert levels[24:] == tuple(range(36, 65, 4))
    assert biased_levels(8)[-1] == 8


def test_eval_decode_of_encode_equals_forward() -> None:
    torch.manual_seed(0)
    rvq = EMAResidualVQ(8, 6, codebook_size=32)
    rvq.train()
    rvq(torch.randn(4, 8, 50))
    rvq.eval()
    z = torch.randn(2, 8, 20)
    for n_q in (0, 1, 3, 6):
        codes = rvq.encode(z, n_q)
        assert codes.shape == (2, n_q, 20)
        assert torch.allclose(rvq.decode(codes), rvq(z, n_q).z_q, atol=1e-6)


def test_more_levels_code_closer() -> None:
    torch.manual_seed(0)
    rvq = EMAResidualVQ(4, 8, codebook_size=64, bypass_rate=0.0)
    rvq.train()
    data = torch.randn(16, 4, 64)
    for _ in range(30):
        rvq(data)
    rvq.eval()
    errors = [(rvq.decode(rvq.encode(data, n)) - data).pow(2).mean().item() for n in (1, 4, 8)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.2 * data.pow(2).mean().item()


def test_bypass_items_pass_unquantised() -> None:
    torch.manual_seed(0)
    rvq = EMAResidualVQ(4, 4, codebook_size=16, bypass_rate=0.5)
    rvq.train()
    z = torch.randn(64, 4, 3)
    out = rvq(z)
    same = (out.z_q - z).abs().amax(dim=(1, 2)) == 0
    assert 10 < int(same.sum()) < 54  # about half of the items are bypassed


def test_bad_settings_refused() -> None:
    with pytest.raises(ConfigError):
        EMAResidualVQ(4, 0)
    with pytest.raises(ConfigError):
        EMAResidualVQ(4, 2, bypass_rate=1.0)
