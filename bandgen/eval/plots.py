"""Figures of an evaluation: rate-distortion curves and spectrogram comparisons (matplotlib, Agg).

- :func:`plot_rate_distortion`: per metric, mean metric (± 95 % CI) against mean *measured*
  kbit/s per channel, one line per codec family (the spec without its rate), one panel per
  category.
- :func:`plot_spectrograms`: dB power spectrograms (n_fft 2048, hop 512, Hann; channels
  averaged in power) in a grid, each titled with its label and metrics; the reference first.
  Used for the evaluation's example clips and by ``bandgen compare``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.errors import MissingDependencyError
from bandgen.eval.measures import MEASURES
from bandgen.eval.report import SummaryRow

__all__ = ["Panel", "plot_rate_distortion", "plot_spectrograms", "spectrogram_db"]

SPEC_N_FFT = 2048
SPEC_HOP = 512
DYNAMIC_RANGE_DB = 100.0
"""Colour range of the spectrograms below each figure's loudest bin."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(
            "plots need matplotlib; install the metrics extra: pip install 'bandgen[metrics]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_rate_distortion(rows: list[SummaryRow], metrics: list[str], folder: Path) -> list[Path]:
    """Write ``folder/rd_<metric>.png`` for each metric; returns the paths."""
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    categories = list(dict.fromkeys(r.category for r in rows))
    families = list(dict.fromkeys(r.family for r in rows))
    paths = []
    for metric in metrics:
        measure = MEASURES[metric]
        fig, axes = plt.subplots(
            1, len(categories), figsize=(4.2 * len(categories), 3.6), squeeze=False
        )
        for ax, category in zip(axes[0], categories, strict=True):
            for family in families:
                pts = sorted(
                    (r.kbps, *r.stats[metric])
                    for r in rows
                    if r.family == family and r.category == category
                )
                if not pts:
                    continue
                x, y, ci = (np.array(v) for v in zip(*pts, strict=True))
                ax.errorbar(x, y, yerr=np.nan_to_num(ci), marker="o", capsize=3, label=family)
            ax.set_title(category)
            ax.set_xlabel("measured kbit/s per channel")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(
            f"{measure.label} ({'higher' if measure.higher_is_better else 'lower'} is better)"
        )
        axes[0][-1].legend(fontsize="small")
        fig.tight_layout()
        path = folder / f"rd_{metric}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


@dataclass
class Panel:
    """One spectrogram: ``label``, ``wav`` float ``[C, T]``, ``sample_rate`` Hz, metrics to show."""

    label: str
    wav: np.ndarray
    sample_rate: int
    metrics: dict[str, float]


def spectrogram_db(wav: np.ndarray) -> np.ndarray:
    """Power spectrogram in dB of ``wav [C, T]`` (mean power over channels): ``[F, N]``."""
    from bandgen.metrics.spectral import stft_magnitude

    power = (stft_magnitude(np.atleast_2d(wav), n_fft=SPEC_N_FFT, hop_length=SPEC_HOP) ** 2).mean(
        axis=0
    )
    return 10.0 * np.log10(power + 1e-12)


def _title(panel: Panel) -> str:
    parts = [f"{k} {v:.3g}" for k, v in panel.metrics.items() if math.isfinite(v)]
    # wrap so neighbouring panels' titles do not run into each other
    lines = textwrap.wrap(", ".join(parts), width=40)
    return "\n".join([panel.label, *lines])


def plot_spectrograms(
    panels: Sequence[Panel], path: Path, *, title: str = "", columns: int = 0
) -> Path:
    """Write the panels' spectrograms side by side (``columns`` per row, 0: up to 4) to ``path``."""
    plt = _pyplot()
    columns = columns or min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    specs = [spectrogram_db(p.wav) for p in panels]
    top = max(float(s.max()) for s in specs)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False, layout="constrained"
    )
    image = None
    for ax, panel, spec in zip(axes.flat, panels, specs, strict=False):
        seconds = panel.wav.shape[-1] / panel.sample_rate
        image = ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            extent=(0.0, seconds, 0.0, panel.sample_rate / 2000),
            vmin=top - DYNAMIC_RANGE_DB,
            vmax=top,
            cmap="magma",
            interpolation="nearest",
        )
        ax.set_title(_title(panel), fontsize="small")
        ax.set_xlabel("s")
        ax.set_ylabel("kHz")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="dB", aspect=40)
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
