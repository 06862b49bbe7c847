"""Evaluate blind bandwidth extension from 16 kHz on the dev clips (paper ``004``'s Table 2).

usage: python scripts/eval_extend.py [--dev ../shared/data/dev] [--out out/eval_extend]
                                     [--systems input,blind,hpcodecx,hpcodec12]
                                     [--no-visqol] [--seconds S] [--threads 1]

Every clip is reduced to 16 kHz (content up to 8 kHz; the ``bandlimit`` core's resampler) and
given to each system, which returns 48 kHz:

- ``input``: the 16 kHz signal upsampled (nothing above 8 kHz);
- ``blind``: ``bandgen extend --method blind`` (blind n-SBG for an 8 kHz crossover);
- ``hpcodecx``: ``bandgen extend --method hpcodecx`` (HP-codec tokens + transformer);
- ``hpcodec12``: the HP-codec round trip of the original clip at 12 kbps per channel (both
  branches; not an extension: it sees the full band).

Measures against the 48 kHz original, as Table 2: over the whole signal (``global``) and over
8-24 kHz (``hf``: both signals high-passed at 8 kHz by zeroing the STFT bins below it, 2048/512
Hann, exact overlap-add): multi-scale mel distance, multi-resolution STFT distance, L1 of the
waveform (mean absolute difference), SI-SDR and ViSQOL v3 (audio mode, mean over channels);
plus LSD above 8 kHz. Speed: seconds of audio per second of wall time on the threads given
(``x_rt``). Writes ``OUT/summary.md`` (per category and overall, mean +- 95 % CI) and
``OUT/per_clip.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bandgen.audio import WORK_RATE
from bandgen.audio.io import AtomicFile, read_audio
from bandgen.audio.resample import resample
from bandgen.eval.report import SummaryRow, summarize
from bandgen.eval.run import find_clips
from bandgen.metrics.basic import lsd, mel_distance, mrstft_distance, si_sdr

LOW_RATE = 16_000
SPLIT_HZ = 8000.0
System = Callable[[np.ndarray], np.ndarray]
"""``[C, T] at 48 kHz (the original, for codecs) or its 16 kHz reduction -> [C, T] at 48 kHz``."""


def highpass(wav: np.ndarray, cutoff_hz: float = SPLIT_HZ) -> np.ndarray:
    """``wav [C, T]`` at 48 kHz with the STFT bins below ``cutoff_hz`` zeroed (2048/512 Hann,
    weighted overlap-add; the band above is unchanged to rounding)."""
    x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float64))
    window = torch.hann_window(2048, dtype=torch.float64)
    spec = torch.stft(x, 2048, 512, window=window, return_complex=True)
    keep = torch.arange(spec.shape[-2], dtype=torch.float64) * WORK_RATE / 2048 >= cutoff_hz
    spec = spec * keep[:, None]
    return torch.istft(spec, 2048, 512, window=window, length=wav.shape[-1]).numpy()


def measures(ref: np.ndarray, test: np.ndarray, visqol: bool) -> dict[str, float]:
    """The Table 2 measures of one pair, ``global`` and ``hf`` (module docstring)."""
    out: dict[str, float] = {}
    bands = {"global": (ref, test), "hf": (highpass(ref), highpass(test))}
    for band, (r, t) in bands.items():
        out[f"mel_{band}"] = mel_distance(r, t, WORK_RATE)
        out[f"stft_{band}"] = mrstft_distance(r, t, WORK_RATE)
        out[f"l1_{band}"] = float(np.abs(r - t).mean())
        out[f"sisdr_{band}"] = si_sdr(r, t, WORK_RATE)
        if visqol:
            from bandgen.metrics.external import visqol as visqol_score

            out[f"visqol_{band}"] = visqol_score(r, t, WORK_RATE)
    out["lsd_hf"] = lsd(ref, test, WORK_RATE, min_hz=SPLIT_HZ)
    return out


HIGHER_IS_BETTER = ("sisdr", "visqol")


def table(rows: list[SummaryRow], metrics: list[str]) -> str:
    """One markdown table per category: ``mean ± ci95`` per measure and system."""
    lines = ["Mean ± 95 % CI half-width (Student t) over clips."]
    arrows = {m: "↑" if m.startswith(HIGHER_IS_BETTER) else "↓" for m in metrics}
    for category in dict.fromkeys(r.category for r in rows):
        group = [r for r in rows if r.category == category]
        lines += ["", f"## {category} (n = {group[0].n})", ""]
        lines.append("| system | " + " | ".join(f"{m} {arrows[m]}" for m in metrics) + " |")
        lines.append("|---|" + "---:|" * len(metrics))
        for r in group:
            cells = [f"{r.stats[m][0]:.3f} ± {r.stats[m][1]:.3f}" for m in metrics]
            lines.append(f"| {r.spec} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _input(low: np.ndarray) -> np.ndarray:
    return resample(low, LOW_RATE, WORK_RATE)


def _extender(method: str) -> System:
    from bandgen.extend import load_extender

    ext = load_extender(method)
    return lambda low: ext.extend(low, LOW_RATE)


def _hpcodec(weights: str | None) -> System:
    """The HP-codec round trip at 12 kbps (both branches, 6 codebooks each), per channel."""
    from bandgen.hp_codec import load_hp_model
    from bandgen.hp_stream import decode_tokens, encode_tokens

    codec, _ = load_hp_model(weights=weights)

    def run(wav: np.ndarray) -> np.ndarray:
        x48 = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[:, None]
        x48 = torch.nn.functional.pad(x48, (0, -x48.shape[-1] % codec.hop_high))
        out = decode_tokens(codec, encode_tokens(codec, x48, branches=2))
        return out[:, 0, : wav.shape[-1]].numpy().astype(np.float64)

    return run


SYSTEMS: dict[str, tuple[bool, Callable[[argparse.Namespace], System]]] = {
    "input": (True, lambda a: _input),
    "blind": (True, lambda a: _extender("blind")),
    "hpcodecx": (True, lambda a: _extender("hpcodecx")),
    "hpcodec12": (False, lambda a: _hpcodec(a.hpcodec_weights)),
}
"""name -> (takes the 16 kHz reduction, builder)."""


def main(argv: list[str] | None = None) -> int:
    """Reduce, extend, measure; write and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev", default="../shared/data/dev")
    ap.add_argument("--out", default="out/eval_extend")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--no-visqol", action="store_true")
    ap.add_argument("--seconds", type=float, default=None, help="use the first S of each clip")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--hpcodec-weights", default=None, help="HP-codec file (default hpcodec-cpu)")
    ap.add_argument(
        "--merge",
        default=None,
        help="comma list of per_clip.json of earlier runs (e.g. halves of the clips run in "
        "parallel): write their joint tables instead of running",
    )
    a = ap.parse_args(argv)
    if a.merge:
        return _merge(a.merge.split(","), Path(a.out))

    torch.set_num_threads(a.threads)
    names = [n.strip() for n in a.systems.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown:
        ap.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    systems = {n: (SYSTEMS[n][0], SYSTEMS[n][1](a)) for n in names}
    records, seconds, wall = [], dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    start = time.perf_counter()
    for clip in find_clips(a.dev):
        wav, sr = read_audio(clip.path)
        wav = resample(wav, sr, WORK_RATE)
        if a.seconds is not None:
            wav = wav[:, : int(a.seconds * WORK_RATE)]
        low = resample(wav, WORK_RATE, LOW_RATE)
        for name, (from_low, run) in systems.items():
            t0 = time.perf_counter()
            out = run(low if from_low else wav)
            wall[name] += time.perf_counter() - t0
            seconds[name] += wav.shape[1] / WORK_RATE
            out = out[:, : wav.shape[1]]
            if out.shape[1] < wav.shape[1]:
                out = np.pad(out, ((0, 0), (0, wav.shape[1] - out.shape[1])))
            values = measures(wav, out, not a.no_visqol)
            records.append(
                {"clip": clip.id, "category": clip.category, "spec": name, "family": name,
                 "nominal_kbps": 0.0, "kbps": 0.0, "metrics": values}
            )  # fmt: skip
            print(f"{clip.id} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    metrics = list(records[0]["metrics"]) if records else []
    rows = summarize(records, metrics)
    speed = ", ".join(f"{n} {seconds[n] / max(wall[n], 1e-9):.1f}x" for n in names)
    header = [
        "# Bandwidth extension from 16 kHz on the dev clips",
        "",
        f"Command: `python scripts/eval_extend.py {' '.join(sys.argv[1:] if argv is None else argv)}`"
        f"; {time.perf_counter() - start:.0f} s. Speed (x real time, {a.threads} thread(s), "
        f"model and resampling included): {speed}.",
    ]
    return _write(Path(a.out), "\n".join(header) + "\n\n" + table(rows, metrics), records)


def _merge(paths: list[str], out_dir: Path) -> int:
    records = [r for p in paths for r in json.loads(Path(p).read_text())]
    metrics = list(records[0]["metrics"]) if records else []
    heads = [Path(p).with_name("summary.md").read_text().split("\n")[2] for p in paths]
    text = (
        "# Bandwidth extension from 16 kHz on the dev clips\n\nMerged runs:\n"
        + "".join(f"- {h}\n" for h in heads)
        + "\n"
        + table(summarize(records, metrics), metrics)
    )
    return _write(out_dir, text, records)


def _write(out_dir: Path, text: str, records: list[dict[str, Any]]) -> int:
    """``out_dir/summary.md`` and ``out_dir/per_clip.json``, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with AtomicFile(out_dir / "summary.md") as f:
        f.tmp_path.write_text(text)
    with AtomicFile(out_dir / "per_clip.json") as f:
        f.tmp_path.write_text(json.dumps(records, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
