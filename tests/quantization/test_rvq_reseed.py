"""Dead-code re-seeding of the factorised VQ (opt-in; HP-codec's CPU preset)."""

from __future__ import annotations

import torch

from bandgen.quantization.rvq import FactorizedVQ, ResidualVectorQuantizer


def _collapsed_input(frames: int = 64) -> torch.Tensor:
    """Latents ~99 % one constant vector (as a fresh DAC encoder's), small variation."""
    gen = torch.Generator().manual_seed(0)
    const = torch.randn(1, 16, 1, generator=gen)
    return const + 0.05 * torch.randn(4, 16, frames, generator=gen)


def _used(vq: FactorizedVQ, z: torch.Tensor) -> int:
    with torch.no_grad():
        return int(torch.unique(vq.nearest(vq.in_proj(z))).numel())


def test_reseeding_revives_a_collapsed_codebook() -> None:
    z = _collapsed_input()
    torch.manual_seed(0)
    plain = FactorizedVQ(16, 256, 4)
    torch.manual_seed(0)
    reseeded = FactorizedVQ(16, 256, 4, reseed_dead=True)
    assert _used(plain, z) == _used(reseeded, z) <= 5  # one direction: a few entries of 256
    for _ in range(60):  # the unused entries' usage decays below the threshold (~45 steps)
        plain(z)
        reseeded(z)
    assert _used(plain, z) <= 5
    assert _used(reseeded, z) > 20  # entries now sit on the batch's own encodings


def test_reseeding_is_off_by_default_in_eval_and_not_saved() -> None:
    z = _collapsed_input()
    vq = FactorizedVQ(16, 256, 4, reseed_dead=True).eval()
    before = vq.codebook.weight.detach().clone()
    for _ in range(60):
        vq(z)
    assert torch.equal(vq.codebook.weight, before)  # eval never touches the codebook
    assert "usage" not in vq.state_dict()  # training-only state: shipped weights unchanged
    rvq = ResidualVectorQuantizer(16, 2, codebook_size=32, codebook_dim=4)
    assert not any(stage.reseed_dead for stage in rvq.stages)
