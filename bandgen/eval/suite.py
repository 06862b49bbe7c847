"""Front doors of the evaluation: :func:`evaluate` (``bandgen eval``) and :func:`compare` (``bandgen compare``).

Output of :func:`evaluate` in ``out``::

    per_file.csv            one row per (clip, spec): measured kbps, core facts, metrics
    summary.csv, summary.md mean and 95 % CI per (spec, category) and over all clips
    plots/rd_<metric>.png   rate-distortion curves per category
    plots/spec_<clip>.png   spectrograms of the example clips: reference and every spec
    results/<spec>/<clip>.json   the per-pair cache that makes reruns resumable
    audio/<spec>/<clip>.flac     decoded example clips (all clips with keep_audio)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bandgen.errors import ConfigError
from bandgen.eval.files import FilesCodec, parse_files
from bandgen.eval.measures import MeasureConfig, compute, parse_metrics
from bandgen.eval.plots import Panel, plot_rate_distortion, plot_spectrograms
from bandgen.eval.report import SummaryRow, write_tables
from bandgen.eval.run import EvalConfig, EvalResult, audio_path, load_reference, run_eval
from bandgen.eval.specs import EVAL_RATE, ExtCodec, parse_ext, parse_spec

__all__ = ["EvalReport", "compare", "evaluate"]


@dataclass
class EvalReport:
    """A finished evaluation: the run (records, work done) and the summary rows."""

    result: EvalResult
    summary: list[SummaryRow]
    metrics: list[str]
    out: Path


def evaluate(
    refs: str | os.PathLike[str],
    codecs: Sequence[str],
    out: str | os.PathLike[str],
    *,
    metrics: str | None = None,
    ext: Sequence[str] = (),
    files: Sequence[str] = (),
    jobs: int = 1,
    split_hz: float = 4000.0,
    ref_lowpass_hz: float | None = None,
    examples: int = 1,
    keep_audio: bool = False,
    plots: bool = True,
    progress: bool = False,
) -> EvalReport:
    """Code every clip in ``refs`` with every codec spec, measure, and write tables and plots.

    Args:
        refs: folder of reference audio (any rate; resampled to 48 kHz).
        codecs: specs such as ``"none:16"``, ``"aac:16"``, ``"ext:mine:12"``,
            ``"files:heaac:12"`` (:mod:`.specs`).
        out: output folder (created); rerunning with the same folder resumes.
        metrics: comma-separated metric names (:data:`.measures.MEASURES`); default
            ``lsd,lsd_lo,lsd_hi,mel``.
        ext: ``NAME='ENCODE|DECODE'`` declarations of external codecs (:func:`.specs.parse_ext`).
        files: ``NAME[@LAG]=PATTERN`` declarations of other codecs' files
            (:func:`.files.parse_files`), e.g.
            ``heaac@3009=../shared/anchors/he-aac-v1/dev/{clip}_{kbps}k.m4a``.
        jobs: worker processes.
        split_hz: boundary of ``lsd_lo`` / ``lsd_hi`` in Hz.
        ref_lowpass_hz: low-pass the references here before measuring (None: full band).
        examples: clips per category whose decoded audio is kept and plotted.
        keep_audio: keep the decoded audio of every clip.
        plots: write the PNG figures.
        progress: show a progress bar on stderr.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    externals: dict[str, ExtCodec] = {e.name: e for e in map(parse_ext, ext)}
    folders: dict[str, FilesCodec] = {f.name: f for f in map(parse_files, files)}
    specs = tuple(dict.fromkeys(parse_spec(c, externals, folders) for c in codecs))
    if not specs:
        raise ConfigError("give at least one codec spec, e.g. --codecs none:16,aac:16")
    names = parse_metrics(metrics)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    config = EvalConfig(
        refs=Path(refs),
        out=folder,
        specs=specs,
        metrics=tuple(names),
        measure=MeasureConfig(split_hz=split_hz, ref_lowpass_hz=ref_lowpass_hz),
        ext=externals,
        files=folders,
        jobs=jobs,
        examples=examples,
        keep_audio=keep_audio,
    )
    result = run_eval(config, progress=progress)
    summary = write_tables(result.records, names, folder)
    if plots:
        plot_rate_distortion(summary, names, folder / "plots")
        by_pair = {(r["clip"], r["spec"]): r for r in result.records}
        for clip in result.examples:
            panels = [Panel("reference", load_reference(clip.path), EVAL_RATE, {})]
            for spec in specs:
                wav = load_reference(audio_path(folder, spec, clip.id))
                record = by_pair[(clip.id, spec.text)]
                label = f"{spec.text} ({record['kbps']:.1f} kbps)"
                panels.append(Panel(label, wav, EVAL_RATE, record["metrics"]))
            plot_spectrograms(panels, folder / "plots" / f"spec_{clip.id}.png", title=clip.id)
    return EvalReport(result, summary, names, folder)


def compare(
    reference: str | os.PathLike[str],
    tests: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    metrics: str | None = None,
    split_hz: float = 4000.0,
    ref_lowpass_hz: float | None = None,
) -> list[tuple[str, dict[str, float]]]:
    """Plot the spectrograms of ``reference`` and each test file side by side with their metrics.

    All files are read and resampled to 48 kHz; each test must have the reference's length and
    channel count (a :class:`ConfigError` says both otherwise).

    Returns:
        ``[(test path, {metric: value}), ...]``.
    """
    if not tests:
        raise ConfigError("give at least one file to compare with the reference")
    names = parse_metrics(metrics)
    measure = MeasureConfig(split_hz=split_hz, ref_lowpass_hz=ref_lowpass_hz)
    ref = load_reference(reference)
    panels = [Panel(f"reference: {Path(reference).name}", ref, EVAL_RATE, {})]
    scores = []
    unique = len({Path(t).name for t in tests}) == len(tests)
    for test in tests:
        wav = load_reference(test)
        try:
            values = compute(names, ref, wav, EVAL_RATE, measure)
        except ConfigError as exc:
            raise ConfigError(f"{test}: {exc}") from None
        label = Path(test).name if unique else f"{Path(test).parent.name}/{Path(test).name}"
        panels.append(Panel(label, wav, EVAL_RATE, values))
        scores.append((str(test), values))
    plot_spectrograms(panels, Path(output))
    return scores
