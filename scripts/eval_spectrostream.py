"""Evaluate SpectroStream against Opus at the same total rate (issue 14, paper 003).

usage: python scripts/eval_spectrostream.py [REFS] (--weights FILE | --model NAME)
           [--rates 2.7,5.3,8,12,16] [--out out/eval_spectrostream] [--jobs N] [--clips N]
           [--seconds S] [--no-visqol]

For every 48 kHz clip of REFS (default ``../shared/data/dev``; categories from the file names
``dev_<category>_NN`` or a ``manifest.json``) and every rate per channel, the clip is coded

- with SpectroStream (``--core spectrostream``; a stereo clip's pair jointly at twice the rate,
  at most 16 kbps for the pair: a capped point is marked), through ``.bgn`` bytes, and
- with plain Opus (libopus through PyAV, VBR, ``application=audio``), the stereo pair as ONE
  stereo stream, at SpectroStream's measured total rate (the fair comparison),

and measured against the original: ViSQOL v3 in audio mode and in speech mode (16 kHz, each
channel scored and the scores averaged: the paper's measure), mel distance, LSD, SI-SDR, the
inter-channel coherence error (stereo clips: mean absolute difference of the magnitude-squared
coherence of L and R, reference vs decoded, over 0-20 kHz) and the measured rate per channel.
Writes ``OUT/per_clip.json``, ``OUT/summary.json`` and ``OUT/summary.md`` (per category and
overall, mean per codec and rate) and prints the markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.io import AtomicFile
from bandgen.errors import BandgenError, BandgenWarning
from bandgen.eval.run import find_clips, load_reference

RATE = WORK_RATE
OPUS_FRAME = 960
OPUS_PRESKIP = 312
COHERENCE_TOP_HZ = 20_000.0
METRICS = ("visqol", "visqol_speech", "mel", "lsd", "si_sdr", "coherence_err")
LOWER_IS_BETTER = {"mel", "lsd", "coherence_err"}


def opus_code(wav: np.ndarray, total_bps: int) -> tuple[np.ndarray, int]:
    """Code ``wav [C, T]`` (C = 1 or 2, 48 kHz) as one libopus stream at ``total_bps``.

    Returns the decoded ``[C, T]`` (pre-skip removed) and the payload bytes.
    """
    import av

    channels, length = wav.shape
    layout = "stereo" if channels == 2 else "mono"
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = RATE, layout, "flt"
    enc.bit_rate = max(500, total_bps)
    enc.options = {"vbr": "on", "application": "audio"}
    enc.thread_count = 1
    dec = av.CodecContext.create("libopus", "r")
    dec.sample_rate, dec.layout = RATE, layout
    dec.options = {"request_sample_fmt": "flt"}
    padded = np.pad(wav, ((0, 0), (0, -length % OPUS_FRAME + OPUS_FRAME)))
    packets = []
    for start in range(0, padded.shape[1], OPUS_FRAME):
        block = np.ascontiguousarray(padded[:, start : start + OPUS_FRAME].T).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="flt", layout=layout)
        frame.sample_rate, frame.pts = RATE, start
        packets += enc.encode(frame)
    packets += enc.encode(None)
    out = []
    for packet in packets:
        for frame in dec.decode(av.Packet(bytes(packet))):
            out.append(frame.to_ndarray().reshape(-1, channels).T)
    decoded = np.concatenate(out, axis=1)[:, OPUS_PRESKIP : OPUS_PRESKIP + length]
    decoded = np.pad(decoded, ((0, 0), (0, length - decoded.shape[1])))
    return decoded.astype(np.float32), sum(len(bytes(p)) for p in packets)


def spectro_code(
    wav: np.ndarray, kbps: float, model: dict[str, Any]
) -> tuple[np.ndarray, int, bool]:
    """Code ``wav [C, T]`` with SpectroStream at ``kbps`` per channel: decoded, bytes, capped."""
    from bandgen.codec import Codec

    codec = Codec.create(core="spectrostream", bitrate_kbps=kbps, **model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BandgenWarning)
        data = codec.encode(wav, RATE)
    decoded = Codec.decode(data, weights=model.get("weights"))
    capped = any(issubclass(w.category, BandgenWarning) for w in caught)
    return decoded, len(data), capped


def coherence_error(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean |MSC(L, R) of ``ref`` - MSC(L, R) of ``test``| over 0-20 kHz (stereo only)."""
    from scipy.signal import coherence

    freqs, ref_msc = coherence(ref[0], ref[1], fs=RATE, nperseg=2048)
    _, test_msc = coherence(test[0], test[1], fs=RATE, nperseg=2048)
    band = freqs <= COHERENCE_TOP_HZ
    return float(np.mean(np.abs(np.nan_to_num(ref_msc[band]) - np.nan_to_num(test_msc[band]))))


def measure(ref: np.ndarray, test: np.ndarray, *, visqol: bool) -> dict[str, float]:
    """The metrics of one pair (module docstring); a metric that fails is NaN."""
    from bandgen.metrics.basic import lsd, mel_distance, si_sdr
    from bandgen.metrics.external import visqol as visqol_score

    fns: dict[str, Any] = {
        "mel": lambda: mel_distance(ref, test, RATE),
        "lsd": lambda: lsd(ref, test, RATE),
        "si_sdr": lambda: si_sdr(ref, test, RATE),
    }
    if visqol:
        fns["visqol"] = lambda: visqol_score(ref, test, RATE, mode="audio")
        fns["visqol_speech"] = lambda: visqol_score(ref, test, RATE, mode="speech")
    if ref.shape[0] == 2:
        fns["coherence_err"] = lambda: coherence_error(ref, test)
    values = {}
    for name, fn in fns.items():
        try:
            values[name] = float(fn())
        except BandgenError as exc:
            print(f"  {name}: {exc}", file=sys.stderr)
            values[name] = math.nan
    return values


