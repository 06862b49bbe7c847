"""HP-codec streaming: chunked per-channel coding equals whole-file coding (no seams)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bandgen.hp_stream import (
    DECODE_CONTEXT,
    ENCODE_CONTEXT,
    ChannelDecoder,
    ChannelEncoder,
    decode_tokens,
    encode_tokens,
)
from bandgen.models.hpcodec import HPCodec, HPCodecConfig


@pytest.fixture(scope="module")
def model() -> HPCodec:
    torch.manual_seed(0)
    return HPCodec(HPCodecConfig.debug()).eval()


def _reach(fn: object, n_in: int, channels: int, out_index: int) -> tuple[int, int]:
    """First and last input index the output at ``out_index`` depends on."""
    x = torch.zeros(1, channels, n_in, requires_grad=True)
    fn(x)[..., out_index].sum().backward()  # type: ignore[operator]
    assert x.grad is not None
    nonzero = (x.grad[0].abs().sum(dim=0) > 0).nonzero()
    return int(nonzero.min()), int(nonzero.max())


def test_contexts_cover_the_receptive_fields(model: HPCodec) -> None:
    """The margins of the pieces are at least the receptive fields (in tokens, rounded up)."""

    def tokens(reach: tuple[int, int], centre: int, per_token: float) -> float:
        return max(centre - reach[0], reach[1] - centre) / per_token

    latent = model.config.latent_dim
    enc_low = tokens(_reach(model.low.encoder, 64 * 160, 1, 32), 32 * 160, 160)
    enc_high = tokens(_reach(model.high.encoder, 64 * 480, 1, 32), 32 * 480, 480)
    dec_low = tokens(_reach(model.low.decoder, 64, latent, 32 * 160), 32, 1)
    dec_high = tokens(_reach(model.high.decoder, 64, latent, 32 * 480), 32, 1)
    down = tokens(_reach(model.resampler.down, 9600, 1, 1600), 4800, 480)
    up = tokens(_reach(model.resampler.up, 3200, 1, 4800), 1600, 160)
    assert max(dec_low, dec_high) + up <= DECODE_CONTEXT
    assert enc_low + down + dec_low + up + enc_high <= ENCODE_CONTEXT


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(48_000 * seconds)
    t = np.arange(n) / 48_000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)
    return tone.astype(np.float32)


def _push_in_blocks(coder: ChannelEncoder | ChannelDecoder, data: np.ndarray, block: int) -> list:
    parts = []
    for i in range(0, data.shape[-1], block):
        parts.append(coder.push(data[..., i : i + block]))
    parts.append(coder.finish())
    return parts


@pytest.mark.parametrize("branches", [1, 2])
def test_chunked_encode_and_decode_equal_whole_file(model: HPCodec, branches: int) -> None:
    wav = _signal(1.234)
    tokens = -(-wav.size // 480)
    padded = np.pad(wav, (0, tokens * 480 - wav.size))
    whole = encode_tokens(model, torch.from_numpy(padded).view(1, 1, -1), branches)[0].numpy()
    assert whole.shape == (6 * branches, tokens)

    encoder = ChannelEncoder(model, branches, chunk=7)
    codes = np.concatenate(_push_in_blocks(encoder, wav, 5_000), axis=1)
    assert np.array_equal(codes, whole)

    audio = decode_tokens(model, torch.from_numpy(whole)[None])[0, 0, : wav.size].numpy()
    decoder = ChannelDecoder(model, wav.size, chunk=9)
    out = np.concatenate(_push_in_blocks(decoder, whole, 13))
    assert out.shape == (wav.size,)
    np.testing.assert_allclose(out, audio, atol=1e-5)


def test_restart_stands_in_for_lost_tokens(model: HPCodec) -> None:
    decoder = ChannelDecoder(model, 48_000, chunk=9)
    codes = np.zeros((6, 30), np.int64)
    first = decoder.push(codes)
    flushed = decoder.finish()
    assert first.size + flushed.size == 30 * 480
    assert decoder.restart(20) == 20 * 480
    rest = np.concatenate([decoder.push(np.zeros((6, 50), np.int64)), decoder.finish()])
    assert rest.size == 48_000 - 50 * 480
