"""Causal convolutions: output shapes and causality (new input leaves past output unchanged)."""

from __future__ import annotations

import pytest
import torch

from bandgen.nn.conv import CausalConv1d, CausalConv2d, CausalConvTranspose1d


@pytest.mark.parametrize(
    ("kernel_size", "stride", "dilation"), [(7, 1, 1), (3, 1, 9), (4, 2, 1), (2, 1, 1), (8, 8, 1)]
)
def test_conv1d_shape_and_causality(kernel_size: int, stride: int, dilation: int) -> None:
    torch.manual_seed(0)
    conv = CausalConv1d(3, 5, kernel_size, stride=stride, dilation=dilation)
    x = torch.randn(2, 3, 64)
    y = conv(x)
    assert y.shape == (2, 5, 64 // stride)
    t0 = 40
    x2 = x.clone()
    x2[..., t0:] = torch.randn_like(x2[..., t0:])
    y2 = conv(x2)
    past = t0 // stride  # output t covers input up to t * stride + stride - 1
    torch.testing.assert_close(y2[..., :past], y[..., :past])
    assert not torch.allclose(y2[..., past:], y[..., past:])


def test_conv1d_pads_partial_hop() -> None:
    conv = CausalConv1d(1, 1, 4, stride=2)
    assert conv(torch.randn(1, 1, 9)).shape[-1] == 5


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_conv_transpose1d_shape_and_causality(stride: int) -> None:
    torch.manual_seed(0)
    conv = CausalConvTranspose1d(4, 3, 2 * stride, stride=stride)
    x = torch.randn(2, 4, 16)
    y = conv(x)
    assert y.shape == (2, 3, 16 * stride)
    x2 = x.clone()
    x2[..., 10:] += 1.0
    y2 = conv(x2)
    torch.testing.assert_close(y2[..., : 10 * stride], y[..., : 10 * stride])
    assert not torch.allclose(y2[..., 10 * stride :], y[..., 10 * stride :])


def test_conv_transpose_rejects_short_kernel() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        CausalConvTranspose1d(1, 1, 1, stride=2)


@pytest.mark.parametrize(("kernel", "freq_stride"), [(7, 2), (3, 1), (3, 2), (1, 2)])
def test_conv2d_shape_and_time_causality(kernel: int, freq_stride: int) -> None:
    torch.manual_seed(0)
    conv = CausalConv2d(2, 3, kernel, stride=(freq_stride, 1))
    x = torch.randn(1, 2, 20, 12)
    y = conv(x)
    assert y.shape == (1, 3, 20 // freq_stride, 12)
    x2 = x.clone()
    x2[..., 7:] = torch.randn_like(x2[..., 7:])
    y2 = conv(x2)
    torch.testing.assert_close(y2[..., :7], y[..., :7])
    assert not torch.allclose(y2[..., 7:], y[..., 7:])


def test_weight_norm_is_applied() -> None:
    conv = CausalConv1d(2, 2, 3)
    names = {n for n, _ in conv.named_parameters()}
    assert any("original0" in n for n in names) and any("original1" in n for n in names)
    plain = CausalConv1d(2, 2, 3, norm=False)
    assert not any("original" in n for n, _ in plain.named_parameters())
