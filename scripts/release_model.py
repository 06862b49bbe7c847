"""Release a training run's best weights into the package (``bandgen/pretrained/``).

Usage:
    python scripts/release_model.py RUN_DIR NAME --bitrate-kbps 12 --data "..." \\
        --wall-time-h 1.0 [--dev-table report/summary.md]

Copies ``RUN_DIR/best.safetensors`` to ``bandgen/pretrained/NAME.safetensors`` and writes
``NAME.json`` (the run's ``best.json``: config, core, step, validation metrics, sha256; plus
``bitrate_kbps``, the recipe from the resume file, the data description and wall time) and
``NAME.md``, a short model card.  Never imported by the package.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bandgen.pretrained.registry import PRETRAINED_DIR, file_sha256


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run_dir")
    p.add_argument("name")
    p.add_argument("--bitrate-kbps", type=float, required=True, help="total rate of the mode")
    p.add_argument("--data", required=True, help="what the model was trained on")
    p.add_argument("--wall-time-h", type=float, required=True)
    p.add_argument("--dev-table", default=None, help="markdown of dev-set results to quote")
    p.add_argument("--n-q", type=int, default=None, help="RVQ stages the mode sends (n-SBG)")
    p.add_argument(
        "--half",
        action="store_true",
        help="store floating-point tensors as float16 (loaders cast them back)",
    )
    p.add_argument(
        "--drop",
        default="",
        help="comma-separated tensor-name suffixes to leave out (training-only state the model "
        "rebuilds on load, e.g. SpectroStream's embed_sum,usage,initialized)",
    )
    p.add_argument(
        "--notes", default=None, help="markdown file appended to the card (A/B, training record)"
    )
    args = p.parse_args()
    run = Path(args.run_dir)
    info = json.loads((run / "best.json").read_text())
    resume = json.loads((run / "resume.json").read_text())["meta"]
    if file_sha256(run / "best.safetensors") != info["sha256"]:
        raise SystemExit(f"{run / 'best.safetensors'} does not match its best.json sha256")
    weights = PRETRAINED_DIR / f"{args.name}.safetensors"
    if args.half or args.drop:
        _compact(
            run / "best.safetensors", weights, args.half, [s for s in args.drop.split(",") if s]
        )
        info["sha256"] = file_sha256(weights)
    else:
        shutil.copyfile(run / "best.safetensors", weights)
    info.update(
        name=args.name,
        bitrate_kbps=args.bitrate_kbps,
        recipe=resume["recipe"],
        data=args.data,
        steps_trained=resume["step"],
        wall_time_h=args.wall_time_h,
    )
    if args.n_q is not None:
        info["n_q"] = args.n_q
    (PRETRAINED_DIR / f"{args.name}.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    table = Path(args.dev_table).read_text() if args.dev_table else "(not evaluated)"
    cfg = info["config"]
    if info.get("model") == "spectrostream":
        kind = (
            f"SpectroStream (base {cfg.get('base_channels')} channels, {cfg.get('dim')}-dim "
            f"embeddings, {cfg.get('num_levels')} EMA RVQ levels of {cfg.get('codebook_size')})"
        )
    elif info.get("model") == "hpcodec":
        kind = (
            f"HP-codec (DAC branches of width {cfg.get('d_model')} / decoder "
            f"{cfg.get('decoder_dim')}, harmonic + percussive RVQ sections of "
            f"{cfg.get('codebooks_per_section')} codebooks of {cfg.get('codebook_size')} per "
            "branch: 6 kbps per branch, 12 kbps full band)"
        )
    elif info.get("model") == "hpcodecx":
        lm = cfg.get("lm", {})
        kind = (
            f"HP-codecX (per section a {lm.get('num_layers')}-layer transformer, width "
            f"{lm.get('d_model')}, predicting the 48 kHz branch's tokens from the 16 kHz branch's; "
            "with its frozen HP-codec)"
        )
    elif info.get("model") == "mp3restore":
        kind = (
            f"MP3 restoration (N = {cfg.get('num_blocks')} blocks, latent {cfg.get('latent')}, "
            f"{'residual' if cfg.get('residual') else 'direct'} output)"
        )
    elif cfg.get("generator") == "patch":
        top_khz = (cfg["k_h"] + 1) * 0.75
        side = (
            "no side information"
            if cfg.get("blind")
            else f"{info.get('n_q', cfg['n_q'])} RVQ stages sent"
        )
        kind = (
            f"{'Blind SBG' if cfg.get('blind') else 'n-SBG'}, patch generator (width "
            f"{cfg.get('patch_channels')}, bands {cfg['k_c']}..{cfg['k_h']}: "
            f"{cfg['k_c'] * 0.75:g}-{top_khz:g} kHz, {side})"
        )
    elif cfg.get("blind"):
        kind = f"Blind SBG ({cfg.get('channels')} base channels, no side information)"
    else:
        kind = f"n-SBG ({cfg.get('channels')} base channels, {cfg.get('n_q')} RVQ stages)"
    criterion = {
        "mp3restore": "LSD",
        "spectrostream": "mel distance",
        "hpcodec": "mel distance",
        "hpcodecx": "token cross-entropy",
    }.get(str(info.get("model")), "high-band LSD")
    warm = resume["recipe"].get("schedule", {}).get("init_from")
    warm_line = f"\n- warm-started from `{warm}` (see the run's README)" if warm else ""
    core = info.get("core")
    mode = (
        f"; core {core['name']} at {core['sample_rate']} Hz, {core['bitrate'] / 1000:g} kbps"
        if core
        else " (a full-band codec, no core)"
    )
    use = f"the\n{args.bitrate_kbps:g} kbps mode{mode}"
    if info.get("model") == "hpcodec":
        use = (
            f"`--core hpcodec` ({args.bitrate_kbps:g} kbps per channel, full band; the 16 kHz "
            "branch alone at half that), trained on the band-limit core's 16/48 kHz pairs"
        )
    elif info.get("model") == "hpcodecx":
        use = "`bandgen extend --method hpcodecx` (any input reduced to 16 kHz, output 48 kHz)"
    card = f"""# {args.name}

{kind} for {use}.

- weights: `{args.name}.safetensors`, sha256 `{info["sha256"]}`
- trained on: {args.data}
- selected at step {info["step"]} of {resume["step"]} (best validation {criterion});
  wall time {args.wall_time_h:g} h{warm_line}
- validation at that step: {json.dumps(info.get("val", {}))}
- recipe: see `recipe` in `{args.name}.json`

## Dev set

{table}
"""
    if args.notes:
        card += "\n" + Path(args.notes).read_text()
    (PRETRAINED_DIR / f"{args.name}.md").write_text(card)
    print(f"released {weights} ({weights.stat().st_size / 1e6:.1f} MB), sha256 {info['sha256']}")


def _compact(src: Path, dst: Path, half: bool, drop: list[str]) -> None:
    """Copy safetensors ``src`` to ``dst`` without the ``drop`` suffixes, floats as float16."""
    from safetensors.torch import load_file, save_file

    tensors = {
        name: (t.half() if half and t.is_floating_point() else t)
        for name, t in load_file(str(src)).items()
        if not any(name.endswith(suffix) for suffix in drop)
    }
    save_file(tensors, str(dst), metadata={"format": "bandgen-weights"})


if __name__ == "__main__":
    main()
