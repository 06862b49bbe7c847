"""The multi-discriminator contract (AudioCraft-style ``MultiDiscriminator -> (logits, fmaps)``).

Every discriminator in bandgen, single or multiple, maps ``wav [B, 1, T]`` to a
:class:`DiscriminatorOutput` holding one logits tensor and one feature-map list per
sub-discriminator. A :class:`MultiDiscriminator` concatenates the outputs of its children, so
multi-discriminators nest: n-SBG's ``mpd+mbstft`` is a :class:`MultiDiscriminator` of a
multi-period and a multi-band STFT discriminator, with 5 + 3 = 8 sub-discriminators (paper
``000`` §3.3; HP §1.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

__all__ = ["DiscriminatorOutput", "MultiDiscriminator", "check_wav"]


@dataclass
class DiscriminatorOutput:
    """Logits and feature maps of one or more sub-discriminators.

    Attributes:
        logits: one tensor per sub-discriminator (any shape, e.g. ``[B, 1, H, W]``).
        fmaps: per sub-discriminator, the list of its intermediate activations (the logits
            themselves are not included), for
            :func:`bandgen.losses.adversarial.feature_matching_loss`.
    """

    logits: list[Tensor]
    fmaps: list[list[Tensor]]

    def __len__(self) -> int:
        return len(self.logits)


def check_wav(wav: Tensor) -> None:
    """Raise ``ValueError`` unless ``wav`` is mono ``[B, 1, T]``."""
    if wav.dim() != 3 or wav.shape[1] != 1:
        raise ValueError(f"discriminators expect wav [B, 1, T], got {tuple(wav.shape)}")


class MultiDiscriminator(nn.Module):
    """A set of (sub-)discriminators applied to the same waveform.

    Each child must return a :class:`DiscriminatorOutput` (a leaf sub-discriminator returns
    one-element lists; a nested :class:`MultiDiscriminator` returns several); the outputs are
    concatenated in order.

    Args:
        discriminators: the children.

    Shape:
        - wav: ``[B, 1, T]``.
        - output: :class:`DiscriminatorOutput` with ``num_discriminators`` entries.
    """

    def __init__(self, discriminators: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(discriminators) == 0:
            raise ValueError("a MultiDiscriminator needs at least one discriminator")
        self.discriminators = nn.ModuleList(discriminators)

    @property
    def num_discriminators(self) -> int:
        """Number of leaf sub-discriminators (entries of the output lists)."""
        return sum(
            d.num_discriminators if isinstance(d, MultiDiscriminator) else 1
            for d in self.discriminators
        )

    def forward(self, wav: Tensor) -> DiscriminatorOutput:
        """Run every child on ``wav [B, 1, T]`` and concatenate their outputs."""
        check_wav(wav)
        logits: list[Tensor] = []
        fmaps: list[list[Tensor]] = []
        for disc in self.discriminators:
            out = disc(wav)
            logits.extend(out.logits)
            fmaps.extend(out.fmaps)
        return DiscriminatorOutput(logits=logits, fmaps=fmaps)
