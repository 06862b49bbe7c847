"""HP-codecX's transformers: shapes, non-causal attention with no mask, codebooks predicted in
sequence (step k never reads codebook k or later), sections and batch items independent, one
training step."""

from __future__ import annotations

import pytest
import torch

from bandgen.models.hpcodecx_lm import HPCodecXLM, LMConfig

CFG = LMConfig.debug()
V = CFG.codebook_size


def _tokens(batch: int = 2, frames: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    low = torch.randint(0, V, (batch, 6, frames), generator=g)
    high = torch.randint(0, V, (batch, 6, frames), generator=g)
    return low, high


@pytest.fixture(scope="module")
def model() -> HPCodecXLM:
    torch.manual_seed(0)
    return HPCodecXLM(CFG).eval()


def test_presets() -> None:
    paper, cpu = LMConfig.paper(), LMConfig.cpu()
    assert (paper.d_model, paper.num_heads, paper.ffn_dim, paper.num_layers) == (1024, 8, 4096, 6)
    assert paper.dropout == 0 and paper.codebook_size == 1024
    assert (paper.low_codebooks, paper.high_codebooks, paper.num_sections) == (3, 3, 2)
    assert cpu.d_model == 192 and cpu.num_heads == 4 and cpu.num_layers == 3
    net = HPCodecXLM(cpu).sections[0]
    # 5 token tables (3 low + 2 high) and one step table; one head per predicted codebook
    assert len(net.low_embed) + len(net.high_embed) == 5 and len(net.heads) == 3


def test_shapes(model: HPCodecXLM) -> None:
    low, high = _tokens(frames=7)
    for step in range(3):
        assert model.logits(low, high, step).shape == (2, 2, 7, V)
    out = model(low, high, 1)
    assert out.logits.shape == (2, 2, 7, V) and out.loss.dim() == 0 and 0 <= out.accuracy <= 1
    pred = model.predict(low)
    assert pred.shape == (2, 6, 7) and pred.dtype == torch.long
    assert int(pred.min()) >= 0 and int(pred.max()) < V
    with pytest.raises(ValueError, match="low must be"):
        model.logits(low[:, :5], high, 0)
    with pytest.raises(ValueError, match="step 2 needs high"):
        model.logits(low, None, 2)


def test_attention_is_non_causal_and_unmasked(model: HPCodecXLM) -> None:
    """No causal mask: a change in the last frame reaches the first frame's logits, and a
    change in the first frame reaches the last."""
    low, high = _tokens()
    base = model.logits(low, high, 0)
    late, early = low.clone(), low.clone()
    late[:, 0, -1] = (late[:, 0, -1] + 1) % V
    early[:, 0, 0] = (early[:, 0, 0] + 1) % V
    assert not torch.allclose(model.logits(late, high, 0)[:, :, 0], base[:, :, 0])
    assert not torch.allclose(model.logits(early, high, 0)[:, :, -1], base[:, :, -1])


def test_nothing_leaks_between_items_sections_or_from_padding(model: HPCodecXLM) -> None:
    """Batch items and sections are independent; a window is never padded, so an item run
    alone at its own length gives the logits it gets in a batch."""
    low, high = _tokens()
    base = model.logits(low, high, 1)
    other = low.clone()
    other[1] = (other[1] + 3) % V  # item 1 changes
    other[0, 3:] = (other[0, 3:] + 5) % V  # item 0's percussive tokens change
    changed = model.logits(other, high, 1)
    assert torch.allclose(changed[0, 0], base[0, 0], atol=1e-6)  # item 0, harmonic
    assert not torch.allclose(changed[0, 1], base[0, 1])
    alone = model.logits(low[1:], high[1:], 1)
    assert torch.allclose(alone[0], base[1], atol=1e-5)


@pytest.mark.parametrize("step", [0, 1, 2])
def test_step_k_reads_only_codebooks_before_k(model: HPCodecXLM, step: int) -> None:
    low, high = _tokens()
    base = model.logits(low, high, step)
    for k in range(3):
        poked = high.clone()
        poked[:, k] = (poked[:, k] + 1) % V  # harmonic high codebook k
        poked[:, 3 + k] = (poked[:, 3 + k] + 1) % V  # percussive high codebook k
        same = torch.allclose(model.logits(low, poked, step), base, atol=1e-6)
        assert same == (k >= step), (step, k)


def test_predict_is_greedy_step_by_step(model: HPCodecXLM) -> None:
    low, _ = _tokens(frames=9)
    pred = model.predict(low)
    for step in range(3):
        expected = model.logits(low, pred, step).argmax(-1)  # [B, S, N]
        assert torch.equal(pred.view(2, 2, 3, 9)[:, :, step], expected)


def test_one_training_step_learns() -> None:
    torch.manual_seed(0)
    model = HPCodecXLM(CFG).train()
    low, high = _tokens(batch=4, frames=10)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = []
    for _ in range(5):
        out = model(low, high, 2)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    # step 2 trains both high input tables and head 2, not heads 0 and 1
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert "sections.0.high_embed.1.weight" in moved and "sections.1.heads.2.weight" in moved
    assert "sections.0.heads.0.weight" not in moved
