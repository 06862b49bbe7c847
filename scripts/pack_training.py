"""Carry a training run to a bare GPU machine and its weights back (``scripts/gpu_train.sh``).

usage:
  python scripts/pack_training.py pack RECIPE PACK [--cache-root DIR] [--data-mb 40]
                                       [--max-mb 55] [--num-workers 4]
  python scripts/pack_training.py shard RUN_DIR OUT [--max-file-mb 16] [--max-files 8]
  python scripts/pack_training.py join DIR

``pack`` writes a self-contained folder: ``code/`` (the ``bandgen`` package without its shipped
weights and audio, and ``recipes/``), ``cache/<key>/`` (a packed subset of the recipe's
core-coded cache, at most ``--data-mb``: int16 ``.npy`` items, see
:mod:`bandgen.data.packed`), ``recipe.yaml`` (the recipe with its data pointed at that cache
and validation on its ``valid`` items; paths relative to the pack) and, for a warm start,
``init.safetensors`` (the recipe's ``schedule.init_from``). The GPU machine needs only torch, numpy,
safetensors and pyyaml to train from it: no PyAV, soundfile or soxr. It refuses to write a
pack over ``--max-mb``.

``shard`` copies what a run brings back into OUT: ``log.jsonl`` and every ``.json``, and each
``.safetensors`` whole when it fits ``--max-file-mb``, else split into parts
(``NAME.part-K-of-N.safetensors``, each a subset of the tensors with the file's metadata);
it refuses to write more than ``--max-files`` files. ``join`` puts the parts back together.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[1]
SKIP = ("*.safetensors", "*.flac", "*.wav", "*.mp3", "__pycache__", "*.pyc")
"""What the code copy leaves out (shipped weights and audio are not needed to train)."""
PART = re.compile(r"^(?P<name>.+)\.part-(?P<k>\d+)-of-(?P<n>\d+)\.safetensors$")


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def pack(a: argparse.Namespace) -> Path:
    """Write the pack folder (module docstring); returns it."""
    from bandgen.core import make_core
    from bandgen.data.cache import cache_dir_for
    from bandgen.data.packed import pack_cache
    from bandgen.train.recipe import load_recipe

    recipe = load_recipe(a.recipe)
    data = recipe.data
    cache = cache_dir_for(a.cache_root or data.cache_root, make_core(data.core, data.core_kbps))
    if not (cache / "index.jsonl").exists():
        sys.exit(f"pack_training: error: no cache at {cache}; build it with scripts/build_cache.py")
    out = Path(a.pack)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(
        REPO / "bandgen", out / "code" / "bandgen", ignore=shutil.ignore_patterns(*SKIP)
    )
    shutil.copytree(REPO / "recipes", out / "code" / "recipes")
    pack_cache(cache, out / "cache", max_mb=a.data_mb)
    rel = Path(a.recipe).resolve().relative_to(REPO / "recipes")
    overlay: dict[str, dict[str, object] | str] = {
        "base": f"code/recipes/{rel.as_posix()}",
        "data": {
            "cache_root": "cache",
            "corpus_dir": "corpus",  # not needed: the cache exists
            "dev_dir": None,  # validate on the pack's valid items
            "num_workers": a.num_workers,
        },
    }
    init = recipe.schedule.init_from
    if init is not None:  # a warm start travels with the pack
        shutil.copyfile(init, out / "init.safetensors")
        overlay["schedule"] = {"init_from": "init.safetensors"}
    (out / "recipe.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    size = _size_mb(out)
    if size > a.max_mb:
        shutil.rmtree(out)
        sys.exit(f"pack_training: error: the pack would be {size:.1f} MB, over {a.max_mb:g} MB")
    print(f"{out}: {size:.1f} MB (cache {_size_mb(out / 'cache'):.1f} MB)")
    return out


def _groups(path: Path, limit: int) -> list[list[str]]:
    """Tensor names of ``path`` in groups of at most ``limit`` bytes (one tensor may exceed)."""
    groups: list[list[str]] = [[]]
    used = 0
    for key, t in sorted(load_file(str(path)).items()):
        size = t.numel() * t.element_size()
        if used and used + size > limit:
            groups.append([])
            used = 0
        groups[-1].append(key)
        used += size
    return groups


def shard(a: argparse.Namespace) -> list[Path]:
    """Copy a run folder's results into OUT within the file limits (module docstring)."""
    run, out = Path(a.run_dir), Path(a.out)
    limit = int(a.max_file_mb * 1e6)
    plan: list[tuple[Path, list[str] | None, str]] = []
    for path in sorted(run.glob("*.json")) + sorted(run.glob("*.jsonl")):
        plan.append((path, None, path.name))
    for path in sorted(run.glob("*.safetensors")):
        if path.stat().st_size <= limit:
            plan.append((path, None, path.name))
            continue
        groups = _groups(path, int(0.98 * limit))  # room for the header and metadata
        for k, keys in enumerate(groups, 1):
            plan.append((path, keys, f"{path.stem}.part-{k}-of-{len(groups)}.safetensors"))
    if len(plan) > a.max_files:
        sys.exit(
            f"pack_training: error: {len(plan)} files to bring back, over {a.max_files}: "
            "train with a smaller resume file (--resume-half, --resume-omit discriminator)"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, keys, name in plan:
        if keys is None:
            shutil.copyfile(path, out / name)
        else:
            with safe_open(str(path), framework="pt") as f:
                tensors = {k: f.get_tensor(k) for k in keys}
                meta = f.metadata()
            save_file(tensors, str(out / name), metadata=meta)
        if (out / name).stat().st_size > limit:
            sys.exit(f"pack_training: error: {name} is over {a.max_file_mb:g} MB")
        written.append(out / name)
    return written


def join(a: argparse.Namespace) -> list[Path]:
    """Merge every ``NAME.part-K-of-N.safetensors`` set in DIR into ``NAME.safetensors``."""
    folder = Path(a.dir)
    sets: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.part-*-of-*.safetensors")):
        m = PART.match(path.name)
        if m:
            sets.setdefault(m["name"], []).append(path)
    joined = []
    for name, parts in sets.items():
        count = int(PART.match(parts[0].name)["n"])  # type: ignore[index]
        if len(parts) != count:
            sys.exit(f"pack_training: error: {name} has {len(parts)} of its {count} parts")
        tensors = {}
        for part in parts:
            tensors.update(load_file(str(part)))
        with safe_open(str(parts[0]), framework="pt") as f:
            meta = f.metadata()
        save_file(tensors, str(folder / f"{name}.safetensors"), metadata=meta)
        for part in parts:
            part.unlink()
        joined.append(folder / f"{name}.safetensors")
    return joined


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="write a self-contained training pack")
    p.add_argument("recipe", help="a recipe under recipes/")
    p.add_argument("pack", help="output folder (replaced)")
    p.add_argument("--cache-root", default=None, help="default: the recipe's data.cache_root")
    p.add_argument("--data-mb", type=float, default=40.0)
    p.add_argument("--max-mb", type=float, default=55.0)
    p.add_argument("--num-workers", type=int, default=4)
    s = sub.add_parser("shard", help="copy a run's results within the file limits")
    s.add_argument("run_dir")
    s.add_argument("out")
    s.add_argument("--max-file-mb", type=float, default=16.0)
    s.add_argument("--max-files", type=int, default=8)
    j = sub.add_parser("join", help="reassemble sharded safetensors files")
    j.add_argument("dir")
    a = ap.parse_args(argv)
    {"pack": pack, "shard": shard, "join": join}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
