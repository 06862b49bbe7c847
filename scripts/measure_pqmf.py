"""Measure the PQMF bank: round-trip SNR on the dev clips, prototype stopband, and speed.

Usage::

    .venv/bin/python scripts/measure_pqmf.py [--dev ../shared/data/dev] [--causal]

For every 48 kHz clip of the dev folder (each channel is a batch item), prints the SNR (dB) of
``synthesis(analysis(x))`` against ``x`` with ``taps`` samples ignored at both ends, then the mean.
It also prints the prototype's optimised cutoff, its stopband attenuation, the round-trip delay
and the speed of analysis + synthesis as a multiple of real time on one CPU thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from bandgen.audio import WORK_RATE
from bandgen.dsp.pqmf import PQMF, design_prototype, stopband_attenuation_db

DEFAULT_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """``10 log10(|reference|^2 / |estimate - reference|^2)`` over all elements, dB."""
    noise = (estimate - reference).double().square().sum()
    return float(10.0 * torch.log10(reference.double().square().sum() / noise))


def measure_clip(pqmf: PQMF, path: Path) -> tuple[float, float, float]:
    """Return (SNR dB, clip duration s, analysis+synthesis wall time s) for one clip."""
    audio, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    if sample_rate != WORK_RATE:
        raise SystemExit(f"{path.name}: expected 48 kHz, got {sample_rate} Hz")
    wav = torch.from_numpy(np.ascontiguousarray(audio.T))[:, None, :]  # [C, 1, T]
    with torch.inference_mode():
        start = time.perf_counter()
        out = pqmf.synthesis(pqmf.analysis(wav), length=wav.shape[-1])
        elapsed = time.perf_counter() - start
    shift = pqmf.delay
    edge = pqmf.taps
    reference = wav[..., edge : wav.shape[-1] - edge - shift]
    estimate = out[..., edge + shift : out.shape[-1] - edge]
    return snr_db(reference, estimate), wav.shape[-1] * wav.shape[0] / sample_rate, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="folder of dev FLAC clips")
    parser.add_argument("--causal", action="store_true", help="measure the causal alignment")
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    pqmf = PQMF(causal=args.causal)
    design_s = time.perf_counter() - start
    prototype = design_prototype(taps=pqmf.taps, cutoff_ratio=pqmf.cutoff_ratio, beta=pqmf.beta)
    bands = pqmf.num_bands
    print(f"PQMF {bands} bands, {pqmf.taps} taps, beta {pqmf.beta}, causal={pqmf.causal}")
    print(f"design time {design_s * 1e3:.0f} ms; cutoff ratio {pqmf.cutoff_ratio:.8f}")
    print(f"  (= {pqmf.cutoff_ratio * 24_000:.1f} Hz at 48 kHz; half band {24_000 / bands / 2} Hz)")
    for edge in (1.0, 1.5, 2.0):
        attenuation = stopband_attenuation_db(prototype, num_bands=bands, edge_ratio=edge)
        hz = edge * 24_000 / bands
        print(f"stopband attenuation above {hz:.0f} Hz: {attenuation:.1f} dB")
    print(f"round-trip delay {pqmf.delay} samples (causal mode: {pqmf.taps - 1})")

    clips = sorted(args.dev.glob("*.flac"))
    if not clips:
        raise SystemExit(f"no FLAC clips in {args.dev}")
    snrs, audio_s, wall_s = [], 0.0, 0.0
    for path in clips:
        snr, duration, elapsed = measure_clip(pqmf, path)
        snrs.append(snr)
        audio_s += duration
        wall_s += elapsed
        print(f"{path.stem:16s} SNR {snr:6.2f} dB")
    print(
        f"SNR over {len(snrs)} clips: mean {np.mean(snrs):.2f} dB, "
        f"min {np.min(snrs):.2f}, max {np.max(snrs):.2f}"
    )
    print(
        f"analysis+synthesis speed: {audio_s / wall_s:.0f}x real time "
        f"({audio_s:.0f} s of audio channels in {wall_s:.2f} s, 1 thread)"
    )


if __name__ == "__main__":
    main()
