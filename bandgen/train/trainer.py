"""The n-SBG GAN training loop (paper ``000`` §3.3; HP §1.5).

Each step: the generator step (mel + feature matching + hinge adversarial + RVQ commitment and
codebook losses, weighted by :class:`bandgen.losses.LossWeights`; grad-norm clip; Adam;
ExponentialLR), then the discriminator step (hinge loss on ``y`` vs detached ``y_hat``).
In the D step real and fake go through the discriminator as one concatenated batch (one
forward per backward, which keeps DDP simple). During the G step the discriminator is frozen
(``requires_grad_(False)``: no weight gradients are computed), its real-signal pass runs under
``no_grad``, and under DDP it does not all-reduce (``no_sync``).

Processes, data, the step loop, validation schedule and checkpoints are those of
:class:`~bandgen.train.base.BaseTrainer` (``bandgen train RECIPE``, or ``torchrun`` for DDP);
``best.safetensors`` holds the generator of the best high-band LSD.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from typing import Any, ClassVar

import torch
from torch import nn

from bandgen.data.dataset import Segment
from bandgen.discriminators import build_discriminator
from bandgen.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from bandgen.losses.mel import MultiScaleMelLoss
from bandgen.losses.psychoacoustic import PSYCHOACOUSTIC_LOSSES
from bandgen.losses.subband import SubbandEnergyLoss, SubbandSpectralLoss
from bandgen.models.nsbg import NSBG, NSBGOutput
from bandgen.train.base import BaseTrainer, Example
from bandgen.train.nsbg_recipe import NSBGRecipe
from bandgen.train.steps import adam, clip_grad_norm, step_if_finite
from bandgen.train.validate import ValClip, validate

__all__ = ["NSBGTrainer", "Trainer"]


def _split(out: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    halves = [t.chunk(2, dim=0) for t in out]
    return [h[0] for h in halves], [h[1] for h in halves]


class NSBGTrainer(BaseTrainer[NSBGRecipe]):
    """Trains an :class:`~bandgen.models.nsbg.NSBG` generator against a discriminator ensemble.

    Takes the arguments of :class:`~bandgen.train.base.BaseTrainer` (recipe, out_dir, resume,
    device, progress).
    """

    kind: ClassVar[str] = "nsbg"
    best_metric: ClassVar[str] = "val/lsd_high"
    best_key: ClassVar[str] = "best_lsd_high"
    bar_losses: ClassVar[dict[str, str]] = {"mel": "g/mel", "sub": "g/subband", "d": "d/hinge"}
    resume_omittable: ClassVar[dict[str, tuple[str, ...]]] = {
        "discriminator": ("discriminator", "opt_d")
    }

    # ------------------------------------------------------------------ setup

    def _build(self) -> None:
        recipe = self.recipe
        self.generator = NSBG(recipe.model).to(self.device)
        disc = recipe.discriminator
        self.discriminator = build_discriminator(
            disc.kind, bands=disc.resolved_bands(recipe.model), scale=disc.scale
        ).to(self.device)
        self.mel_loss = MultiScaleMelLoss(sample_rate=48_000).to(self.device)
        self.subband_loss = SubbandSpectralLoss().to(self.device)
        self.energy_loss = SubbandEnergyLoss().to(self.device)
        # optional psychoacoustic terms (paper 001 §6.1), built only when weighted
        self.psy_losses = nn.ModuleDict(
            {
                name: cls(sample_rate=48_000).to(self.device)
                for name, cls in PSYCHOACOUSTIC_LOSSES.items()
                if getattr(recipe.loss, name, 0.0) > 0
            }
        )
        opt = recipe.optim
        self.opt_g = adam(self.generator.parameters(), lr=opt.lr, betas=opt.betas)
        self.opt_d = adam(self.discriminator.parameters(), lr=opt.lr, betas=opt.betas)
        self.sched_g = torch.optim.lr_scheduler.ExponentialLR(self.opt_g, gamma=opt.lr_gamma)
        self.sched_d = torch.optim.lr_scheduler.ExponentialLR(self.opt_d, gamma=opt.lr_gamma)
        # every generator parameter gets a gradient in every step (dropped RVQ stages are
        # masked, not skipped; tested): DDP need not search the graph for unused ones
        self.g_model = self._wrap(self.generator)
        self.d_model = self._wrap(self.discriminator)

    def _seed_rank(self) -> None:
        # per-rank stream for quantiser dropout; rank 0 keeps the (restored) global stream
        if self.rank > 0:
            torch.manual_seed(self.recipe.schedule.seed + 7919 * self.rank + self.step)

    # ------------------------------------------------------------------ steps

    def train_step(self, batch: Segment) -> dict[str, torch.Tensor]:
        """One G step then one D step on a batch; returns the losses (device tensors)."""
        w = self.recipe.loss
        core = batch.core.to(self.device, non_blocking=True)
        target = batch.target.to(self.device, non_blocking=True)
        self.g_model.train()
        self.d_model.train()

        if w.adv == 0 and w.fm == 0:
            return self._reconstruction_step(core, target)

        # G step: D is frozen (no weight gradients to compute) and does not all-reduce
        no_sync = self.d_model.no_sync if self.world_size > 1 else nullcontext
        self.discriminator.requires_grad_(False)
        with no_sync():  # type: ignore[operator]
            with self.autocast():
                out = self.g_model(core, target)
                with torch.no_grad():
                    real_fmaps = self.d_model(out.y).fmaps
                d_fake = self.d_model(out.y_hat)
                fake_logits, fake_fmaps = d_fake.logits, d_fake.fmaps
                loss_adv = hinge_generator_loss(fake_logits)
                loss_fm = feature_matching_loss(real_fmaps, fake_fmaps)
                loss_g, terms = self._spectral_loss(out)
                loss_g = loss_g + w.fm * loss_fm + w.adv * loss_adv
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        self.discriminator.requires_grad_(True)
        grad_g = clip_grad_norm(self.generator, self.recipe.optim.grad_clip_g)
        self.opt_g.step()
        self.sched_g.step()

        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            d_out = self.d_model(torch.cat([out.y.detach(), out.y_hat.detach()]))
            real_logits, fake_logits = _split(d_out.logits)
            loss_d = hinge_discriminator_loss(real_logits, fake_logits)
        loss_d.backward()
        grad_d = clip_grad_norm(self.discriminator, self.recipe.optim.grad_clip_d)
        self.opt_d.step()
        self.sched_d.step()

        losses = {"g/total": loss_g, "g/fm": loss_fm, "g/adv": loss_adv, "d/hinge": loss_d, **terms}
        return {
            **{k: v.detach() for k, v in losses.items()},
            "grad_norm/g": grad_g,
            "grad_norm/d": grad_d,
        }

    def _spectral_loss(self, out: NSBGOutput) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted mel, RVQ and psychoacoustic terms (everything but the discriminator's)."""
        w = self.recipe.loss
        terms = {"g/commit": out.commitment_loss, "g/codebook": out.codebook_loss}
        total = w.commit * out.commitment_loss + w.codebook * out.codebook_loss
        if self._needs_waveform():
            terms["g/mel"] = self.mel_loss(out.y_hat, out.y)
            total = total + w.mel * terms["g/mel"]
        if w.subband > 0:
            terms["g/subband"] = self.subband_loss(out.bands_hat, out.target_bands)
            total = total + w.subband * terms["g/subband"]
        if w.subband_energy > 0:
            terms["g/energy"] = self.energy_loss(out.bands_hat, out.target_bands)
            total = total + w.subband_energy * terms["g/energy"]
        terms.update({f"g/{n}": loss(out.y_hat, out.y) for n, loss in self.psy_losses.items()})
        for name, value in terms.items():
            if name[2:] in self.psy_losses:
                total = total + getattr(w, name[2:]) * value
        return total, terms

    def _needs_waveform(self) -> bool:
        """Whether a loss needs the PQMF syntheses ``y_hat``/``y`` (the mel loss is computed
        whenever it does, for the log, even at weight 0)."""
        w = self.recipe.loss
        spectral = w.subband > 0 or w.subband_energy > 0
        return w.mel > 0 or w.adv > 0 or w.fm > 0 or len(self.psy_losses) > 0 or not spectral

    def _reconstruction_step(
        self, core: torch.Tensor, target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """A generator-only step (adversarial and feature-matching weights both 0): the
        spectral-loss phase that precedes the GAN phase; the discriminator is not run.

        A batch whose gradient norm is not finite is skipped (one bad batch must not poison
        the weights), decided on the device; ``skipped`` logs the share of such steps."""
        with self.autocast():
            out = self.g_model(core, target, synthesize=self._needs_waveform())
            loss_g, terms = self._spectral_loss(out)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        grad_g = clip_grad_norm(self.generator, self.recipe.optim.grad_clip_g)
        skipped = step_if_finite(self.opt_g, grad_g)
        self.sched_g.step()
        with warnings.catch_warnings():  # D has not stepped: torch warns, but the schedules
            warnings.simplefilter("ignore", UserWarning)  # must stay in step for a GAN phase
            self.sched_d.step()
        values = {k: v.detach() for k, v in {"g/total": loss_g, **terms}.items()}
        return {**values, "grad_norm/g": grad_g, "skipped": skipped}

    def _lr(self) -> float:
        return float(self.sched_g.get_last_lr()[0])

    # ------------------------------------------------------------------ validation

    def _validate(self, clips: list[ValClip]) -> tuple[dict[str, float], Example]:
        res = validate(self.generator, clips, self.device)
        return {"val/lsd_high": res.lsd_high, "val/mel": res.mel}, res.example

    def _released(self) -> nn.Module:
        return self.generator

    # ------------------------------------------------------------------ checkpoints

    def _objects(self) -> dict[str, Any]:
        return {
            "modules": {"generator": self.generator, "discriminator": self.discriminator},
            "optimizers": {"opt_g": self.opt_g, "opt_d": self.opt_d},
            "schedulers": {"sched_g": self.sched_g, "sched_d": self.sched_d},
        }


Trainer = NSBGTrainer
"""The n-SBG trainer's old name."""
