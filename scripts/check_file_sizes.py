"""Refuse files over 5 MB in the repository outside the places big files may live.

usage: python scripts/check_file_sizes.py [--root DIR] [--limit-mb 5]

Checks every file git would commit: the tracked tree plus untracked files that ``.gitignore``
does not exclude (``git ls-files --cached --others --exclude-standard``). Files may exceed
the limit only under ``bandgen/pretrained/`` (released weights) and as ``training/<run>/resume.*``
(a run's resume state; keep it small: see the README's training section). Exits 1 and names
each offending file, else 0. ``.ci/run`` calls it before the tests. Standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
from pathlib import Path

ALLOWED = ("bandgen/pretrained/*", "training/*/resume.*")
"""Path patterns (``fnmatch``, relative to the root) that may hold files over the limit."""


def repo_files(root: Path) -> list[str]:
    """Tracked and committable untracked files of the git work tree at ``root``."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    return sorted({p for p in out.decode().split("\0") if p})


def oversized(root: Path, limit_bytes: int) -> list[tuple[str, int]]:
    """``(path, bytes)`` of the files over ``limit_bytes`` outside :data:`ALLOWED`."""
    found = []
    for rel in repo_files(root):
        path = root / rel
        if not path.is_file() or any(fnmatch.fnmatchcase(rel, pat) for pat in ALLOWED):
            continue
        size = path.stat().st_size
        if size > limit_bytes:
            found.append((rel, size))
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the offending files; 1 if there are any."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--limit-mb", type=float, default=5.0)
    a = ap.parse_args(argv)
    bad = oversized(a.root, int(a.limit_mb * 1e6))
    for rel, size in bad:
        print(
            f"check_file_sizes: error: {rel} is {size / 1e6:.1f} MB, over the {a.limit_mb:g} MB "
            f"limit outside {', '.join(ALLOWED)}; keep it out of the repository",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
