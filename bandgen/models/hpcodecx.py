"""HP-codecX (paper ``004`` §3.2, Fig. 2): the per-section transformers of
:mod:`bandgen.models.hpcodecx_lm` joined to the frozen HP-codec whose tokens they read and
predict. Weights of both travel in one file (model family ``hpcodecx``).

Training pairs (:meth:`HPCodecX.tokens`): low tokens ``encode_low(x16)``; high targets
``encode_high(x48 - to_48k(decode_low(low)))``, the 48 kHz branch's tokens of the residual the
codec itself codes. Inference (:meth:`HPCodecX.extend_high`): ``decode_high`` of the tokens the
transformers predict greedily from ``encode_low(x16)``; ``bandgen extend --method hpcodecx``
adds it above 8 kHz, window by window (:mod:`bandgen.extend_windows`, sizes in the config).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bandgen.config import Config
from bandgen.errors import ConfigError
from bandgen.models.hpcodec import HPCodec, HPCodecConfig
from bandgen.models.hpcodecx_lm import HPCodecXLM, LMConfig

__all__ = ["HPCodecX", "HPCodecXConfig"]


@dataclass(frozen=True)
class HPCodecXConfig(Config):
    """HP-codecX: transformers, codec, and inference windows (presets :meth:`paper`,
    :meth:`cpu`, :meth:`debug`).

    Attributes:
        lm: the transformers (:class:`~bandgen.models.hpcodecx_lm.LMConfig`).
        codec: the frozen HP-codec's config (a training run takes it from the codec's weights);
            its codebooks must be the transformers'.
        window_frames: 10 ms frames per inference window (250: the paper's 2.5 s training
            excerpts).
        context_frames: frames at each end of a window that are context only (25).
        fade_frames: crossfade between adjacent windows, frames (10).
    """

    lm: LMConfig = field(default_factory=LMConfig)
    codec: HPCodecConfig = field(default_factory=HPCodecConfig)
    window_frames: int = 250
    context_frames: int = 25
    fade_frames: int = 10

    def __post_init__(self) -> None:
        lm, codec = self.lm, self.codec
        if (lm.codebook_size, lm.low_codebooks, lm.high_codebooks) != (
            codec.codebook_size,
            codec.codebooks_per_section,
            codec.codebooks_per_section,
        ):
            raise ConfigError(
                f"the transformers' codebooks ({lm.low_codebooks} low, {lm.high_codebooks} high "
                f"of {lm.codebook_size}) must be the codec's ({codec.codebooks_per_section} per "
                f"section of {codec.codebook_size})"
            )
        if self.window_frames - 2 * self.context_frames < max(self.fade_frames, 1):
            raise ConfigError(
                f"window_frames ({self.window_frames}) must exceed twice context_frames "
                f"({self.context_frames}) by at least fade_frames ({self.fade_frames})"
            )

    @classmethod
    def paper(cls) -> HPCodecXConfig:
        """The paper's transformers on the paper-size codec."""
        return cls()

    @classmethod
    def cpu(cls) -> HPCodecXConfig:
        """CPU-size transformers (d 192, 3 layers) on the CPU-size codec."""
        return cls(lm=LMConfig.cpu(), codec=HPCodecConfig.cpu())

    @classmethod
    def debug(cls) -> HPCodecXConfig:
        """Toy size for tests: debug transformers and codec, windows of 20 frames."""
        codec = HPCodecConfig.debug()
        lm = dataclasses.replace(LMConfig.debug(), codebook_size=codec.codebook_size)
        return cls(lm=lm, codec=codec, window_frames=20, context_frames=4, fade_frames=4)


class HPCodecX(nn.Module):
    """HP-codecX: transformers + frozen HP-codec (module docstring).

    Shape:
        ``tokens(x16 [B, 1, T16], x48 [B, 1, T48]) -> (low, high)``, each ``[B, 6, N]``,
        ``N = ceil(T16 / 160)``; ``extend_high(x16 [B, 1, T16]) -> [B, 1, 480 N]``.
    """

    def __init__(self, config: HPCodecXConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = HPCodecXConfig() if config is None else config
        self.lm = HPCodecXLM(cfg.lm)
        self.codec = HPCodec(cfg.codec).eval().requires_grad_(False)

    def train(self, mode: bool = True) -> HPCodecX:
        """Train mode for the transformers only: the codec stays frozen in eval mode."""
        self.training = mode
        self.lm.train(mode)
        return self

    @torch.no_grad()
    def tokens(self, x16: Tensor, x48: Tensor) -> tuple[Tensor, Tensor]:
        """The training pair: low tokens of ``x16`` and the high branch's tokens of the
        residual ``x48 - to_48k(decode_low(low))`` (``x48`` zero-padded or cut to the
        decode's length)."""
        low = self.codec.encode_low(x16)
        up = self.codec.to_48k(self.codec.decode_low(low))
        length = up.shape[-1]
        x48 = F.pad(x48, (0, max(length - x48.shape[-1], 0)))[..., :length]
        return low, self.codec.encode_high(x48 - up)

    @torch.no_grad()
    def extend_high(self, x16: Tensor) -> Tensor:
        """The generated band: ``decode_high(predict(encode_low(x16)))``, the 48 kHz branch's
        residual, to be added above the input's band."""
        return self.codec.decode_high(self.lm.predict(self.codec.encode_low(x16)))
