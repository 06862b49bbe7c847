"""SBG feature encoder: output sizes for 12/16 kbps, time causality, FiLM conditioning."""

from __future__ import annotations

import pytest
import torch

from bandgen.nn.resnet2d import ResNet2dEncoder

WIDTHS = (4, 8, 8, 16)


def _encoder(num_bins: int = 320, *, causal_pool: bool = True) -> ResNet2dEncoder:
    torch.manual_seed(0)
    return ResNet2dEncoder(
        num_bins=num_bins,
        widths=WIDTHS,
        blocks=(1, 1, 1, 1),
        patch_dim=4,
        cond_channels=6,
        cond_stride=8,
        causal_pool=causal_pool,
    )


@pytest.mark.parametrize(("num_bins", "patches"), [(320, 10), (352, 11)])
def test_output_dim(num_bins: int, patches: int) -> None:
    enc = _encoder(num_bins)
    assert enc.num_patches == patches and enc.out_dim == 4 * patches
    out = enc(torch.randn(2, 1, num_bins, 5), torch.randn(2, 6, 40))
    assert out.shape == (2, 4 * patches, 5)


def test_paper_size_output() -> None:
    enc = ResNet2dEncoder(num_bins=320, cond_channels=256)
    assert enc.out_dim == 320
    assert enc.films is not None
    assert [f.channels for f in enc.films] == [64, 64, 128, 256]


def test_causal_in_time() -> None:
    enc = _encoder().eval()
    spec, h = torch.randn(1, 1, 320, 6), torch.randn(1, 6, 48)
    out = enc(spec, h)
    spec2, h2 = spec.clone(), h.clone()
    spec2[..., 3:] = torch.randn_like(spec2[..., 3:])
    h2[..., 24:] = torch.randn_like(h2[..., 24:])  # h frames 3.. (8 samples per frame)
    out2 = enc(spec2, h2)
    torch.testing.assert_close(out2[..., :3], out[..., :3], atol=1e-6, rtol=0)
    assert not torch.allclose(out2[..., 3:], out[..., 3:])


def test_reference_pool_looks_one_frame_ahead() -> None:
    """``causal_pool=False`` reproduces the reference max-pool: frame 2 sees frame 3."""
    enc = _encoder(causal_pool=False).eval()
    spec, h = torch.randn(1, 1, 320, 6), torch.randn(1, 6, 48)
    out = enc(spec, h)
    spec2 = spec.clone()
    spec2[..., 3:] = torch.randn_like(spec2[..., 3:])
    out2 = enc(spec2, h)
    torch.testing.assert_close(out2[..., :2], out[..., :2], atol=1e-6, rtol=0)
    assert not torch.allclose(out2[..., 2], out[..., 2])


def test_conditioning_changes_output_and_is_required() -> None:
    enc = _encoder()
    spec = torch.randn(1, 1, 320, 2)
    a = enc(spec, torch.randn(1, 6, 16))
    b = enc(spec, torch.randn(1, 6, 16))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="FiLM"):
        enc(spec)
