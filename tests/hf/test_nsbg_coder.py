"""``--hf nsbg`` / ``--hf blind`` with a tiny random debug model exported by the test."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from bandgen.bitstream import ContainerReader
from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.errors import BitstreamError, ConfigError
from bandgen.hf import registry
from bandgen.hf.none import NoneCoder
from bandgen.hf.nsbg import (
    NsbgBlindCoder,
    NsbgCoder,
    crossover_bands,
    pack_codes,
    unpack_codes,
)
from bandgen.hf.nsbg_stream import StreamGeometry, _generator_past
from bandgen.models import nsbg as nsbg_model
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import HIGH_BAND_FREE_POWER, HIGH_OVER_CORE_DB, NSBG, bound_generated
from bandgen.pretrained import registry as pretrained
from bandgen.train.checkpoint import export_weights


def _export(
    path: Path,
    *,
    seed: int = 0,
    blind: bool = False,
    edge_notch: int = 0,
    generator: str = "seanet",
    gain_bias: float | None = None,
) -> Path:
    torch.manual_seed(seed)
    config = NSBGConfig.from_dict(
        {
            **NSBGConfig.debug().to_dict(),
            "blind": blind,
            "edge_notch": edge_notch,
            "generator": generator,
            "patch_channels": 8,
            "latent_dim": 8,
        }
    )
    info = {"model": "nsbg", "config": config.to_dict(), "bitrate_kbps": 12}
    model = NSBG(config)
    if gain_bias is not None:  # the patch generator's log-gains, before its codes add to them
        with torch.no_grad():
            model.generator.head_out.conv.bias[: config.num_generated].fill_(gain_bias)  # type: ignore[union-attr, index]
    export_weights(path, model, info)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("nsbg") / "tiny.safetensors")


@pytest.fixture(scope="module")
def notched_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a 40-tap band-edge notch (its reach enters the stream context)."""
    return _export(tmp_path_factory.mktemp("nsbg") / "notched.safetensors", edge_notch=40)


