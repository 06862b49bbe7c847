"""Evaluate blind MP3 restoration on the dev clips: plain 32 kbps MP3 decode vs restored.

usage: python scripts/eval_restore.py (--weights RUN/best.safetensors | --model NAME)
                                      [--dev ../shared/data/dev] [--out out/eval_restore]
                                      [--metrics snr,lsd,lsd_hi,pesq,stoi,visqol]
                                      [--kbps 32] [--seconds S] [--no-int8]

Every channel of every clip is coded through ``make_core("mp3", KBPS)`` (libmp3lame; 16 kHz,
7.25 kHz low-pass at 32 kbps), decoded sample-aligned and resampled back to 48 kHz: that is
the ``mp3`` row. The ``restore`` and ``restore-int8`` rows restore that decode with the model
(float, and dynamically quantised). Each is measured against the original clip with the
metrics of paper ``002`` §4.2 (SNR, LSD on a 2048-point STFT of log power, wideband PESQ at
16 kHz, STOI) plus ViSQOL v3 (audio mode) and the LSD above the MP3 cut-off (``lsd_hi``),
through :mod:`bandgen.eval.measures`. Writes ``OUT/summary.md`` (per category and overall,
mean ± 95 % CI) and ``OUT/per_clip.json``, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bandgen.api import load_restorer
from bandgen.audio import WORK_RATE
from bandgen.audio.io import AtomicFile, read_audio
from bandgen.audio.resample import resample
from bandgen.core import make_core
from bandgen.errors import BandgenError
from bandgen.eval.measures import MeasureConfig, compute, parse_metrics
from bandgen.eval.report import markdown, summarize
from bandgen.eval.run import find_clips
from bandgen.eval.specs import code, parse_spec

RATE = WORK_RATE


def measure(metrics: list[str], ref: np.ndarray, test: np.ndarray, config: MeasureConfig) -> dict:
    """The metrics of one pair; a metric that cannot score it (PESQ finding no utterance in
    a quiet excerpt) is NaN and left out of the means."""
    values = {}
    for name in metrics:
        try:
            values.update(compute([name], ref, test, RATE, config))
        except BandgenError as exc:
            print(f"  {name}: {exc}", file=sys.stderr)
            values[name] = float("nan")
    return values


def main(argv: list[str] | None = None) -> int:
    """Code, restore, measure; write and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--weights", help="PATH.safetensors with PATH.json beside it")
    which.add_argument("--model", help="shipped model name, e.g. mp3restore-32k")
    ap.add_argument("--dev", default="../shared/data/dev")
    ap.add_argument("--out", default="out/eval_restore")
    ap.add_argument("--metrics", default="snr,lsd,lsd_hi,pesq,stoi,visqol")
    ap.add_argument("--kbps", type=float, default=32.0, help="MP3 bitrate (default 32)")
    ap.add_argument("--seconds", type=float, default=None, help="use the first S of each clip")
    ap.add_argument("--no-int8", action="store_true", help="skip the int8 model")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    metrics = parse_metrics(a.metrics)
    core = make_core("mp3", a.kbps)
    config = MeasureConfig(split_hz=core.cutoff_hz)
    restorers = {"restore": load_restorer(a.model, weights=a.weights)}
    if not a.no_int8:
        restorers["restore-int8"] = load_restorer(a.model, weights=a.weights, int8=True)
    mp3 = parse_spec(f"mp3:{a.kbps:g}")
    records = []
    start = time.perf_counter()
    for clip in find_clips(a.dev):
        wav, sr = read_audio(clip.path)
        wav = resample(wav, sr, RATE)
        if a.seconds is not None:
            wav = wav[:, : int(a.seconds * RATE)]
        coded = code(mp3, wav)
        decoded, kbps = coded.wav, coded.kbps
        systems = {"mp3": decoded}
        systems.update({name: r.restore(decoded) for name, r in restorers.items()})
        for spec, test in systems.items():
            values = measure(metrics, wav, test, config)
            records.append(
                {
                    "clip": clip.id,
                    "category": clip.category,
                    "spec": spec,
                    "family": spec,
                    "nominal_kbps": a.kbps,
                    "kbps": kbps,
                    "metrics": values,
                }
            )
            print(f"{clip.id} {spec}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    rows = summarize(records, metrics)
    info = restorers["restore"].info
    header = [
        "# MP3 restoration on the dev clips",
        "",
        f"MP3: libmp3lame {a.kbps:g} kbps via `make_core('mp3', {a.kbps:g})` "
        f"({core.sample_rate} Hz, low-pass {core.cutoff_hz:.0f} Hz), every channel; "
        f"model `{info.get('name')}` ({json.dumps(info.get('config'))}); "
        f"`lsd_hi` = LSD above {core.cutoff_hz:.0f} Hz; a metric that cannot score a clip "
        f"(NaN in per_clip.json) is left out of its mean. Command: "
        f"`python scripts/eval_restore.py {' '.join(sys.argv[1:] if argv is None else argv)}`"
        f"; {time.perf_counter() - start:.0f} s.",
    ]
    text = "\n".join(header) + "\n" + markdown(rows, metrics).split("\n", 1)[1]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with AtomicFile(out / "summary.md") as f:
        f.tmp_path.write_text(text)
    with AtomicFile(out / "per_clip.json") as f:
        f.tmp_path.write_text(json.dumps(records, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
