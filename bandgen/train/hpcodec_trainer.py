"""Training of HP-codec (paper ``004`` §3; HP §4): the three-phase cascade on BaseTrainer.

Data: the 16 kHz band-limit cache (``data.core: bandlimit``, ``core_rate: 16000``); a segment's
original (48 kHz) is the target; the model makes its own 16 kHz input (``HPCodec.to_16k``), so
training sees what encoding will. The cache's band-limited channel is the phase-1 validation
reference.

Each step draws its objective uniformly from {full, harmonic, percussive} (paper §3.3): a
section step replaces the target by its HPSS component (:func:`bandgen.dsp.hpss.hpss` on the
48 kHz signal, the code's settings) and quantises with that section alone, so only it learns.
The phase (``recipe.phase``) decides what trains:

1. the 16 kHz branch: multi-scale mel loss at 16 kHz;
2. the 48 kHz branch on the residual, the 16 kHz branch frozen (no gradient, eval mode): mel
   loss of the full-band output ``up3(low) + high`` against the 48 kHz target;
3. both: the two mel losses summed (the recipe halves the weights, HP §4).

Commitment (0.25) and codebook (1) losses are summed over the trained branches' codebooks.
With GAN weights, each trained branch has its own discriminator set (MPD + multi-band STFT,
DAC bands) at its sample rate, least-squares losses, updated before the codec as in DAC; the
CPU recipes set those weights to 0 (no discriminator) to fit CPU time.

Validation: dev clips through the model in eval mode; ``val/mel`` (phase 1: the 16 kHz
reconstruction against the band-limited reference; phases 2-3: the full-band output against
the original) picks ``best.safetensors``; LSD (full, and above 8 kHz) beside it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from bandgen.data.dataset import Segment
from bandgen.discriminators import MultiDiscriminator, MultiPeriodDiscriminator
from bandgen.discriminators.mbstft import BANDS_DAC, MultiBandSTFTDiscriminator
from bandgen.dsp.hpss import hpss
from bandgen.losses.adversarial import (
    feature_matching_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from bandgen.losses.mel import MultiScaleMelLoss
from bandgen.metrics.basic import lsd, mel_distance
from bandgen.models.hpcodec import LOW_RATE, SAMPLE_RATE, HPCodec
from bandgen.train.base import BaseTrainer, Example
from bandgen.train.hpcodec_recipe import KIND, HPCodecRecipe
from bandgen.train.steps import clip_grad_norm
from bandgen.train.validate import ValClip

__all__ = ["OBJECTIVES", "PHASE_BRANCH", "HPCodecTrainer"]

OBJECTIVES = ("full", "harmonic", "percussive")
"""Per-step objectives, drawn uniformly (paper §3.3)."""
PHASE_BRANCH = {1: "low", 2: "high", 3: "both"}
"""What ``HPCodec.forward`` trains in each cascade phase."""
_CROSSOVER_HZ = 8_000.0


def _discriminator(scale: float) -> MultiDiscriminator:
    return MultiDiscriminator(
        [
            MultiPeriodDiscriminator(channels=max(1, round(24 * scale))),
            MultiBandSTFTDiscriminator(channels=max(1, round(32 * scale)), bands=BANDS_DAC),
        ]
    )


class HPCodecTrainer(BaseTrainer[HPCodecRecipe]):
    """Trains an :class:`~bandgen.models.hpcodec.HPCodec` (module docstring).

    Takes the arguments of :class:`~bandgen.train.base.BaseTrainer`.
    """

    kind: ClassVar[str] = KIND
    best_metric: ClassVar[str] = "val/mel"
    best_key: ClassVar[str] = "best_mel"
    bar_losses: ClassVar[dict[str, str]] = {"mel": "loss/mel", "commit": "loss/commitment"}
    resume_omittable: ClassVar[dict[str, tuple[str, ...]]] = {
        "discriminator": ("disc_low", "disc_high", "opt_d")
    }

    # ------------------------------------------------------------------ setup

    def _build(self) -> None:
        recipe = self.recipe
        self.branch = PHASE_BRANCH[recipe.phase]
        self.model = HPCodec(recipe.model).to(self.device)
        self.trained = self._trained_branches()
        for name, part in (("low", self.model.low), ("high", self.model.high)):
            part.requires_grad_(name in self.trained)
        # a section step leaves the other section unused: DDP must not wait for its gradients
        self.net = self._wrap(self.model, find_unused_parameters=True)
        self.mel = {
            "low": MultiScaleMelLoss(sample_rate=LOW_RATE).to(self.device),
            "high": MultiScaleMelLoss(sample_rate=SAMPLE_RATE).to(self.device),
        }
        opt = recipe.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(params, lr=opt.lr, betas=opt.betas)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=opt.lr_gamma)
        self.discs: dict[str, nn.Module] = {}
        self.opt_d: torch.optim.Optimizer | None = None
        if recipe.loss.gan:
            # both sets exist in every phase so that warm starts carry them through the cascade
            self.discs = {
                name: _discriminator(recipe.discriminator.scale).to(self.device)
                for name in ("low", "high")
            }
            d_params = [p for name in self.trained for p in self.discs[name].parameters()]
            self.opt_d = torch.optim.AdamW(d_params, lr=opt.lr, betas=opt.betas)

    def _trained_branches(self) -> tuple[str, ...]:
        return {"low": ("low",), "high": ("high",), "both": ("low", "high")}[self.branch]

    # ------------------------------------------------------------------ steps

    def _objective(self, target: Tensor) -> tuple[str, Tensor]:
        """Draw the step's objective; the 48 kHz target ``[B, 1, T]`` it trains on."""
        objective = OBJECTIVES[int(torch.randint(len(OBJECTIVES), ()))]
        if objective == "full":
            return objective, target
        with torch.no_grad():
            parts = hpss(target[:, 0])
        return objective, getattr(parts, objective)[:, None]

    def _pairs(self, x48: Tensor, x16: Tensor, out: Any) -> dict[str, tuple[Tensor, Tensor]]:
        """``(target, output)`` of each trained branch."""
        pairs = {}
        if "low" in self.trained:
            pairs["low"] = (x16, out.low.wav)
        if "high" in self.trained:
            pairs["high"] = (x48, out.full)
        return pairs

    def _discriminator_step(self, pairs: dict[str, tuple[Tensor, Tensor]]) -> Tensor:
        assert self.opt_d is not None
        loss = torch.zeros((), device=self.device)
        for name, (real, fake) in pairs.items():
            disc = self.discs[name]
            loss = loss + lsgan_discriminator_loss(disc(real).logits, disc(fake.detach()).logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        for name in pairs:
            clip_grad_norm(self.discs[name], self.recipe.optim.grad_clip_d)
        self.opt_d.step()
        return loss.detach()

    def losses(
        self, x48: Tensor, x16: Tensor, out: Any, pairs: dict[str, tuple[Tensor, Tensor]]
    ) -> dict[str, Tensor]:
        """Codec losses (module docstring) of a forward pass ``out`` on ``(x48, x16)``."""
        w = self.recipe.loss
        zero = torch.zeros((), device=self.device)
        mel = adv = feat = commitment = codebook = wave = zero
        for name, (real, fake) in pairs.items():
            mel = mel + self.mel[name](fake, real)
            if w.waveform > 0:
                wave = wave + (fake - real).abs().mean()
            branch = out.low if name == "low" else out.high
            commitment = commitment + branch.commitment_loss
            codebook = codebook + branch.codebook_loss
            if self.discs:
                disc = self.discs[name]
                fake_out, real_out = disc(fake), disc(real)
                adv = adv + lsgan_generator_loss(fake_out.logits)
                feat = feat + feature_matching_loss(real_out.fmaps, fake_out.fmaps)
        total = (
            w.mel * mel
            + w.adversarial * adv
            + w.feature * feat
            + w.commitment * commitment
            + w.codebook * codebook
            + w.waveform * wave
        )
        return {
            "loss/total": total,
            "loss/mel": mel,
            "loss/adversarial": adv,
            "loss/feature": feat,
            "loss/commitment": commitment,
            "loss/codebook": codebook,
            "loss/waveform": wave,
        }

    def train_step(self, batch: Segment) -> dict[str, Tensor]:
        """One step on a batch (module docstring); losses as device tensors."""
        self.net.train()
        if "low" not in self.trained:
            self.model.low.eval()
        objective, x48 = self._objective(batch.target.to(self.device, non_blocking=True))
        x16 = self.model.to_16k(x48)
        sections = None if objective == "full" else objective
        with self.autocast():
            out = self.net(x48, x16, sections=sections, branch=self.branch)
            pairs = self._pairs(x48, x16, out)
            d_loss = self._discriminator_step(pairs) if self.discs else None
            losses = self.losses(x48, x16, out, pairs)
        self.opt.zero_grad(set_to_none=True)
        losses["loss/total"].backward()
        grad = clip_grad_norm(self.model, self.recipe.optim.grad_clip)
        self.opt.step()
        self.sched.step()
        result = {k: v.detach() for k, v in losses.items()}
        result["grad_norm"] = grad
        result[f"loss/mel_{objective}"] = result["loss/mel"]  # the mean per objective
        if d_loss is not None:
            result["loss/discriminator"] = d_loss
        return result

    def _lr(self) -> float:
        return float(self.sched.get_last_lr()[0])

    # ------------------------------------------------------------------ validation

    @torch.no_grad()
    def _validate(self, clips: list[ValClip]) -> tuple[dict[str, float], Example]:
        """Mel distance and LSD of the dev clips' reconstructions (module docstring)."""
        if not clips:
            raise ValueError("no validation clips")
        was_training = self.model.training
        self.model.eval()
        try:
            scores, example = self._score(clips[0])
            rows = [scores] + [self._score(clip)[0] for clip in clips[1:]]
        finally:
            self.model.train(was_training)
        return {key: float(np.mean([row[key] for row in rows])) for key in scores}, example

    def _score(self, clip: ValClip) -> tuple[dict[str, float], Example]:
        """One dev clip's metrics and ``(reference, output, band-limited input)``."""
        length = clip.target.shape[-1] // 3 * 3
        x48 = clip.target[..., :length].to(self.device)
        core = clip.core[0, 0, :length].numpy()
        out = self.model(x48, self.model.to_16k(x48), branch=PHASE_BRANCH[self.recipe.phase])
        if out.full is None:  # phase 1: the 16 kHz branch against the band-limited original
            reference, output = core, self.model.to_48k(out.low.wav)[0, 0].cpu().numpy()
        else:
            reference, output = x48[0, 0].cpu().numpy(), out.full[0, 0].cpu().numpy()
        scores = {
            "val/mel": mel_distance(reference, output, SAMPLE_RATE),
            "val/lsd": lsd(reference, output, SAMPLE_RATE),
            "val/lsd_high": lsd(reference, output, SAMPLE_RATE, min_hz=_CROSSOVER_HZ),
        }
        for name, branch in (("low", out.low), ("high", out.high)):
            if branch is not None:  # a collapsed quantiser shows here first (issue-15 note)
                scores[f"val/code_bits_{name}"] = code_entropy_bits(branch.codes)
        if out.full is not None:  # what the band-limited input alone scores
            scores["val/mel_input"] = mel_distance(reference, core, SAMPLE_RATE)
            scores["val/lsd_high_input"] = lsd(reference, core, SAMPLE_RATE, min_hz=_CROSSOVER_HZ)
        return scores, (reference, output, core)

    def _released(self) -> nn.Module:
        return self.model

    # ------------------------------------------------------------------ checkpoints

    def _objects(self) -> dict[str, Any]:
        modules: dict[str, nn.Module] = {"model": self.model}
        optimizers: dict[str, torch.optim.Optimizer] = {"opt": self.opt}
        for name, disc in self.discs.items():
            modules[f"disc_{name}"] = disc
        if self.opt_d is not None:
            optimizers["opt_d"] = self.opt_d
        return {"modules": modules, "optimizers": optimizers, "schedulers": {"sched": self.sched}}


def code_entropy_bits(codes: Tensor) -> float:
    """Mean over codebooks of the entropy (bits) of the codes' histogram over time, for
    ``codes [B, K, N]``: 0 when a codebook uses one entry (a collapsed quantiser), at most
    ``log2(N)`` (or 10 for 1024 entries)."""
    bits = []
    for k in range(codes.shape[1]):
        _, counts = torch.unique(codes[:, k], return_counts=True)
        p = counts.double() / counts.sum()
        bits.append(float(-(p * p.log2()).sum()))
    return float(np.mean(bits))
