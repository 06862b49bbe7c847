"""Speed of ``bandgen extend`` per method, against the plain resample, in one process.

usage: python scripts/bench_extend.py [--methods blind,hpcodecx] [--blind-weights FILE]
                                      [--hpcodecx-weights FILE] [--seconds 30] [--repeats 3]
                                      [--threads 1]

Times :meth:`bandgen.extend.Extender.stream` over ``--seconds`` of a dev clip reduced to
16 kHz (or noise if the clip is missing), fed in 1 s blocks as ``bandgen extend`` feeds it, on
``--threads`` threads, best of ``--repeats``; and, as the baseline, the plain 16 -> 48 kHz
stream resample of the same blocks (what "no extension" costs). Prints seconds of audio per
second of wall time (x real time) and the ratio of each method's time to the resample's.

Each method uses its shipped model, else the weights given, else a randomly initialised model
of the size that ships (timing does not depend on the weights): for ``blind`` the CPU-size
patch generator of ``recipes/blind_8k_cpu.yaml`` (bands 10..29 from 0..9), for ``hpcodecx``
the ``cpu`` preset (transformers and codec).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from bandgen.audio.resample import StreamResampler, resample
from bandgen.extend import (
    DEFAULT_MODELS,
    INPUT_RATE,
    BlindMethod,
    Extender,
    HPCodecXMethod,
    load_extender,
)
from bandgen.pretrained.registry import list_models

CLIP = Path(__file__).resolve().parents[1].parent / "shared/data/dev/dev_music_08.flac"


def signal(seconds: float) -> np.ndarray:
    """``[1, seconds * 16000]``: a dev clip at 16 kHz looped, or noise if it is missing."""
    length = int(seconds * INPUT_RATE)
    if CLIP.exists():
        import soundfile as sf

        wav, rate = sf.read(str(CLIP), dtype="float32", always_2d=True)
        mono = resample(wav.mean(axis=1), rate, INPUT_RATE)
        return np.resize(mono, length)[None].astype(np.float32)
    return (0.1 * np.random.default_rng(0).standard_normal((1, length))).astype(np.float32)


def blocks(x16: np.ndarray) -> list[np.ndarray]:
    """1 s blocks, as the file reader and its resampler give them."""
    return [x16[:, i : i + INPUT_RATE] for i in range(0, x16.shape[1], INPUT_RATE)]


def plain(parts: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The baseline: the 16 -> 48 kHz stream resample alone."""
    up = StreamResampler(INPUT_RATE, 48_000, 1)
    for part in parts:
        yield up.push(part)
    yield up.flush()


def best_time(
    run: Callable[[Iterable[np.ndarray]], Iterator[np.ndarray]], x16: np.ndarray, repeats: int
) -> float:
    """Best wall time of ``repeats`` streaming runs over ``x16`` (after a 2 s warm-up)."""
    for _ in run(blocks(x16[:, : 2 * INPUT_RATE])):
        pass
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in run(blocks(x16)):
            pass
        best = min(best, time.perf_counter() - tic)
    return best


def build(method: str, weights: str | None) -> tuple[Extender, str]:
    """The method's extender and a label saying which model it runs."""
    if weights is not None or DEFAULT_MODELS[method] in list_models():
        ext = load_extender(method, weights=weights)
        return ext, str(ext.info.get("name", ""))
    torch.manual_seed(0)
    if method == "hpcodecx":
        from bandgen.models.hpcodecx import HPCodecX, HPCodecXConfig

        model = HPCodecX(HPCodecXConfig.cpu())
        return Extender(HPCodecXMethod(model, {"name": "random"})), "random, preset cpu"
    from bandgen.models.config import NSBGConfig
    from bandgen.models.nsbg import NSBG

    config = NSBGConfig.from_dict(
        {
            **NSBGConfig.cpu_patch_24k().to_dict(),
            "blind": True,
            "k_c": 10,
            "k_h": 29,
            "patch_span": 8,
        }
    )
    torch.manual_seed(0)
    return Extender(
        BlindMethod(NSBG(config), {"name": "random"})
    ), "random, as recipes/blind_8k_cpu.yaml"


def main(argv: list[str] | None = None) -> int:
    """Print the speed table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--methods", default="blind,hpcodecx")
    ap.add_argument("--blind-weights", default=None)
    ap.add_argument("--hpcodecx-weights", default=None)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    x16 = signal(a.seconds)
    base = best_time(plain, x16, a.repeats)
    print(f"{a.seconds:g} s at 16 kHz -> 48 kHz, {a.threads} thread(s), best of {a.repeats}")
    print("| method | model | x real time | time / resample |")
    print("|---|---|---:|---:|")
    print(f"| resample only | - | {a.seconds / base:.1f} | 1.0 |")
    for method in a.methods.split(","):
        ext, label = build(method, getattr(a, f"{method}_weights"))
        took = best_time(ext.stream, x16, a.repeats)
        print(f"| {method} | {label} | {a.seconds / took:.1f} | {took / base:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
