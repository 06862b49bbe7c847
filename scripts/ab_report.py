"""Summarise training runs from their ``log.jsonl`` as a markdown table (the issue-11 A/B).

Usage:
    python scripts/ab_report.py out/train/ab_patch_full_cpu out/train/ab_seanet_recon_full_cpu ...

Per run: steps, wall minutes from the first to the last logged line, segments seen
(steps x batch, read from the run's ``resume.json``), the last and the best validation
``val/lsd_high`` and ``val/mel`` (lower is better), and the step of the best. Never imported by
the package.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def summarise(run: Path) -> dict[str, object]:
    """One run's row."""
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]
    vals = [r for r in lines if "val/lsd_high" in r]
    times = [r["time"] for r in lines if "time" in r]
    batch = json.loads((run / "resume.json").read_text())["meta"]["recipe"]["data"]["batch_size"]
    steps = max(r["step"] for r in lines)
    best = min(vals, key=lambda r: r["val/lsd_high"]) if vals else {}
    last = vals[-1] if vals else {}
    return {
        "run": run.name,
        "steps": steps,
        "minutes": round((times[-1] - times[0]) / 60, 1) if len(times) > 1 else None,
        "segments": steps * batch,
        "last lsd_high": last.get("val/lsd_high"),
        "last mel": last.get("val/mel"),
        "best lsd_high": best.get("val/lsd_high"),
        "best mel": best.get("val/mel"),
        "best step": best.get("step"),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("runs", nargs="+", type=Path)
    rows = [summarise(run) for run in p.parse_args().runs]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
