"""Size and speed of the MP3 restoration model, float32 vs dynamic int8, in one process.

usage: python scripts/bench_restore.py [--weights RUN/best.safetensors | --model NAME |
                                        --preset cpu|paper --blocks N]
                                       [--seconds 30] [--repeats 3] [--threads 1]

Size: bytes of the serialised ``state_dict`` (in memory; float32 tensors vs int8 weights with
per-channel scales, the depthwise convs staying float32), and the parameter count. Speed: whole
-signal restoration (STFT, network, inverse STFT) of ``--seconds`` of a dev clip (or noise) at
48 kHz on ``--threads`` threads, best of ``--repeats``, as a multiple of real time. Without
weights, a randomly initialised model of the given preset is timed (same cost as a trained one).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bandgen.audio import WORK_RATE
from bandgen.models.mp3restore import MP3Restore, MP3RestoreConfig
from bandgen.restore import Restorer, load_restore_model, quantize_int8

CLIP = Path(__file__).resolve().parents[1].parent / "shared/data/dev/dev_music_08.flac"


def state_bytes(model: torch.nn.Module) -> int:
    """Size of ``torch.save(model.state_dict())`` in bytes (measured in memory only)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def signal(seconds: float) -> np.ndarray:
    """``[1, seconds * 48000]``: a dev clip looped, or noise if the clip is missing."""
    length = int(seconds * WORK_RATE)
    if CLIP.exists():
        import soundfile as sf

        wav, _ = sf.read(str(CLIP), dtype="float32", always_2d=True)
        mono = wav.mean(axis=1)
        return np.resize(mono, length)[None].astype(np.float32)
    return (0.1 * np.random.default_rng(0).standard_normal((1, length))).astype(np.float32)


def seconds_per_run(restorer: Restorer, wav: np.ndarray, repeats: int) -> float:
    """Best wall time of ``repeats`` whole-signal restorations."""
    restorer.restore(wav[:, :WORK_RATE])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        restorer.restore(wav)
        best = min(best, time.perf_counter() - tic)
    return best


def main(argv: list[str] | None = None) -> int:
    """Print the size and speed table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--preset", default="cpu", choices=["cpu", "paper", "debug"])
    ap.add_argument("--blocks", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    if a.weights or a.model:
        model, info = load_restore_model(a.model, weights=a.weights)
        name = info["name"]
    else:
        torch.manual_seed(0)
        model = MP3Restore(getattr(MP3RestoreConfig, a.preset)(a.blocks)).eval()
        name = f"random {a.preset} N={a.blocks}"
    wav = signal(a.seconds)
    params = sum(p.numel() for p in model.parameters())
    results = {}
    for kind, m in (("float32", model), ("int8", quantize_int8(model))):
        elapsed = seconds_per_run(Restorer(m), wav, a.repeats)
        results[kind] = (state_bytes(m), a.seconds / elapsed)
    with torch.no_grad():
        ref = torch.from_numpy(Restorer(model).restore(wav))
        q = torch.from_numpy(Restorer(quantize_int8(model)).restore(wav))
    snr_db = 10 * np.log10(float(ref.square().sum()) / max(float((ref - q).square().sum()), 1e-20))
    cfg = model.config
    print(
        f"model {name}: N={cfg.num_blocks}, latent {cfg.latent}, {params} parameters; "
        f"{a.seconds:g} s of 48 kHz audio, {a.threads} thread(s), best of {a.repeats}"
    )
    print("| model | size (kB) | speed (x real time) |")
    print("|---|---:|---:|")
    for kind, (size, speed) in results.items():
        print(f"| {kind} | {size / 1000:.0f} | {speed:.1f} |")
    (f_size, f_speed), (q_size, q_speed) = results["float32"], results["int8"]
    # an untrained residual model is the identity, so the SNR only means something for weights
    fidelity = f"; int8 output vs float: SNR {snr_db:.1f} dB" if a.weights or a.model else ""
    print(
        f"int8 / float32: size {q_size / f_size:.2f}x ({100 * (1 - q_size / f_size):.1f} % "
        f"smaller), speed {q_speed / f_speed:.2f}x{fidelity}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
