"""FiLM / TFiLM: per-frame modulation, frame replication, and really separate gamma and beta."""

from __future__ import annotations

import pytest
import torch

from bandgen.nn.film import FiLM, TFiLM


def _gamma_beta_by_probing(film: TFiLM, cond: torch.Tensor, length: int) -> tuple:
    """Recover (gamma, beta) from outputs: x = 0 gives beta, x = 1 gives gamma + beta."""
    channels = film.channels
    beta = film(torch.zeros(cond.shape[0], channels, length), cond)
    gamma = film(torch.ones(cond.shape[0], channels, length), cond) - beta
    return gamma, beta


def test_tfilm_replicates_each_frame() -> None:
    torch.manual_seed(0)
    film = TFiLM(cond_dim=6, channels=3)
    cond = torch.randn(2, 6, 4)
    x = torch.randn(2, 3, 32)
    y = film(x, cond)
    gamma, beta = film.gamma_beta(cond)
    expected = x * gamma.repeat_interleave(8, dim=-1) + beta.repeat_interleave(8, dim=-1)
    torch.testing.assert_close(y, expected)
    # causal at frame granularity: changing frame 2's conditioning leaves samples < 16 unchanged
    cond2 = cond.clone()
    cond2[..., 2:] += 1.0
    y2 = film(x, cond2)
    torch.testing.assert_close(y2[..., :16], y[..., :16])
    assert not torch.allclose(y2[..., 16:], y[..., 16:])


def test_tfilm_gamma_and_beta_are_separate_after_init_and_step() -> None:
    torch.manual_seed(0)
    film = TFiLM(cond_dim=5, channels=4)
    cond = torch.randn(2, 5, 3)
    gamma, beta = _gamma_beta_by_probing(film, cond, 6)
    assert not torch.allclose(gamma, beta)
    optimizer = torch.optim.SGD(film.parameters(), lr=0.1)
    x = torch.randn(2, 4, 6)
    loss = (film(x, cond) - 2 * x).square().mean()
    loss.backward()
    optimizer.step()
    gamma2, beta2 = _gamma_beta_by_probing(film, cond, 6)
    assert not torch.allclose(gamma2, beta2)
    # the two halves of the projection receive different gradients
    grad = film.proj.weight.grad
    assert grad is not None and not torch.allclose(grad[:4], grad[4:])


def test_tfilm_rejects_non_multiple_length() -> None:
    film = TFiLM(cond_dim=2, channels=1)
    with pytest.raises(ValueError, match="whole number"):
        film(torch.randn(1, 1, 10), torch.randn(1, 2, 3))


def test_film2d_broadcasts_over_frequency() -> None:
    torch.manual_seed(0)
    film = FiLM(cond_dim=3, channels=2)
    x = torch.randn(1, 2, 5, 4)
    cond = torch.randn(1, 3, 4)
    y = film(x, cond)
    gamma, beta = film.gamma_beta(cond)
    assert not torch.allclose(gamma, beta)
    torch.testing.assert_close(y, x * gamma[:, :, None] + beta[:, :, None])
    with pytest.raises(ValueError, match="frames"):
        film(x, torch.randn(1, 3, 5))


@pytest.mark.parametrize("cls", [FiLM, TFiLM])
def test_modulation_starts_near_identity_with_no_shift(cls: type) -> None:
    # gamma = 1 + (linear in cond), beta = 0: an untrained decoder keeps its features and adds
    # no per-frame constant (a constant in a PQMF band is a steady tone)
    torch.manual_seed(0)
    film = cls(cond_dim=6, channels=5)
    gamma, beta = film.gamma_beta(torch.zeros(3, 6, 4))
    torch.testing.assert_close(gamma, torch.ones_like(gamma))
    torch.testing.assert_close(beta, torch.zeros_like(beta))
    gamma, beta = film.gamma_beta(torch.randn(3, 6, 4))
    assert beta.abs().max() == 0
    assert not torch.allclose(gamma, torch.ones_like(gamma))
