"""DAC-style RVQ: decode(encode(z)) == forward(z).z_q in eval, dropout, losses, gradients."""

from __future__ import annotations

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.quantization.base import DummyQuantizer
from bandgen.quantization.rvq import ResidualVectorQuantizer


def _rvq(dropout: float = 0.0, num_codebooks: int = 4) -> ResidualVectorQuantizer:
    torch.manual_seed(0)
    return ResidualVectorQuantizer(
        12, num_codebooks, codebook_size=32, codebook_dim=4, quantizer_dropout=dropout
    )


@pytest.mark.parametrize("n_q", [None, 4, 2, 1, 0])
def test_decode_encode_equals_forward_in_eval(n_q: int | None) -> None:
    rvq = _rvq(dropout=0.5).eval()
    z = torch.randn(3, 12, 7)
    result = rvq(z, n_q)
    codes = rvq.encode(z, n_q)
    expected_k = 4 if n_q is None else n_q
    assert codes.shape == (3, expected_k, 7) and codes.dtype == torch.long
    assert bool(((codes >= 0) & (codes < 32)).all())
    torch.testing.assert_close(result.codes, codes)
    torch.testing.assert_close(rvq.decode(codes), result.z_q, atol=1e-5, rtol=1e-5)
    assert result.latents.shape == (3, 4 * expected_k, 7)


def test_fewer_stages_are_a_prefix_and_reduce_error() -> None:
    rvq = _rvq().eval()
    z = torch.randn(2, 12, 50)
    codes = rvq.encode(z)
    torch.testing.assert_close(rvq.encode(z, 2), codes[:, :2])
    torch.testing.assert_close(rvq.decode(codes[:, :2]), rvq(z, 2).z_q, atol=1e-5, rtol=1e-5)


def test_quantizer_dropout_truncates_only_the_dropout_fraction() -> None:
    rvq = _rvq(dropout=0.5).train()
    z = torch.randn(8, 12, 5)
    full = rvq.eval()(z).z_q
    torch.manual_seed(3)
    result = rvq.train()(z)
    # the last half of the batch always uses every stage
    torch.testing.assert_close(result.z_q[4:], full[4:], atol=1e-5, rtol=1e-5)
    # each of the first half uses a prefix of 1..4 stages of its own codes
    used = []
    for b in range(4):
        prefixes = [rvq.decode(result.codes[b : b + 1, :k]) for k in range(1, 5)]
        matches = [
            k + 1
            for k, p in enumerate(prefixes)
            if torch.allclose(p, result.z_q[b : b + 1], atol=1e-5)
        ]
        assert matches, f"item {b} is no prefix decode"
        used.append(matches[0])
    assert min(used) < 4


def test_no_dropout_in_eval_or_when_disabled() -> None:
    z = torch.randn(6, 12, 3)
    rvq = _rvq(dropout=0.0).train()
    torch.testing.assert_close(rvq(z).z_q, rvq.eval()(z).z_q)


def test_losses_and_straight_through_gradients() -> None:
    rvq = _rvq().train()
    z = torch.randn(2, 12, 9, requires_grad=True)
    result = rvq(z)
    assert result.commitment_loss > 0 and result.codebook_loss > 0
    torch.testing.assert_close(result.commitment_loss, result.codebook_loss)  # same MSE value
    result.z_q.square().sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(layer.codebook.weight.grad is None for layer in rvq.stages)  # ST skips the codebook
    rvq.zero_grad()
    rvq(z).codebook_loss.backward()
    assert all(layer.codebook.weight.grad is not None for layer in rvq.stages)


def test_bit_accounting_and_validation() -> None:
    rvq = ResidualVectorQuantizer(320, 11)
    assert rvq.bits_per_code == 10 and rvq.bits_per_frame() == 110 and rvq.bits_per_frame(3) == 30
    with pytest.raises(ValueError, match="n_q"):
        rvq.encode(torch.randn(1, 320, 2), 12)
    with pytest.raises(ValueError, match="codes"):
        rvq.decode(torch.zeros(1, 12, 2, dtype=torch.long))
    with pytest.raises(ConfigError):
        ResidualVectorQuantizer(8, 0)


def test_dummy_quantizer_round_trip() -> None:
    dummy = DummyQuantizer(5)
    z = torch.randn(2, 5, 3)
    result = dummy(z)
    assert result.z_q is z and float(result.commitment_loss) == 0.0
    torch.testing.assert_close(dummy.decode(dummy.encode(z)), z)
    assert dummy.bits_per_frame() == 0.0