def evaluate_clip(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rate and both codecs on one clip; one record per (codec, rate)."""
    import torch

    torch.set_num_threads(1)
    wav = load_reference(task["path"])[:2]  # the model codes one pair; the eval uses the first
    if task["seconds"]:
        wav = wav[:, : round(task["seconds"] * RATE)]
    channels, seconds = wav.shape[0], wav.shape[1] / RATE
    records = []
    for kbps in task["rates"]:
        start = time.perf_counter()
        decoded, size, capped = spectro_code(wav, kbps, task["model"])
        spectro_kbps = size * 8 / 1000 / seconds / channels
        coded = {"spectrostream": (decoded, spectro_kbps, time.perf_counter() - start)}
        start = time.perf_counter()
        opus_wav, opus_bytes = opus_code(wav, round(spectro_kbps * channels * 1000))
        opus_kbps = opus_bytes * 8 / 1000 / seconds / channels
        coded["opus"] = (opus_wav, opus_kbps, time.perf_counter() - start)
        for codec, (out, rate, wall) in coded.items():
            records.append(
                {
                    "clip": task["clip"],
                    "category": task["category"],
                    "channels": channels,
                    "codec": codec,
                    "kbps_asked": kbps,
                    "kbps": rate,
                    "capped": capped,
                    "seconds": wall,
                    "metrics": measure(wav, out, visqol=task["visqol"]),
                }
            )
    print(f"{task['clip']}: done", file=sys.stderr)
    return records


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Means per category (and ``all``), codec and asked rate."""
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        for category in (r["category"], "all"):
            groups[(category, r["codec"], r["kbps_asked"])].append(r)
    summary: dict[str, Any] = {}
    for (category, codec, kbps), group in sorted(groups.items()):
        row: dict[str, Any] = {"n": len(group), "kbps": _mean([r["kbps"] for r in group])}
        row["capped"] = sum(r["capped"] for r in group)
        for name in METRICS:
            row[name] = _mean([r["metrics"].get(name, math.nan) for r in group])
        summary.setdefault(category, {}).setdefault(f"{kbps:g}", {})[codec] = row
    return summary


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def markdown(summary: dict[str, Any]) -> str:
    """One table per category: a row per (rate, codec), a column per metric."""
    lines = ["# SpectroStream vs Opus at the same total rate", ""]
    lines.append(
        "Means over clips. kbps: measured per channel; SpectroStream codes a stereo pair at "
        "most at 16 kbps (capped: clips coded below the asked rate, Opus then at the same "
        "lower rate). Lower is better for " + ", ".join(sorted(LOWER_IS_BETTER)) + "."
    )
    head = "| kbps/ch asked | codec | n | kbps | capped | " + " | ".join(METRICS) + " |"
    for category in sorted(summary, key=lambda c: (c == "all", c)):
        lines += ["", f"## {category}", "", head, "|" + "---|" * (5 + len(METRICS))]
        for kbps, codecs in sorted(summary[category].items(), key=lambda kv: float(kv[0])):
            for codec, row in codecs.items():
                cells = " | ".join(_cell(row[m]) for m in METRICS)
                lines.append(
                    f"| {kbps} | {codec} | {row['n']} | {row['kbps']:.2f} | {row['capped']} "
                    f"| {cells} |"
                )
    return "\n".join(lines) + "\n"


def _cell(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.3f}"


def _write(path: Path, text: str) -> None:
    with AtomicFile(path) as out:
        out.tmp_path.write_text(text)


def first_per_category(clips: list[Any], count: int) -> list[Any]:
    """The first ``count`` clips of each category, in order."""
    taken: dict[str, int] = defaultdict(int)
    kept = []
    for clip in clips:
        taken[clip.category] += 1
        if taken[clip.category] <= count:
            kept.append(clip)
    return kept


def main(argv: list[str] | None = None) -> int:
    """Code, measure, write and print the tables."""
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("refs", nargs="?", default="../shared/data/dev", help="folder of clips")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--weights", help="PATH.safetensors with PATH.json beside it")
    which.add_argument("--model", help="shipped model (default spectrostream-cpu)")
    ap.add_argument("--rates", default="2.7,5.3,8,12,16", help="kbps per channel, comma list")
    ap.add_argument("--out", default="out/eval_spectrostream")
    ap.add_argument("--jobs", type=int, default=1, help="clips coded in parallel processes")
    ap.add_argument("--clips", type=int, default=None, help="first N clips per category")
    ap.add_argument("--seconds", type=float, default=None, help="code only the first S s")
    ap.add_argument("--no-visqol", action="store_true", help="skip both ViSQOL modes (fast)")
    args = ap.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
        clips = find_clips(args.refs)
    except (ValueError, BandgenError) as exc:
        print(f"eval_spectrostream: error: {exc}", file=sys.stderr)
        return 2
    if args.clips is not None:
        clips = first_per_category(clips, args.clips)
    model = (
        {"weights": args.weights} if args.weights else {"model": args.model} if args.model else {}
    )
    tasks = [
        {
            "clip": c.id,
            "path": str(c.path),
            "category": c.category,
            "rates": rates,
            "model": model,
            "seconds": args.seconds,
            "visqol": not args.no_visqol,
        }
        for c in clips
    ]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(evaluate_clip, tasks))
    else:
        results = [evaluate_clip(t) for t in tasks]
    records = [r for rs in results for r in rs]
    summary = summarize(records)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "per_clip.json", json.dumps(records, indent=1))
    _write(out / "summary.json", json.dumps(summary, indent=1))
    text = markdown(summary)
    _write(out / "summary.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
