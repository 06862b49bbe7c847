"""Start-up time of the ``bandgen`` CLI against a bare ``python -c pass``, in one run.

Usage: ``python scripts/bench_cli_startup.py [--repeat N]``

Runs each command ``N`` times (default 7), interleaved with the baseline so machine load
hits both alike, and prints the median wall time of each and its ratio to the baseline.
``info`` reads a small ``.bgn`` file made first (with ``--hf none``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "bandgen.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        wav, bgn = Path(tmp) / "a.wav", Path(tmp) / "a.bgn"
        sf.write(str(wav), np.zeros(4800, np.float32), 48000)
        subprocess.run(
            [*cli, "encode", str(wav), str(bgn), "--hf", "none", "-q"], env=env, check=True
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "bandgen --version": [*cli, "--version"],
            "bandgen --help": [*cli, "--help"],
            "bandgen encode --help": [*cli, "encode", "--help"],
            "bandgen info a.bgn": [*cli, "info", str(bgn)],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                times[name].append(_time(cmd, env))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<24} {'median s':>9} {'x python -c pass':>17}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<24} {median:>9.3f} {median / base:>17.1f}")


if __name__ == "__main__":
    main()
