"""Run an evaluation: code every reference clip with every codec spec and measure the result.

``run_eval`` is what ``bandgen eval REFS --codecs ... --out DIR`` calls. Work is one task per
(clip, spec) pair, spread over ``jobs`` worker processes. Each finished pair is written at once
to ``DIR/results/<spec>/<clip>.json``, so an interrupted or repeated run skips the pairs whose
result is already there with the same reference file, spec and metric settings and all the
metrics asked for (for a ``files`` spec, also the same coded file and lag setting). Decoded audio of the example clips (``examples`` per category, and all
clips with ``keep_audio``) goes to ``DIR/audio/<spec>/<clip>.flac`` for listening and for the
spectrogram figures.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bandgen.audio.io import AtomicFile, read_audio, write_audio
from bandgen.audio.resample import resample
from bandgen.core.align import find_lag
from bandgen.errors import ConfigError
from bandgen.eval import specs as spec_module
from bandgen.eval.files import FilesCodec, missing_files
from bandgen.eval.measures import MeasureConfig, compute
from bandgen.eval.specs import EVAL_RATE, CodecSpec, ExtCodec

__all__ = [
    "AUDIO_EXTENSIONS",
    "Clip",
    "EvalConfig",
    "EvalResult",
    "find_clips",
    "load_reference",
    "run_eval",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff")
"""File types picked up in a references folder."""


@dataclass(frozen=True)
class Clip:
    """A reference clip: ``id`` (file stem), ``path`` and ``category`` (speech/music/sound/...)."""

    id: str
    path: Path
    category: str


def _manifest_categories(refs: Path) -> dict[str, str]:
    manifest = refs / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        clips = json.loads(manifest.read_text())["clips"]
        return {str(c["id"]): str(c["category"]) for c in clips}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{manifest}: expected {{'clips': [{{'id', 'category'}}, ...]}} ({exc})"
        ) from None


def _category(stem: str, manifest: dict[str, str]) -> str:
    """From ``manifest.json`` if listed there, else the file name ``<prefix>_<category>_...``."""
    if stem in manifest:
        return manifest[stem]
    parts = stem.split("_")
    return parts[1] if len(parts) >= 3 and parts[1].isalpha() else "all"


def find_clips(refs: str | os.PathLike[str]) -> list[Clip]:
    """The audio files directly inside folder ``refs``, sorted by name, with their categories."""
    folder = Path(refs)
    if not folder.is_dir():
        raise ConfigError(f"references folder {folder} does not exist or is not a folder")
    manifest = _manifest_categories(folder)
    paths = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
    )
    if not paths:
        raise ConfigError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {folder}")
    return [Clip(p.stem, p, _category(p.stem, manifest)) for p in paths]


def load_reference(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a file as float32 ``[C, T]`` at 48 kHz (resampled with soxr if needed)."""
    wav, rate = read_audio(path)
    return resample(wav, rate, EVAL_RATE)


@dataclass(frozen=True)
class EvalConfig:
    """Everything a run needs. ``examples``: clips per category whose decoded audio is kept.

    ``ext`` and ``files`` hold the ``--ext`` and ``--files`` declarations by name.
    """

    refs: Path
    out: Path
    specs: tuple[CodecSpec, ...]
    metrics: tuple[str, ...]
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    ext: dict[str, ExtCodec] = field(default_factory=dict)
    files: dict[str, FilesCodec] = field(default_factory=dict)
    jobs: int = 1
    examples: int = 1
    keep_audio: bool = False


@dataclass(frozen=True)
class _Task:
    clip: Clip
    spec: CodecSpec
    config: EvalConfig
    save_audio: bool

    @property
    def result_path(self) -> Path:
        return self.config.out / "results" / self.spec.slug / f"{self.clip.id}.json"

    @property
    def audio_path(self) -> Path:
        return audio_path(self.config.out, self.spec, self.clip.id)


def audio_path(out: Path, spec: CodecSpec, clip_id: str) -> Path:
    """Where the decoded audio of ``clip_id`` under ``spec`` is kept."""
    return out / "audio" / spec.slug / f"{clip_id}.flac"


@dataclass
class EvalResult:
    """What a run produced: one record per (clip, spec), and how much work was done."""

    records: list[dict[str, Any]]
    coded: int
    reused: int
    seconds: float
    clips: list[Clip]
    examples: list[Clip]


def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _coded_file(task: _Task) -> dict[str, Any] | None:
    """Identity of the file a ``files`` spec reads for this clip (``None`` for other specs)."""
    if task.spec.kind != "files":
        return None
    codec = task.config.files[task.spec.method]
    path = codec.path(task.clip.id, task.spec.kbps)
    return {"path": str(path), "lag": codec.lag, **_fingerprint(path)}


