"""Round-trip dev clips through ``bandgen encode``/``decode`` and print rate and alignment.

Usage:
    python scripts/roundtrip_check.py [CLIP ...] [--bitrates 12,16,24] [--hf none] [--core aac]

For each clip and bitrate: the measured rate per channel from the ``.bgn`` file (core +
side info + framing), and the lag of each decoded channel against the input by
cross-correlation (0 means sample-aligned).  Never imported by the package.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import soundfile as sf

import bandgen
from bandgen.core.align import find_lag

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("BANDGEN_SHARED", REPO.parent / "shared")) / "data" / "dev"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("clips", nargs="*", default=["dev_music_04"])
    p.add_argument("--bitrates", default="12,16,24")
    p.add_argument("--hf", default="none")
    p.add_argument("--core", default="aac")
    args = p.parse_args()
    print("clip            kbps target  measured/ch  core  side  framing  lags")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            src = DEV / f"{clip}.flac"
            ref, _ = sf.read(str(src), dtype="float32", always_2d=True)
            for kbps in (float(b) for b in args.bitrates.split(",")):
                bgn, wav = Path(tmp) / "x.bgn", Path(tmp) / "x.wav"
                bandgen.encode_file(src, bgn, bitrate_kbps=kbps, core=args.core, hf=args.hf)
                info = bandgen.info(bgn)
                bandgen.decode_file(bgn, wav)
                out, _ = sf.read(str(wav), dtype="float32", always_2d=True)
                ch = ref.shape[1]
                lags = [find_lag(ref[:, c], out[:, c], max_lag=4800) for c in range(ch)]
                print(
                    f"{clip:15s} {kbps:11.1f}  {info.per_channel_kbps:11.2f}  "
                    f"{info.core_kbps / ch:4.2f}  {info.side_kbps / ch:4.2f}  "
                    f"{info.overhead_kbps / ch:7.2f}  {lags}"
                )


if __name__ == "__main__":
    main()