@pytest.fixture(scope="module")
def patch_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with the patch generator and envelope encoder."""
    return _export(tmp_path_factory.mktemp("nsbg") / "patch.safetensors", generator="patch")


def _signal(length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(original, core)``, float32 ``[length]``: a tone in noise and a muffled copy."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 48_000
    wav = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(length)
    core = np.convolve(wav, np.ones(9) / 9, mode="same")
    return wav.astype(np.float32), core.astype(np.float32)


def _model_output(model: NSBG, wav: np.ndarray, core: np.ndarray, n_q: int | None) -> np.ndarray:
    with torch.inference_mode():
        w, c = torch.from_numpy(wav)[None, None], torch.from_numpy(core)[None, None]
        return model.decode(c, model.encode(w, c, n_q))[0, 0].numpy()


def test_payload_round_trip_is_bit_exact(weights: Path) -> None:
    coder = NsbgCoder(weights=str(weights))
    assert coder.frame_length == 2048 and coder.n_q == 3 and coder.code_bits == 6
    assert coder.bitrate == pytest.approx(3 * 6 * 48_000 / 2048)
    codes = np.random.default_rng(0).integers(0, 64, size=(3, 50))
    for frame in codes.T:
        payload = coder.pack(frame)
        assert len(payload) == coder.payload_bytes == 3  # 18 bits
        np.testing.assert_array_equal(coder.unpack(payload), frame)
    # 11 stages of 1024 entries: 110 bits in 14 bytes, codes survive
    paper = np.arange(11) * 93
    assert len(pack_codes(paper, 10)) == 14
    np.testing.assert_array_equal(unpack_codes(pack_codes(paper, 10), 11, 10, context="x"), paper)


def test_bad_payload_lengths_are_refused(weights: Path) -> None:
    coder = NsbgCoder(weights=str(weights))
    wav, core = _signal(3 * 2048)
    payloads = coder.encode(wav, core)
    with pytest.raises(BitstreamError, match="frame 1 needs 6 bits"):
        coder.decode(core, [payloads[0], payloads[1][:2], payloads[2]])
    with pytest.raises(BitstreamError, match="frame 0: 4 bytes, expected 3"):
        coder.decode(core, [payloads[0] + b"\0", *payloads[1:]])
    with pytest.raises(BitstreamError, match="side info ends after 2 frames"):
        coder.decode(core, payloads[:2])


@pytest.mark.parametrize("which", ["weights", "notched_weights", "patch_weights"])
def test_streaming_equals_offline(which: str, request: pytest.FixtureRequest) -> None:
    weights = request.getfixturevalue(which)
    coder = NsbgCoder(weights=str(weights), chunk_frames=3)
    geo = StreamGeometry(coder.model.config)
    length = geo.encoder_context + 5 * 2048 + 777  # windows that start past 0 in both directions
    wav, core = _signal(length)
    offline = coder.encode(wav, core)
    assert len(offline) == coder.num_frames(length) == -(-length // 2048)
    enc, payloads, pos = coder.new_encoder(), [], 0
    for n in itertools.cycle([1, 3001, 4097, 20_000, 100]):
        payloads += enc.push(wav[pos : pos + n], core[pos : pos + n])
        pos += n
        if pos >= length:
            break
    assert payloads == offline[: len(payloads)] and payloads + enc.flush() == offline

    reference = _model_output(coder.model, wav, core, None)
    dec, outs, pos, sent = coder.new_decoder(), [], 0, 0
    for n in itertools.cycle([5000, 1, 2047, 9999]):
        outs.append(dec.push(core[pos : pos + n], offline[sent : sent + 2]))
        pos, sent = pos + n, min(sent + 2, len(offline))
        if pos >= length:
            break
    outs += [dec.push(np.zeros(0, np.float32), offline[sent:]), dec.flush()]
    np.testing.assert_allclose(np.concatenate(outs), reference, atol=2e-5)
    np.testing.assert_allclose(coder.decode(core, offline), reference, atol=2e-5)


@pytest.mark.parametrize("which", ["weights", "notched_weights", "patch_weights"])
def test_stream_context_covers_the_receptive_field(
    which: str, request: pytest.FixtureRequest
) -> None:
    """A change at one sample reaches no further than the geometry's context assumes."""
    weights = request.getfixturevalue(which)
    model = NsbgCoder(weights=str(weights)).model
    cfg, geo = model.config, StreamGeometry(model.config)
    wav, core = (torch.from_numpy(x)[None, None] for x in _signal(40 * 2048))
    poked = core.clone()
    poked[..., 4096] += 1.0
    with torch.inference_mode():
        codes = model.encode(wav, core)
        diff = (model.decode(poked, codes) - model.decode(core, codes)).abs()[0, 0]
        reach = int(torch.nonzero(diff).max()) - 4096
        assert 0 < reach <= cfg.num_bands * _generator_past(cfg, decoder=True) + 2 * 240
        assert reach + 3 * 240 <= geo.decoder_context
        spec_poke = wav.clone()
        spec_poke[..., 5120] += 1.0  # mid-frame 2: the Hann window is 0 at its start
        emb = model._core(model._pad(core, "core"))[1]
        diff = (model.latents(spec_poke, emb) - model.latents(wav, emb)).abs()[0].sum(0)
        frames = int(torch.nonzero(diff).max()) - 2
        assert frames > 0 and frames * 2048 <= geo.encoder_context
        emb_poked = model._core(model._pad(poked, "core"))[1]
        diff = (model.latents(wav, emb_poked) - model.latents(wav, emb)).abs()[0].sum(0)
        frames = int(torch.nonzero(diff).max()) - 2
        assert frames > 0 and frames * 2048 + 240 <= geo.encoder_context


def test_measured_latency(weights: Path) -> None:
    """With one-frame chunks, output trails input by the geometry's latency (2496 samples)."""
    coder = NsbgCoder(weights=str(weights), chunk_frames=1)
    wav, core = _signal(5 * 2048)
    enc, dec, emitted, lag = coder.new_encoder(), coder.new_decoder(), 0, 0
    for pos in range(0, len(wav), 16):
        payloads = enc.push(wav[pos : pos + 16], core[pos : pos + 16])
        emitted += dec.push(core[pos : pos + 16], payloads).shape[0]
        lag = max(lag, pos + 16 - emitted)
    assert lag == coder.latency_samples == 2048 + 208 + 240


