"""MPD and MB-STFT discriminators (HP §1.5): shapes, feature maps, gradients, band selectivity."""

from __future__ import annotations

import math

import pytest
import torch

from bandgen.discriminators import (
    BANDS_12K,
    BANDS_16K,
    MultiBandSTFTDiscriminator,
    MultiPeriodDiscriminator,
    build_discriminator,
)
from bandgen.errors import ConfigError
from bandgen.losses.adversarial import hinge_generator_loss

SEGMENT = 45056  # 0.95 s at 48 kHz, the n-SBG training segment


def test_mpd_shapes_and_fmaps() -> None:
    torch.manual_seed(0)
    mpd = MultiPeriodDiscriminator(channels=4)
    out = mpd(torch.randn(2, 1, SEGMENT))
    assert len(out) == len(out.fmaps) == 5 == mpd.num_discriminators
    for period, logits, fmaps in zip((2, 3, 5, 7, 11), out.logits, out.fmaps, strict=True):
        rows = math.ceil(SEGMENT / period)
        for _ in range(4):
            rows = (rows - 1) // 3 + 1
        assert logits.shape == (2, 1, rows, period)
        assert [f.shape[1] for f in fmaps] == [4, 8, 16, 32, 64]


@pytest.mark.parametrize(("bands", "num_fmaps"), [(BANDS_12K, 25), (BANDS_16K, 30)])
def test_mbstft_shapes_and_fmaps(bands: tuple[tuple[float, float], ...], num_fmaps: int) -> None:
    torch.manual_seed(0)
    disc = MultiBandSTFTDiscriminator(channels=4, bands=bands)
    out = disc(torch.randn(1, 1, SEGMENT))
    assert len(out) == 3
    for n_fft, hop, logits, fmaps in zip(
        (2048, 1024, 512), (512, 256, 128), out.logits, out.fmaps, strict=True
    ):
        assert logits.shape[:3] == (1, 1, 1 + SEGMENT // hop)
        assert len(fmaps) == num_fmaps
        bins = n_fft // 2 + 1
        widths = [int(hi * bins) - int(lo * bins) for lo, hi in bands]
        assert logits.shape[3] == sum(math.ceil(w / 8) for w in widths)


def test_full_discriminator_gradients_flow() -> None:
    torch.manual_seed(0)
    disc = build_discriminator("mpd+mbstft", scale=0.25)
    assert disc.num_discriminators == 8
    wav = (0.1 * torch.randn(1, 1, SEGMENT)).requires_grad_()
    out = disc(wav)
    assert len(out.logits) == len(out.fmaps) == 8
    hinge_generator_loss(out.logits).backward()
    assert wav.grad is not None and wav.grad.abs().sum() > 0
    assert all(p.grad is not None for p in disc.parameters())


def test_mbstft_sees_only_its_bands() -> None:
    torch.manual_seed(0)
    disc = MultiBandSTFTDiscriminator(channels=4).double()
    length = 16384
    wav = 0.1 * torch.randn(1, 1, length, dtype=torch.float64)
    t = torch.arange(length, dtype=torch.float64)
    # 375 Hz = 4 periods per 512 samples: on a bin of every scale, so the rectangular window
    # does not leak it into the bands (0.15-0.45 of the bins, ~3.6-10.8 kHz).
    outside = 0.5 * torch.sin(2 * math.pi * 375.0 * t / 48000)
    inside = 0.5 * torch.sin(2 * math.pi * 6000.0 * t / 48000)
    base = disc(wav).logits
    moved_out = disc(wav + outside).logits
    moved_in = disc(wav + inside).logits
    for ref, out, changed in zip(base, moved_out, moved_in, strict=True):
        # frames within reach of the reflect-padded edges see the tone's discontinuity
        core = (..., slice(8, -8), slice(None))
        torch.testing.assert_close(out[core], ref[core], atol=1e-6, rtol=0)
        assert (changed[core] - ref[core]).abs().max() > 1e-3


def test_build_discriminator_kinds() -> None:
    assert build_discriminator("mpd", scale=0.25).num_discriminators == 5
    assert build_discriminator("mbstft", scale=0.25, bands=BANDS_16K).num_discriminators == 3
    for bad in ("msd", "mpd+mpd", ""):
        with pytest.raises(ConfigError):
            build_discriminator(bad)
    with pytest.raises(ConfigError):
        build_discriminator(scale=0.0)
    with pytest.raises(ValueError):
        build_discriminator("mpd")(torch.zeros(1, 2, 1000))