def _cached(task: _Task) -> dict[str, Any] | None:
    try:
        record = json.loads(task.result_path.read_text())
    except (OSError, ValueError):
        return None
    fresh = (
        record.get("spec") == task.spec.text
        and record.get("reference") == _fingerprint(task.clip.path)
        and record.get("coded_file") == _coded_file(task)
        and record.get("measure") == task.config.measure.as_dict()
        and set(task.config.metrics) <= set(record.get("metrics", {}))
        and (not task.save_audio or task.audio_path.is_file())
    )
    return record if fresh else None


def _evaluate(task: _Task) -> dict[str, Any]:
    """Code one clip with one spec, measure it, and write its result file."""
    ref = load_reference(task.clip.path)
    coded = spec_module.code(
        task.spec, ref, task.config.ext, clip_id=task.clip.id, files=task.config.files
    )
    metrics = compute(list(task.config.metrics), ref, coded.wav, EVAL_RATE, task.config.measure)
    # alignment is checked, never assumed: a lag would bias every sample-wise metric
    lag = find_lag(ref.mean(axis=0), coded.wav.mean(axis=0), max_lag=EVAL_RATE // 10)
    if task.save_audio:
        task.audio_path.parent.mkdir(parents=True, exist_ok=True)
        # 24-bit FLAC: clip rather than let out-of-range samples wrap
        write_audio(task.audio_path, np.clip(coded.wav, -1.0, 1.0), EVAL_RATE)
    record = {
        "clip": task.clip.id,
        "category": task.clip.category,
        "spec": task.spec.text,
        "family": task.spec.family,
        "nominal_kbps": task.spec.kbps,
        "kbps": coded.kbps,
        "code_seconds": coded.seconds,
        "lag_samples": lag,
        **coded.info,
        "reference": _fingerprint(task.clip.path),
        "coded_file": _coded_file(task),
        "measure": task.config.measure.as_dict(),
        "metrics": metrics,
    }
    task.result_path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(task.result_path) as target:
        Path(target.tmp_path).write_text(json.dumps(record, indent=1))
    return record


def _init_worker() -> None:
    """One thread per worker process: the jobs are the parallelism."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # torch is optional for the metrics themselves
        pass


def _pick_examples(clips: list[Clip], per_category: int) -> list[Clip]:
    chosen: dict[str, list[Clip]] = {}
    for clip in clips:
        group = chosen.setdefault(clip.category, [])
        if len(group) < per_category:
            group.append(clip)
    return [c for group in chosen.values() for c in group]


def _run_tasks(tasks: list[_Task], jobs: int, progress: bool) -> Iterator[dict[str, Any]]:
    from tqdm import tqdm

    with tqdm(total=len(tasks), unit="pair", disable=not progress, dynamic_ncols=True) as bar:
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                bar.set_postfix_str(f"{task.clip.id} {task.spec.text}", refresh=False)
                yield _evaluate(task)
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(jobs, len(tasks)), initializer=_init_worker) as pool:
            for record in pool.imap_unordered(_evaluate, tasks):
                bar.set_postfix_str(f"{record['clip']} {record['spec']}", refresh=False)
                bar.update()
                yield record


def _check_files(config: EvalConfig, clips: list[Clip]) -> None:
    """Refuse a ``files`` spec that lacks the file of any clip, naming the missing files."""
    for spec in config.specs:
        if spec.kind != "files":
            continue
        missing = missing_files(config.files[spec.method], spec.kbps, [c.id for c in clips])
        if missing:
            shown = ", ".join(str(p) for p in missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise ConfigError(
                f"{spec.text}: {len(missing)} of {len(clips)} clips have no file "
                f"(pattern {config.files[spec.method].pattern}): {shown}"
            )


def run_eval(config: EvalConfig, *, progress: bool = False) -> EvalResult:
    """Evaluate every (clip, spec) pair not already in the cache, then return all records.

    Raises:
        ConfigError: no clips, a spec that cannot be built, or a ``files`` spec with a file
            missing (all checked before any work).
    """
    start = time.perf_counter()
    clips = find_clips(config.refs)
    for spec in config.specs:
        spec_module.validate(spec)
    _check_files(config, clips)
    examples = _pick_examples(clips, config.examples)
    keep = {c.id for c in examples}
    tasks = [
        _Task(clip, spec, config, config.keep_audio or clip.id in keep)
        for clip in clips
        for spec in config.specs
    ]
    records: dict[tuple[str, str], dict[str, Any]] = {}
    todo = []
    for task in tasks:
        cached = _cached(task)
        if cached is None:
            todo.append(task)
        else:
            records[(task.clip.id, task.spec.text)] = cached
    for record in _run_tasks(todo, config.jobs, progress):
        records[(record["clip"], record["spec"])] = record
    ordered = [records[(t.clip.id, t.spec.text)] for t in tasks]
    return EvalResult(
        ordered, len(todo), len(tasks) - len(todo), time.perf_counter() - start, clips, examples
    )