def test_codec_end_to_end_equals_the_model(weights: Path, tmp_path: Path) -> None:
    codec = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(weights))
    wav, _ = _signal(2 * 48_000 + 555)
    data = codec.encode(wav, 48_000)
    header = ContainerReader(io.BytesIO(data)).header
    config = header["hf"]["config"]
    assert header["hf"]["method"] == "nsbg" and config["n_q"] == 3
    assert config["sha256"] == pretrained.file_sha256(weights)
    assert "weights" not in config  # a stream names its model, never a file
    out = Codec.decode(data, weights=weights)[0]
    # the stream's own core packets, decoded alone (their rate depends on the side info's)
    core_only = Codec(codec.core, NoneCoder(), 12).decode_frames(ContainerReader(io.BytesIO(data)))
    core = np.concatenate(list(core_only), axis=1)[0]
    reference = _model_output(codec.hf.model, wav, core, None)  # type: ignore[attr-defined]
    np.testing.assert_allclose(out, reference, atol=2e-5)

    # the same stream against other weights under the same path: refused, both hashes named
    _export(weights.with_name("other.safetensors"), seed=1)
    other = registry.build("nsbg", weights=str(weights.with_name("other.safetensors")))
    wrong = {**config, "weights": str(weights.with_name("other.safetensors"))}
    with pytest.raises(BitstreamError, match=f"{config['sha256']}.*{other.config()['sha256']}"):
        registry.build("nsbg", **wrong)


def test_side_kbps_drops_stages(weights: Path) -> None:
    full = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(weights))
    fewer = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(weights), side_kbps=0.3)
    assert fewer.hf.config()["n_q"] == 2  # floor(300 / (6 bit x 23.4375 Hz)) = 2
    assert fewer.hf.bitrate < full.hf.bitrate
    wav, _ = _signal(48_000)
    sizes = []
    for codec in (full, fewer):
        data = codec.encode(wav, 48_000)
        reader = ContainerReader(io.BytesIO(data))
        assert reader.header["hf"]["config"]["n_q"] == codec.hf.config()["n_q"]
        sizes.append(sum(len(s) for f in reader for ch in f.channels for s in ch.side))
        Codec.decode(data, weights=weights)  # the decoder rebuilds the 2-stage coder
    assert sizes[1] < sizes[0]
    build = registry.build_for_bitrate
    assert build("nsbg", 12, weights=str(weights), side_kbps=0.01).config()["n_q"] == 1
    assert build("nsbg", 12, weights=str(weights), side_kbps=99).config()["n_q"] == 3


def test_blind_sends_nothing(tmp_path: Path, weights: Path) -> None:
    blind_weights = _export(tmp_path / "blind.safetensors", blind=True)
    coder = NsbgBlindCoder(weights=str(blind_weights))
    wav, core = _signal(3 * 2048 + 5)
    assert coder.bitrate == 0.0 and coder.num_frames(len(wav)) == 0
    assert coder.encode(wav, core) == []
    with torch.inference_mode():
        ref = coder.model.decode(torch.from_numpy(core)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(coder.decode(core, []), ref, atol=2e-5)
    codec = Codec.create(bitrate_kbps=12, hf="blind", weights=str(blind_weights))
    data = codec.encode(wav, 48_000)
    assert not any(
        s for f in ContainerReader(io.BytesIO(data)) for ch in f.channels for s in ch.side
    )
    assert Codec.decode(data, weights=blind_weights).shape == (1, len(wav))
    with pytest.raises(ConfigError, match="needs a blind model"):
        NsbgBlindCoder(weights=str(weights))
    with pytest.raises(ConfigError, match="non-blind"):
        NsbgCoder(weights=str(blind_weights))


def test_no_shipped_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(ConfigError, match="no nsbg model is shipped"):
        registry.build_for_bitrate("nsbg", 12)


def test_cli_side_kbps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _export(tmp_path / "nsbg-12k.safetensors")
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    src, bgn = tmp_path / "in.wav", tmp_path / "out.bgn"
    sf.write(str(src), _signal(24_000)[0], 48_000, subtype="FLOAT")
    args = ["encode", str(src), str(bgn), "--no-progress", "--hf", "nsbg"]
    assert main([*args, "--side-kbps", "0.2"]) == 0
    config = json.loads(json.dumps(ContainerReader(io.BytesIO(bgn.read_bytes())).header))
    assert config["hf"]["config"]["model"] == "nsbg-12k"
    assert config["hf"]["config"]["n_q"] == 1
    capsys.readouterr()
    assert main([*args[:-1], "none", "--side-kbps", "0.2"]) == 2
    assert "side_kbps" in capsys.readouterr().err


def test_decoder_never_sees_core_past_the_stream_length(weights: Path) -> None:
    """The core decodes whole AAC frames past the end; the high band must stop at the length.

    10 s at 48 kHz is 235 n-SBG frames, but the 8 kHz core decodes whole 1024-sample frames
    past the end (237 frames' worth): the engine must cut the core at the stream's length
    before the high-band decoder, or it asks for side info that was never sent.
    """
    codec = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(weights))
    wav, _ = _signal(10 * 48_000)
    out = Codec.decode(codec.encode(wav, 48_000), weights=weights)
    assert out.shape == (1, 10 * 48_000) and np.isfinite(out).all()


