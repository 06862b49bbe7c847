"""Measure how far each bandgen mode's files land from ``--bitrate`` on the dev clips.

For each core, high-band method and target rate, every clip is encoded with
:meth:`bandgen.codec.Codec.create` and the whole ``.bgn`` stream is measured (header,
framing, core packets and side info): ``8 * bytes / duration / channels``.  Prints the
min / mean / max error against the target, in percent, over the clips, and the worst
clip; a target below the core's floor prints the error bandgen gives instead.

Usage::

    python scripts/measure_rates.py [--dev DIR] [--cores aac,opus] [--hf sbr,nsbg,none]
        [--rates 8,10,12,16,24,32] [--per-category N] [--json OUT]

Never imported by the package.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from bandgen.audio import WORK_RATE
from bandgen.codec import Codec
from bandgen.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEV = REPO.parent / "shared" / "data" / "dev"
CATEGORIES = ("speech", "music", "sound")


def load_clips(dev_dir: Path, per_category: int | None) -> list[tuple[str, np.ndarray, int]]:
    """``(name, wav [C, T], sample_rate)`` per dev clip (the first ``per_category`` of each)."""
    clips = []
    for category in CATEGORIES:
        paths = sorted(dev_dir.glob(f"dev_{category}_*.flac"))[:per_category]
        for path in paths:
            wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
            clips.append((path.stem, np.ascontiguousarray(wav.T), rate))
    if not clips:
        raise SystemExit(f"no dev_*.flac clips in {dev_dir}")
    return clips


def measure(
    core: str, hf: str, kbps: float, clips: list[tuple[str, np.ndarray, int]]
) -> dict[str, object]:
    """Encode every clip; the rate error of each file in percent, or the error message."""
    try:
        codec = Codec.create(bitrate_kbps=kbps, core=core, hf=hf)
    except ConfigError as exc:
        return {"core": core, "hf": hf, "kbps": kbps, "error": str(exc)}
    errors = {}
    for name, wav, rate in clips:
        data = codec.encode(wav, rate)
        seconds = wav.shape[1] / rate
        measured = 8 * len(data) / seconds / wav.shape[0] / 1000
        errors[name] = 100 * (measured / kbps - 1)
    return {"core": core, "hf": hf, "kbps": kbps, "errors_pct": errors}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    p.add_argument("--cores", default="aac,opus")
    p.add_argument("--hf", default="sbr,nsbg,none")
    p.add_argument("--rates", default="8,10,12,16,24,32")
    p.add_argument("--per-category", type=int, default=None, help="clips per category")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args()
    clips = load_clips(args.dev, args.per_category)
    assert WORK_RATE == 48_000
    print(f"{len(clips)} clips; error = whole .bgn file rate per channel vs --bitrate")
    print(f"{'core':5s} {'hf':5s} {'kbps':>5s}  {'min %':>7s} {'mean %':>7s} {'max %':>7s}  worst")
    results = []
    for core in args.cores.split(","):
        for hf in args.hf.split(","):
            for kbps in (float(r) for r in args.rates.split(",")):
                row = measure(core, hf, kbps, clips)
                results.append(row)
                if "error" in row:
                    print(f"{core:5s} {hf:5s} {kbps:5g}  error: {row['error']}", flush=True)
                    continue
                errs = row["errors_pct"]
                assert isinstance(errs, dict)
                values = np.array(list(errs.values()))
                worst = max(errs, key=lambda k: abs(errs[k]))
                print(
                    f"{core:5s} {hf:5s} {kbps:5g}  {values.min():7.1f} {values.mean():7.1f} "
                    f"{values.max():7.1f}  {worst}",
                    flush=True,
                )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
