"""Benchmark the codec path: speed (x real time, one thread) and peak memory on long files.

Usage:
    python scripts/bench_codec.py speed [--bitrate 12] [--hf none] [--clips N]
    python scripts/bench_codec.py memory [--minutes 60] [--workdir DIR]

``speed`` encodes and decodes dev clips through ``bandgen.encode``/``decode`` and, in
the same process, the core codec alone on the same audio (baseline), printing the
ratio.  ``memory`` builds a long 48 kHz stereo FLAC by concatenating dev clips
(streamed to disk), then encodes and decodes it with the CLI in child processes and
reports each one's peak RSS against the size of the decoded signal held once
(float32).  Never imported by the package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import soundfile as sf

from bandgen.audio import WORK_RATE

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("BANDGEN_SHARED", REPO.parent / "shared")) / "data" / "dev"


def _speed(args: argparse.Namespace) -> None:
    import torch

    from bandgen.codec import Codec

    torch.set_num_threads(1)
    codec = Codec.create(bitrate_kbps=args.bitrate, core=args.core, hf=args.hf)
    clips = sorted(DEV.glob("dev_*.flac"))[: args.clips]
    t_enc = t_dec = t_core_enc = t_core_dec = audio_s = 0.0
    for path in clips:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
        wav = wav.T
        audio_s += wav.shape[1] / sr
        t0 = time.perf_counter()
        data = codec.encode(wav, sr)
        t1 = time.perf_counter()
        Codec.decode(data)
        t2 = time.perf_counter()
        from bandgen.audio.resample import resample

        core_in = resample(wav, sr, codec.core.sample_rate)
        t3 = time.perf_counter()
        packets = codec.core.encode(core_in)
        t4 = time.perf_counter()
        codec.core.decode(packets, core_in.shape[1])
        t5 = time.perf_counter()
        t_enc += t1 - t0
        t_dec += t2 - t1
        t_core_enc += t4 - t3
        t_core_dec += t5 - t4
    print(
        f"{len(clips)} clips, {audio_s:.0f} s of audio; {args.hf} over {args.core} at "
        f"{args.bitrate} kbps/ch (core {codec.core.sample_rate} Hz); one thread"
    )
    print(f"bandgen encode : {audio_s / t_enc:8.1f}x real time")
    print(f"bandgen decode : {audio_s / t_dec:8.1f}x real time")
    print(f"core-only encode (baseline, same process): {audio_s / t_core_enc:8.1f}x real time")
    print(f"core-only decode (baseline, same process): {audio_s / t_core_dec:8.1f}x real time")
    print(
        f"ratio bandgen/core-only time: encode {t_enc / t_core_enc:.2f}, decode {t_dec / t_core_dec:.2f}"
    )


def _make_long_file(path: Path, minutes: float) -> float:
    clips = [c for c in sorted(DEV.glob("dev_music_*.flac"))]
    total = int(minutes * 60 * WORK_RATE)
    written = 0
    with sf.SoundFile(str(path), "w", samplerate=WORK_RATE, channels=2, subtype="PCM_16") as out:
        i = 0
        while written < total:
            wav, _ = sf.read(str(clips[i % len(clips)]), dtype="float32", always_2d=True)
            wav = wav[: total - written]
            if wav.shape[1] == 1:
                wav = np.repeat(wav, 2, axis=1)
            out.write(wav)
            written += wav.shape[0]
            i += 1
    return written / WORK_RATE


def _run_measured(cmd: list[str]) -> tuple[float, float]:
    """Run a command in a child; return (seconds, its peak RSS in MiB)."""
    start = time.perf_counter()
    code = f"""
import resource, subprocess, sys
p = subprocess.run({cmd!r})
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(p.returncode)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(out.stdout.strip().splitlines()[-1]) / 1024


def _memory(args: argparse.Namespace) -> None:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"long_{args.minutes:g}min.flac"
    seconds = _make_long_file(src, args.minutes) if not src.exists() else sf.info(str(src)).duration
    bgn, out = work / "long.bgn", work / "long_decoded.wav"
    bandgen = [sys.executable, "-m", "bandgen.cli"]
    t_enc, rss_enc = _run_measured(
        [
            *bandgen,
            "encode",
            str(src),
            str(bgn),
            "--bitrate",
            str(args.bitrate),
            "--hf",
            args.hf,
            "--no-progress",
        ]
    )
    t_dec, rss_dec = _run_measured([*bandgen, "decode", str(bgn), str(out), "--no-progress"])
    _, rss_base = _run_measured([sys.executable, "-c", "import bandgen.codec, av, torch"])
    signal_mib = seconds * WORK_RATE * 2 * 4 / 2**20
    print(
        f"input: {seconds / 60:.1f} min of 48 kHz stereo, --hf {args.hf} at {args.bitrate:g} kbps/ch; "
        f"decoded signal held once = {signal_mib:.0f} MiB"
    )
    print(f"baseline (interpreter + imports only): peak RSS {rss_base:.0f} MiB")
    print(
        f"encode: {t_enc:.0f} s ({seconds / t_enc:.1f}x real time), peak RSS {rss_enc:.0f} MiB "
        f"= {rss_enc / signal_mib:.3f} x signal"
    )
    print(
        f"decode: {t_dec:.0f} s ({seconds / t_dec:.1f}x real time), peak RSS {rss_dec:.0f} MiB "
        f"= {rss_dec / signal_mib:.3f} x signal"
    )
    print(
        f"bgn size {bgn.stat().st_size / 2**20:.1f} MiB, output {out.stat().st_size / 2**20:.0f} MiB"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--bitrate", type=float, default=12.0)
    s.add_argument("--core", default="aac")
    s.add_argument("--hf", default="sbr")
    s.add_argument("--clips", type=int, default=24)
    s.set_defaults(run=_speed)
    m = sub.add_parser("memory")
    m.add_argument("--minutes", type=float, default=60.0)
    m.add_argument("--bitrate", type=float, default=12.0)
    m.add_argument("--hf", default="sbr")
    m.add_argument("--workdir", default="/tmp/bandgen-bench")
    m.set_defaults(run=_memory)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