def test_released_n_q_is_the_default(tmp_path: Path) -> None:
    """Weights released for a mode with ``n_q`` in their JSON send that many stages by default
    (one model trained with quantiser dropout serves several modes); more can be asked."""
    path = _export(tmp_path / "modes.safetensors")
    info_path = path.with_suffix(".json")
    info = json.loads(info_path.read_text())
    info["n_q"] = 2
    info_path.write_text(json.dumps(info))
    assert NsbgCoder(weights=str(path)).n_q == 2
    assert NsbgCoder(weights=str(path), n_q=3).n_q == 3
    assert NsbgCoder.for_bitrate(12, weights=str(path), side_kbps=10.0).n_q == 3


def _block_rms(wav: np.ndarray, block: int = 256) -> np.ndarray:
    """RMS per ``block`` samples (the bound's hop) of ``wav [T]``."""
    return np.sqrt(np.mean(wav[: wav.shape[0] // block * block].reshape(-1, block) ** 2, axis=1))


def _forged_payloads(coder: NsbgCoder, length: int, seed: int) -> list[bytes]:
    """Well-formed side info of random codes, as a forged or damaged stream carries."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**coder.code_bits, size=(coder.num_frames(length), coder.n_q))
    return [coder.pack(frame) for frame in codes]


@pytest.mark.parametrize("seed", [0, 1])
def test_forged_side_info_cannot_blast(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patch model whose codes reach the log-gain clamp (+43 dB over the patched core band)
    decodes forged codes to peaks near 20 (15 dB over the core's level); the bound holds the
    high band within 12 dB of the core."""
    weights = _export(tmp_path / "loud.safetensors", generator="patch", gain_bias=5.0)
    coder = NsbgCoder(weights=str(weights), chunk_frames=2)
    wav, core = _signal(7 * 2048 + 300, seed)
    payloads = _forged_payloads(coder, wav.shape[0], seed)
    codes = torch.from_numpy(np.stack([coder.unpack(p) for p in payloads], axis=1))[None]
    with torch.inference_mode():
        offline = coder.model.decode(torch.from_numpy(core)[None, None], codes)[0, 0].numpy()
    streamed = coder.decode(core, payloads)  # windows of 2 frames, each bounded on its own
    np.testing.assert_allclose(streamed, offline, atol=2e-5)
    # core + generated bands: within 12 dB over the core's power (PQMF overlap: 25 % slack)
    ceiling = 1.25 * np.sqrt(1 + 10 ** (HIGH_OVER_CORE_DB / 10)) * _block_rms(core).max()
    assert _block_rms(offline).max() < ceiling
    monkeypatch.setattr(nsbg_model, "bound_generated", lambda core_bands, high: high)
    unbounded = coder.decode(core, payloads)
    assert _block_rms(unbounded).max() > 2 * ceiling and np.abs(unbounded).max() > 10.0


def test_bound_generated_scales_only_the_hops_over_it() -> None:
    gen = torch.Generator().manual_seed(0)
    core = torch.randn(1, 5, 16, generator=gen)
    high = 0.1 * torch.randn(1, 3, 16, generator=gen)
    high[..., 8:] *= 1000.0  # the second hop: far over the core
    out = bound_generated(core, high)
    torch.testing.assert_close(out[..., :8], high[..., :8], rtol=0, atol=0)
    core_power = core[..., 8:].square().sum(1).mean()
    ceiling = max(float(core_power) * 10 ** (HIGH_OVER_CORE_DB / 10), HIGH_BAND_FREE_POWER)
    assert float(out[..., 8:].square().sum(1).mean()) == pytest.approx(ceiling, rel=1e-5)


def test_bound_leaves_normal_decodes_unchanged(
    patch_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The patch generator (the shipped kind) at its -20 dB start: nothing to bound. (The
    untrained SEANet's random output is far over its core, so it is bounded.)"""
    coder = NsbgCoder(weights=str(patch_weights))
    wav, core = _signal(5 * 2048 + 11)
    payloads = coder.encode(wav, core)
    bounded = coder.decode(core, payloads)
    monkeypatch.setattr(nsbg_model, "bound_generated", lambda core_bands, high: high)
    np.testing.assert_array_equal(bounded, coder.decode(core, payloads))


def _core_bands_output(model: NSBG, core: np.ndarray, keep: int) -> np.ndarray:
    """The decoded core's bands ``0..keep-1`` alone, PQMF-synthesised: ``[T]``."""
    from bandgen.dsp.pqmf import fill_bands

    with torch.inference_mode():
        padded = model._pad(torch.from_numpy(core)[None, None], "core")
        kept = model.pqmf.analysis(padded, bands=keep)
        wav = model.pqmf.synthesis(fill_bands([kept], model.config.num_bands))
    return wav[0, 0, : core.shape[0]].numpy()


def test_core_bands_keep_the_core_below_the_generated_band(patch_weights: Path) -> None:
    """``core_bands`` keeps the decoded core's own bands up to a wider crossover; the side
    info, the model and the generated bands above it are unchanged; stream == offline."""
    coder = NsbgCoder(weights=str(patch_weights), core_bands=8, chunk_frames=2)
    cfg = coder.model.config
    wav, core = _signal(StreamGeometry(cfg).decoder_context + 3 * 2048 + 123)
    payloads = coder.encode(wav, core)
    assert payloads == NsbgCoder(weights=str(patch_weights)).encode(wav, core)
    codes = torch.from_numpy(np.stack([coder.unpack(p) for p in payloads], axis=1))[None]
    with torch.inference_mode():
        c = torch.from_numpy(core)[None, None]
        offline = {k: coder.model.decode(c, codes, keep_bands=k)[0, 0].numpy() for k in (5, 8)}
        default = coder.model.decode(c, codes)[0, 0].numpy()
    np.testing.assert_allclose(coder.decode(core, payloads), offline[8], atol=2e-5)
    np.testing.assert_array_equal(offline[5], default)
    assert np.abs(offline[8] - offline[5]).max() > 1e-3
    # every generated band replaced: the core's bands 0..k_h alone, whatever the codes say
    with torch.inference_mode():
        top = coder.model.decode(c, codes, keep_bands=cfg.k_h + 1)[0, 0].numpy()
    np.testing.assert_allclose(top, _core_bands_output(coder.model, core, cfg.k_h + 1), atol=1e-6)
    for bad in (cfg.k_c - 1, cfg.k_h + 2):
        with pytest.raises(ConfigError, match="core_bands must be between"):
            NsbgCoder(weights=str(patch_weights), core_bands=bad)


def test_core_bands_travel_in_the_header(patch_weights: Path) -> None:
    """A stream keeps as many core bands at decode as its encoder chose; at the model's
    crossover the header stays as before (no key)."""
    wav, _ = _signal(48_000 + 77)
    plain = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(patch_weights))
    assert "core_bands" not in plain.hf.config()
    wide = Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(patch_weights), core_bands=7)
    data = wide.encode(wav, 48_000)
    reader = ContainerReader(io.BytesIO(data))
    assert reader.header["hf"]["config"]["core_bands"] == 7
    core_only = Codec(wide.core, NoneCoder(), 12).decode_frames(ContainerReader(io.BytesIO(data)))
    core = np.concatenate(list(core_only), axis=1)[0]
    payloads = [s for f in ContainerReader(io.BytesIO(data)) for s in f.channels[0].side]
    expected = NsbgCoder(weights=str(patch_weights), core_bands=7).decode(core, payloads)
    np.testing.assert_allclose(Codec.decode(data, weights=patch_weights)[0], expected, atol=2e-5)
    forged = json.loads(json.dumps(reader.header))
    forged["hf"]["config"]["core_bands"] = 2
    with pytest.raises(BitstreamError, match="core_bands must be between"):
        Codec.from_header(forged, weights=patch_weights)


def test_core_bands_follow_the_core_cutoff(patch_weights: Path, tmp_path: Path) -> None:
    """The core keeps its bands up to the band edge nearest its low-pass: the 24 kbps AAC
    core (8 kHz) keeps bands 0..10, the 12 kbps one (4 kHz) the model's own 0..4."""
    for kbps, cutoff_hz, bands in ((12, 4000.0, 5), (24, 8000.0, 11)):
        codec = Codec.create(bitrate_kbps=kbps, hf="nsbg", weights=str(patch_weights))
        assert codec.core.cutoff_hz == cutoff_hz and codec.hf.core_bands == bands  # type: ignore[attr-defined]
    assert crossover_bands(NsbgCoder(weights=str(patch_weights)).model, 20_000.0) == 15  # k_h + 1
    asked = Codec.create(bitrate_kbps=24, hf="nsbg", weights=str(patch_weights), core_bands=6)
    assert asked.hf.config()["core_bands"] == 6
    blind = _export(tmp_path / "blind.safetensors", blind=True, generator="patch")
    codec = Codec.create(bitrate_kbps=24, hf="blind", weights=str(blind))
    assert codec.hf.config()["core_bands"] == 11
