"""Tables of an evaluation: per-file CSV, and per-category means with 95 % confidence intervals.

The summary groups the per-file records by (spec, category), plus the category ``all``. For
each metric it gives the mean and the half-width of its 95 % confidence interval, Student's t
with ``n - 1`` degrees of freedom: ``t(0.975, n-1) * s / sqrt(n)`` (``s`` the sample standard
deviation; empty when ``n < 2``). Bitrates are the mean, minimum and maximum of the measured
per-channel kbit/s over the group's files, and the mean side-info kbit/s per channel (empty where
a codec's side info cannot be told apart, as in ``ext`` and ``files`` specs).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.audio.io import AtomicFile
from bandgen.eval.measures import MEASURES

__all__ = ["SummaryRow", "mean_ci", "summarize", "write_tables"]

ALL = "all"
"""Category name of the rows over every clip."""


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and 95 % CI half-width (Student t) of ``values``; the width is NaN for n < 2."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size < 2:
        return float(arr.mean()), math.nan
    from scipy.stats import t

    half = float(t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return float(arr.mean()), half


@dataclass
class SummaryRow:
    """Mean results of one spec over one category.

    Attributes:
        spec, family, category: what was averaged.
        n: number of clips.
        nominal_kbps: the spec's target rate; kbps: mean measured rate (kbit/s per channel).
        kbps_min, kbps_max: lowest and highest measured rate of one file.
        side_kbps: mean side-info rate per channel (NaN where unknown).
        stats: ``{metric: (mean, ci95 half-width)}``.
    """

    spec: str
    family: str
    category: str
    n: int
    nominal_kbps: float
    kbps: float
    kbps_min: float
    kbps_max: float
    side_kbps: float
    stats: dict[str, tuple[float, float]]


def summarize(records: list[dict[str, Any]], metrics: list[str]) -> list[SummaryRow]:
    """Group the per-file records into summary rows, ordered by spec then category."""
    specs = list(dict.fromkeys(r["spec"] for r in records))
    categories = sorted({r["category"] for r in records})
    if len(categories) > 1:
        categories.append(ALL)
    rows = []
    for spec in specs:
        for category in categories:
            group = [r for r in records if r["spec"] == spec and category in (ALL, r["category"])]
            if not group:
                continue
            stats = {m: mean_ci([float(r["metrics"][m]) for r in group]) for m in metrics}
            rates = [float(r["kbps"]) for r in group]
            side = [float(r.get("side_kbps", math.nan)) for r in group]
            rows.append(
                SummaryRow(
                    spec=spec,
                    family=group[0]["family"],
                    category=category,
                    n=len(group),
                    nominal_kbps=float(group[0]["nominal_kbps"]),
                    kbps=float(np.mean(rates)),
                    kbps_min=min(rates),
                    kbps_max=max(rates),
                    side_kbps=float(np.mean(side)),
                    stats=stats,
                )
            )
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with AtomicFile(path) as target, open(target.tmp_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _fmt(value: float, digits: int = 3) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def markdown(rows: list[SummaryRow], metrics: list[str]) -> str:
    """The summary as markdown: one table per category, ``mean ± ci95`` per metric."""
    arrows = {m: "↑" if MEASURES[m].higher_is_better else "↓" for m in metrics}
    lines = ["# Evaluation summary", ""]
    lines.append(
        "Mean ± 95 % CI half-width (Student t) over clips; kbps = measured kbit/s per channel"
        " (mean, and min–max over files); side = side-info kbit/s per channel (empty: unknown)."
    )
    for category in dict.fromkeys(r.category for r in rows):
        group = [r for r in rows if r.category == category]
        lines += ["", f"## {category} (n = {group[0].n})", ""]
        head = " | ".join(f"{m} {arrows[m]}" for m in metrics)
        lines.append("| codec | kbps | min–max | side | " + head + " |")
        lines.append("|---|---:|---:|---:|" + "---:|" * len(metrics))
        for r in group:
            cells = []
            for m in metrics:
                mean, half = r.stats[m]
                cells.append(_fmt(mean) + (f" ± {_fmt(half)}" if math.isfinite(half) else ""))
            rates = f"{_fmt(r.kbps, 2)} | {_fmt(r.kbps_min, 2)}–{_fmt(r.kbps_max, 2)}"
            lines.append(
                f"| {r.spec} | {rates} | {_fmt(r.side_kbps, 2)} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines) + "\n"


def alignment_note(records: list[dict[str, Any]]) -> str:
    """Markdown lines on the measured lag (cross-correlation) of every coded clip."""
    lagged = [r for r in records if r.get("lag_samples", 0) != 0]
    lines = ["", "## Alignment", ""]
    lines.append(
        f"{len(records) - len(lagged)} of {len(records)} coded clips are at lag 0 against their"
        " reference (cross-correlation, 48 kHz samples)."
    )
    lines += [f"- {r['clip']} / {r['spec']}: lag {r['lag_samples']} samples" for r in lagged]
    return "\n".join(lines) + "\n"


def write_tables(records: list[dict[str, Any]], metrics: list[str], out: Path) -> list[SummaryRow]:
    """Write ``per_file.csv``, ``summary.csv`` and ``summary.md`` into ``out``; returns the summary."""
    info_keys = [
        "side_kbps",
        "lag_samples",
        "lag_removed",
        "file_kbps",
        "core_rate",
        "core_cutoff_hz",
    ]
    _write_csv(
        out / "per_file.csv",
        [
            "clip",
            "category",
            "spec",
            "family",
            "nominal_kbps",
            "kbps",
            "code_seconds",
            *info_keys,
            *metrics,
        ],
        [
            [
                r["clip"],
                r["category"],
                r["spec"],
                r["family"],
                r["nominal_kbps"],
                f"{r['kbps']:.4f}",
                f"{r['code_seconds']:.3f}",
            ]
            + [r.get(k, "") for k in info_keys]
            + [f"{r['metrics'][m]:.6g}" for m in metrics]
            for r in records
        ],
    )
    rows = summarize(records, metrics)
    _write_csv(
        out / "summary.csv",
        ["spec", "family", "category", "n", "nominal_kbps", "kbps", "kbps_min", "kbps_max"]
        + ["side_kbps"]
        + [f"{m}_{s}" for m in metrics for s in ("mean", "ci95")],
        [
            [r.spec, r.family, r.category, r.n, r.nominal_kbps]
            + [_fmt(v, 4) for v in (r.kbps, r.kbps_min, r.kbps_max, r.side_kbps)]
            + [_fmt(v, 6) for m in metrics for v in r.stats[m]]
            for r in rows
        ],
    )
    with AtomicFile(out / "summary.md") as target:
        Path(target.tmp_path).write_text(markdown(rows, metrics) + alignment_note(records))
    return rows
