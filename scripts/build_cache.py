"""Build the core-coded training cache of a corpus folder for one n-SBG mode (or any core).

usage: python scripts/build_cache.py CORPUS_DIR CACHE_DIR [--mode 12k|16k] [--jobs N]
                                     [--core aac|opus|mp3|bandlimit] [--kbps KBPS] [--core-rate HZ]
                                     [--max-hours H] [--seed S] [--valid-fraction F]

``--kbps`` overrides the mode's core rate, e.g. ``--core mp3 --kbps 32`` for the MP3
restoration pairs (paper ``002``). ``--core bandlimit --core-rate 16000`` makes the pairs of
blind extension and HP-codec: the input resampled to 16 kHz and back, not coded.

CORPUS_DIR is any folder of audio, or the output of ``shared/data/tools/make_train_corpus.py``
(its ``manifest.jsonl`` is used). Writes ``CACHE_DIR/<key>/`` (see ``bandgen/data/cache.py``)
and ``CACHE_DIR/<key>/manifest.jsonl`` (the files chosen, with their split). Re-running skips
the files already coded, so an interrupted build resumes. A recipe uses it with
``data.cache_root: CACHE_DIR`` (same core and bitrate, hence the same ``<key>``).
"""

from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from bandgen.audio import WORK_RATE
from bandgen.core import make_core
from bandgen.data.cache import build_cache, cache_dir_for, read_index
from bandgen.data.manifest import scan_corpus, select_hours, write_manifest
from bandgen.train.nsbg_recipe import CORE_KBPS


def main(argv: list[str] | None = None) -> int:
    """Scan, select, code; print a summary line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus_dir")
    ap.add_argument("cache_dir")
    ap.add_argument("--mode", default="12k", choices=sorted(CORE_KBPS))
    ap.add_argument("--core", default="aac")
    ap.add_argument("--kbps", type=float, default=None, help="core rate (default: the mode's)")
    ap.add_argument(
        "--core-rate",
        type=int,
        default=None,
        help="force the core's sampling rate in Hz (--core bandlimit: 16000 = content to 8 kHz)",
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-hours", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0, help="split seed")
    ap.add_argument("--valid-fraction", type=float, default=0.02)
    a = ap.parse_args(argv)

    kbps = CORE_KBPS[a.mode] if a.kbps is None else a.kbps
    core = make_core(a.core, kbps, sample_rate=a.core_rate)
    entries = select_hours(
        scan_corpus(a.corpus_dir, seed=a.seed, valid_fraction=a.valid_fraction), a.max_hours
    )
    out = cache_dir_for(a.cache_dir, core)
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / "manifest.jsonl", entries)
    start = time.perf_counter()
    with tqdm(total=len(entries), unit="file", dynamic_ncols=True) as bar:
        build_cache(a.corpus_dir, entries, a.cache_dir, core, jobs=a.jobs, progress=bar.update)
    items = read_index(out)
    hours = sum(it.num_samples for it in items) / WORK_RATE / 3600
    print(
        f"{out}: {len(items)} items, {hours:.2f} h "
        f"({sum(it.entry.split == 'valid' for it in items)} valid); core {core.params}; "
        f"{time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
