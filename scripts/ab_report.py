"""Summarise training runs from their ``log.jsonl`` as a markdown table (the issue-11 A/B).

Usage:
    python scripts/ab_report.py out/train/ab_patch_full_cpu out/train/ab_seanet_recon_full_cpu ...

Per run: steps, wall minutes between the first and the last logged line (not the run's budget), segments seen
(steps x batch, read from the run's ``resume.json``), the last and the best validation
``val/lsd_high`` and ``val/mel`` (lower is better), and the step of the best. With
``--zero-baseline``, a last row scores an empty generated band (the core alone) on the first
run's validation clips, for scale. Never imported by the package.
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
        "logged minutes": round((times[-1] - times[0]) / 60, 1) if len(times) > 1 else None,
        "segments": steps * batch,
        "last lsd_high": last.get("val/lsd_high"),
        "last mel": last.get("val/mel"),
        "best lsd_high": best.get("val/lsd_high"),
        "best mel": best.get("val/mel"),
        "best step": best.get("step"),
    }


def zero_baseline(run: Path) -> dict[str, object]:
    """The validation metrics of an all-zero generated band on ``run``'s validation clips."""
    import dataclasses

    import torch

    from bandgen.core import make_core
    from bandgen.data.cache import cache_dir_for
    from bandgen.models.nsbg import NSBG
    from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
    from bandgen.train.validate import load_dev_clips, validate

    recipe = Recipe.from_dict(json.loads((run / "resume.json").read_text())["meta"]["recipe"])
    data = recipe.data
    core = make_core(data.core, data.core_kbps)
    clips = load_dev_clips(
        data.dev_dir,
        data.cache_root,
        core,
        train_cache=cache_dir_for(data.cache_root, core),
        max_clips=data.dev_max_clips,
        seconds=data.dev_seconds,
    )
    model = NSBG(dataclasses.replace(recipe.model, generator="patch", blind=True))
    with torch.no_grad():  # every gain at its floor: exp(-20) of the patch, no noise
        model.generator.head_out.conv.weight.zero_()
        model.generator.head_out.conv.bias.fill_(-1e4)
    res = validate(model, clips, torch.device("cpu"))
    return {"run": "core only (zero high band)", "last lsd_high": res.lsd_high, "last mel": res.mel}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--zero-baseline", action="store_true", help="add the core-only row")
    args = p.parse_args()
    rows = [summarise(run) for run in args.runs]
    if args.zero_baseline:
        rows.append(zero_baseline(args.runs[0]))
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        values = [row.get(k) for k in keys]
        cells = [
            "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in values
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
