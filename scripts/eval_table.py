"""Compact markdown tables from a ``bandgen eval`` output folder (its ``summary.csv``).

Usage:
    python scripts/eval_table.py report/ --metrics visqol,nmr,mel,lsd_4k,bw [--category all]
        [--specs none:12,sbr:12,...]

One row per codec spec (in ``--specs`` order, default the CSV's), the mean of each metric,
the measured rate and side-info rate; ``--category`` picks ``all`` or one category, or
``each`` for one table per category. Never imported by the package.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

LOWER_IS_BETTER = {"lsd", "lsd_lo", "lsd_hi", "lsd_4k", "mel", "nmr", "mrstft"}


def _table(rows: list[dict[str, str]], metrics: list[str]) -> list[str]:
    head = ["codec", "kbps", "side"] + [
        f"{m} {'↓' if m in LOWER_IS_BETTER else '↑'}" if m != "bw" else "bw kHz" for m in metrics
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in rows:
        cells = [
            r["spec"],
            f"{float(r['kbps']):.2f}",
            f"{float(r['side_kbps']):.2f}" if r["side_kbps"] else "",
        ]
        for m in metrics:
            value = r.get(f"{m}_mean", "")
            if value == "":
                cells.append("")
            elif m == "bw":
                cells.append(f"{float(value) / 1000:.1f}")
            else:
                cells.append(f"{float(value):.3f}" if m != "nmr" else f"{float(value):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("report", type=Path)
    p.add_argument("--metrics", default="visqol,nmr,mel,lsd_4k,bw")
    p.add_argument("--category", default="all")
    p.add_argument("--specs", default=None)
    args = p.parse_args()
    with open(args.report / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = args.metrics.split(",")
    categories = (
        sorted({r["category"] for r in rows} - {"all"})
        if args.category == "each"
        else [args.category]
    )
    for cat in categories:
        chosen = [r for r in rows if r["category"] == cat]
        if args.specs:
            order = args.specs.split(",")
            chosen = sorted(
                (r for r in chosen if r["spec"] in order), key=lambda r: order.index(r["spec"])
            )
        n = chosen[0]["n"] if chosen else 0
        print(f"\n**{cat}** (n = {n} clips)\n")
        print("\n".join(_table(chosen, metrics)))


if __name__ == "__main__":
    main()
