"""What the trainer reports: a tqdm bar, TensorBoard scalars/audio/spectrograms, a JSONL log.

Only rank 0 logs (``enabled=False`` elsewhere). TensorBoard is optional: without the
``tensorboard`` package the scalars still go to ``OUT/log.jsonl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.train.validate import spectrogram_image

__all__ = ["TrainLogger"]


class TrainLogger:
    """Progress bar + TensorBoard (``OUT/tb``) + ``OUT/log.jsonl``.

    Args:
        out_dir: the run folder.
        enabled: log at all (rank 0 only).
        progress: show the tqdm bar.
        bar_losses: progress-bar label -> loss name (default: n-SBG's mel and D hinge losses).
    """

    def __init__(
        self,
        out_dir: Path,
        *,
        enabled: bool = True,
        progress: bool = True,
        bar_losses: Mapping[str, str] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.enabled = enabled
        self.progress = progress and enabled
        self.bar_losses = dict(bar_losses or {"mel": "g/mel", "d": "d/hinge"})
        self._bar: Any = None
        self._writer: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: JSONL only
                self._writer = None
            else:
                self._writer = SummaryWriter(str(out_dir / "tb"))

    def start(self, step: int, total: int) -> None:
        """Open the progress bar at ``step`` of ``total``."""
        if self.progress and self._bar is None:
            try:
                from tqdm import tqdm
            except ImportError:  # a bare GPU machine: the JSONL log is enough
                self.progress = False
                return
            self._bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True)

    def step(self, step: int, losses: Mapping[str, float] | None = None) -> None:
        """Advance the bar; show the main ``losses`` when given (at log steps: reading them
        from a GPU every step would stall it)."""
        if self._bar is not None:
            self._bar.update(1)
            if losses is not None:
                shown = {
                    label: f"{losses[name]:.3f}"
                    for label, name in self.bar_losses.items()
                    if name in losses
                }
                self._bar.set_postfix(**shown)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Log scalars to TensorBoard and append them to ``log.jsonl`` (with the Unix time, so
        that wall time per step can be read back from the log)."""
        if not self.enabled:
            return
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(key, value, step)
        with open(self.out_dir / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "time": round(time.time(), 1), **values}) + "\n")

    def example(self, step: int, y: np.ndarray, y_hat: np.ndarray, core: np.ndarray) -> None:
        """Log one validation clip: audio and spectrograms of target, output and core."""
        if not self.enabled or self._writer is None:
            return
        for name, wav in (("target", y), ("output", y_hat), ("core", core)):
            clip = np.clip(wav, -1.0, 1.0)[None]
            self._writer.add_audio(f"audio/{name}", clip, step, sample_rate=48_000)
            self._writer.add_image(f"spec/{name}", spectrogram_image(wav), step)
        self._writer.flush()

    def close(self) -> None:
        """Close the bar and flush TensorBoard."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._writer is not None:
            self._writer.flush()
