"""Measure the core codecs' operating points on the dev clips.

For each codec and target bitrate, prints the chosen sample rate and low-pass, the
measured payload rate (sum of packet bytes * 8 / duration, mono, mean per
category speech/music/sound and overall, with the error against the target), the
alignment lag of the decoded output (by cross-correlation, over the clips), and
encode and decode speed in x real time on one thread.  Stereo clips are coded from
their first channel.  These numbers justify the mode tables in ``bandgen/core``.

Usage::

    python scripts/measure_core.py [--dev DIR] [--codecs aac,opus,mp3]
        [--targets 8,9.4,12,13,16,24,32] [--seconds 10]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from bandgen.core import CORE_NAMES, CoreCodec, find_lag, make_core

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEV = REPO.parent / "shared" / "data" / "dev"
CATEGORIES = ("speech", "music", "sound")
MAX_LAG = 2000


def load_clips(dev_dir: Path, seconds: float) -> list[tuple[str, np.ndarray, int]]:
    """``(category, wav [T], sample_rate)`` per dev clip, first channel, at most ``seconds``."""
    clips = []
    for path in sorted(dev_dir.glob("dev_*.flac")):
        category = path.stem.split("_")[1]
        wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
        clips.append((category, np.ascontiguousarray(wav[: int(seconds * rate), 0]), rate))
    if not clips:
        raise SystemExit(f"no dev_*.flac clips in {dev_dir}")
    return clips


def measure(core: CoreCodec, clips: list[tuple[str, np.ndarray, int]]) -> dict[str, object]:
    """Code every clip with ``core``; return rates per category, lags and speeds."""
    rates: dict[str, list[float]] = defaultdict(list)
    lags: Counter[int] = Counter()
    audio_s = enc_s = dec_s = 0.0
    for category, wav, rate in clips:
        x = wav if rate == core.sample_rate else soxr.resample(wav, rate, core.sample_rate)
        x = np.ascontiguousarray(x, dtype=np.float32)
        duration = x.shape[0] / core.sample_rate
        t0 = time.perf_counter()
        packets = core.encode(x[None])
        t1 = time.perf_counter()
        y = core.decode(packets, x.shape[0])[0]
        t2 = time.perf_counter()
        audio_s, enc_s, dec_s = audio_s + duration, enc_s + t1 - t0, dec_s + t2 - t1
        rates[category].append(sum(len(p) for p in packets[0]) * 8 / duration / 1000)
        lags[find_lag(x, y, MAX_LAG)] += 1
    all_rates = [r for values in rates.values() for r in values]
    return {
        "per_category": {c: float(np.mean(rates[c])) for c in CATEGORIES if rates[c]},
        "mean": float(np.mean(all_rates)),
        "lags": lags,
        "encode_x": audio_s / enc_s,
        "decode_x": audio_s / dec_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="folder of dev_*.flac")
    parser.add_argument("--codecs", default=",".join(CORE_NAMES))
    parser.add_argument("--targets", default="8,9.4,12,13,16,24,32,48,64")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    clips = load_clips(args.dev, args.seconds)
    print(f"{len(clips)} clips from {args.dev}, {args.seconds:g} s each, first channel, mono")
    header = (
        f"{'codec':5} {'target':>6} {'sr':>6} {'cutoff':>6} {'request':>7} "
        f"{'speech':>6} {'music':>6} {'sound':>6} {'mean':>6} {'err%':>6} "
        f"{'lag0':>5} {'lags':<18} {'enc_x':>6} {'dec_x':>6}"
    )
    print(header)
    for name in args.codecs.split(","):
        for target in (float(t) for t in args.targets.split(",")):
            core = make_core(name, target)
            result = measure(core, clips)
            per_category = result["per_category"]
            lags = result["lags"]
            assert isinstance(per_category, dict) and isinstance(lags, Counter)
            mean = float(result["mean"])  # type: ignore[arg-type]
            request = float(core.params.options.get("b", core.bitrate)) / 1000
            other = ",".join(f"{lag:+d}x{n}" for lag, n in sorted(lags.items()) if lag != 0)
            print(
                f"{name:5} {target:6g} {core.sample_rate:6d} {core.cutoff_hz:6.0f} "
                f"{request:7.2f} "
                + " ".join(f"{per_category.get(c, float('nan')):6.2f}" for c in CATEGORIES)
                + f" {mean:6.2f} {100 * (mean / target - 1):+6.1f} "
                f"{lags[0]:>2}/{sum(lags.values()):<2} {other or '-':<18} "
                f"{result['encode_x']:6.0f} {result['decode_x']:6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
