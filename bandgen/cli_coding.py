"""The coding commands of the ``bandgen`` CLI: encode, decode, restore and roundtrip.

Each takes ``IN OUT`` or ``IN... --output FOLDER`` (folders walked, their subfolders
mirrored), ``-`` for stdin/stdout (:mod:`bandgen.cli_files`), refuses to overwrite without
``-f``, and reports in one line per file, nothing (``--quiet``), more (``--verbose``) or JSON
(``--json``). The work is done by :mod:`bandgen.api`; numpy, torch and PyAV are imported only
once a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bandgen.cli_files import (
    AUDIO_SUFFIXES,
    STDIO,
    Job,
    check_overwrite,
    label,
    local_paths,
    make_parent,
    plan_jobs,
)
from bandgen.errors import BandgenError, ConfigError

if TYPE_CHECKING:
    from bandgen.api import DecodeStats

Flags = Callable[[argparse.ArgumentParser], None]
Summary = dict[str, Any]
RunOne = Callable[[Job, argparse.Namespace], Summary]
RunText = Callable[[Summary, bool], str]

BITS = (16, 24, 32)
OUTPUT_FORMATS = ("wav", "flac")


# -- reporting ------------------------------------------------------------------------------------


class Report:
    """Where a command's messages go: stdout, or stderr when stdout carries audio/.bgn data.

    ``--quiet`` prints errors only; ``--json`` prints one JSON document at the end.
    """

    def __init__(self, args: argparse.Namespace, jobs: list[Job]) -> None:
        self.quiet = bool(args.quiet)
        self.verbose = bool(args.verbose)
        self.json = bool(args.json)
        self.stream: TextIO = sys.stderr if any(j.dst == STDIO for j in jobs) else sys.stdout
        self.write: Callable[[str], None] = self._print

    def _print(self, text: str) -> None:
        print(text, file=self.stream)

    def line(self, text: str) -> None:
        """A summary line (not with ``--quiet`` or ``--json``)."""
        if not (self.quiet or self.json):
            self.write(text)

    def warn(self, text: str) -> None:
        """A warning, to stderr (not with ``--quiet``)."""
        if not self.quiet:
            print(f"bandgen: warning: {text}", file=sys.stderr)

    def error(self, text: str) -> None:
        print(f"bandgen: error: {text}", file=sys.stderr)


def show_progress(args: argparse.Namespace) -> bool:
    """``--progress``/``--no-progress``, default: when stderr is a terminal (never quiet)."""
    if getattr(args, "quiet", False) or (getattr(args, "json", False) and args.progress is None):
        return False
    return bool(args.progress or (args.progress is None and sys.stderr.isatty()))


@contextmanager
def progress_bar(total: float, unit: str, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar's ``update`` (or ``None`` when disabled), removed when done."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False) as bar:
        yield bar.update


# -- running jobs ---------------------------------------------------------------------------------


def _single(args: argparse.Namespace, jobs: list[Job]) -> bool:
    return len(jobs) == 1 and args.output is None


def run_jobs(args: argparse.Namespace, jobs: list[Job], one: RunOne, text: RunText) -> int:
    """Run ``one`` over ``jobs``; one bad file is reported and the rest done.

    Returns the exit status: 0, or 1 when some files of several failed. A single file's
    error propagates (the CLI prints it and exits with 2).
    """
    report = Report(args, jobs)
    if _single(args, jobs):
        check_overwrite(jobs[0], force=args.force)
        summary = one(jobs[0], args)
        _emit(report, summary, text)
        if report.json:
            report.write(json.dumps(summary, indent=2))
        return 0
    return _batch(args, jobs, one, text, report)


def _batch(
    args: argparse.Namespace, jobs: list[Job], one: RunOne, text: RunText, report: Report
) -> int:
    start = time.perf_counter()
    results: list[Summary] = []
    failed: list[Summary] = []
    bar: Any = None
    if show_progress(args):
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="file", dynamic_ncols=True, leave=False)
        report.write = bar.write
    try:
        for job in jobs:
            try:
                check_overwrite(job, force=args.force)
                make_parent(job.dst)
                summary = one(job, args)
            except BandgenError as exc:
                failed.append({"input": job.src, "output": job.dst, "error": str(exc)})
                report.error(f"{job.src}: {exc}")
            else:
                results.append(summary)
                _emit(report, summary, text)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
            report.write = report._print
    seconds = time.perf_counter() - start
    if report.json:
        report.write(
            json.dumps(
                {
                    "files": results,
                    "failed": failed,
                    "done": len(results),
                    "errors": len(failed),
                    "seconds": round(seconds, 3),
                },
                indent=2,
            )
        )
    elif not report.quiet:
        names = "" if not failed else ": " + ", ".join(f["input"] for f in failed)
        report.write(
            f"{len(jobs)} files: {len(results)} done, {len(failed)} failed{names}; {seconds:.1f} s"
        )
    return 1 if failed else 0


def _emit(report: Report, summary: Summary, text: RunText) -> None:
    for warning in summary.get("warnings", []):
        report.warn(f"{summary['input']}: {warning}")
    report.line(text(summary, report.verbose))


def _speed(duration_s: float, elapsed: float) -> str:
    return f"{elapsed:.2f} s, {duration_s / max(elapsed, 1e-9):.1f}x real time"


def _clipping(peak: float, clipped: int, rate: int, bits: int | None, fmt: str) -> list[str]:
    if not clipped:
        return []
    import math

    where = (
        "kept in the float WAV (players clip them)"
        if fmt == "wav" and bits in (None, 32)
        else "clipped in the output; write a float WAV (--bits 32) to keep them"
    )
    return [
        f"{clipped / rate:.3f} s of audio went beyond full scale (peak "
        f"{20 * math.log10(peak):+.1f} dBFS): {where}"
    ]


def _out_format(job: Job, args: argparse.Namespace) -> str:
    """The output format: the file's extension, else ``--format`` (default wav)."""
    fmt = args.format
    if job.dst != STDIO:
        ext = Path(job.dst).suffix.lower().lstrip(".")
        if fmt is not None and ext in OUTPUT_FORMATS and ext != fmt:
            raise ConfigError(f"{job.dst} is a .{ext} name but --format is {fmt}")
        fmt = ext
    return fmt or "wav"


# -- encode ---------------------------------------------------------------------------------------


def _encode_one(job: Job, args: argparse.Namespace) -> Summary:
    from bandgen import api
    from bandgen.audio import WORK_RATE
    from bandgen.audio.io import probe

    start = time.perf_counter()
    options = _coder_options(args)
    with local_paths(job, output_suffix=".bgn") as (src, dst):
        info = probe(src)
        total = info.duration_s * WORK_RATE
        with progress_bar(total, "sample", _bar_for_one(args)) as bar:
            stats = api.encode_file(
                src,
                dst,
                bitrate_kbps=args.bitrate,
                core=args.core,
                hf=args.hf,
                progress=bar,
                **options,
            )
        s = api.info(dst)
    core, ch = s.header["core"], stats.channels
    return {
        "input": label(job.src, output=False),
        "output": label(job.dst, output=True),
        "duration_s": round(stats.duration_s, 6),
        "channels": ch,
        "sample_rate": info.sample_rate,
        "bytes": stats.total_bytes,
        "kbps_per_channel": round(s.per_channel_kbps, 3),
        "core_kbps": round(s.core_kbps / ch, 3),
        "side_kbps": round(s.side_kbps / ch, 3),
        "framing_kbps": round(s.overhead_kbps / ch, 3),
        "core": core["name"],
        "core_sample_rate": core["sample_rate"],
        "cutoff_hz": round(core["cutoff_hz"]),
        "hf": _mode(args)[1],
        "seconds": round(time.perf_counter() - start, 3),
    }


def _encode_text(s: Summary, verbose: bool) -> str:
    line = (
        f"{s['input']} -> {s['output']}: {s['duration_s']:.2f} s, {s['channels']} ch, "
        f"{s['kbps_per_channel']:.2f} kbps per channel"
    )
    if verbose:
        line += (
            f" (core {s['core']} {s['core_kbps']:.2f} + side {s['side_kbps']:.2f} + framing "
            f"{s['framing_kbps']:.2f}; core at {s['core_sample_rate']} Hz, cutoff "
            f"{s['cutoff_hz']} Hz, hf {s['hf']})"
        )
    return f"{line}; {_speed(s['duration_s'], s['seconds'])}"


def _bar_for_one(args: argparse.Namespace) -> bool:
    return _single(args, args.jobs) and show_progress(args)


def cmd_encode(args: argparse.Namespace) -> int:
    args.jobs = plan_jobs(args.files, args.output, suffix=".bgn", input_suffixes=AUDIO_SUFFIXES)
    return run_jobs(args, args.jobs, _encode_one, _encode_text)


# -- decode ---------------------------------------------------------------------------------------


def salvage_report(stats: DecodeStats) -> str:
    """What ``decode --salvage`` lost, in one line."""
    parts = [f"damaged stream ({stats.problem})"]
    if stats.gaps:
        parts.append(
            f"{stats.gaps} damaged stretch(es), about {stats.lost_frames} frame(s): "
            f"{stats.lost_s:.2f} s replaced by silence"
        )
    if stats.core_only_s:
        parts.append(f"{stats.core_only_s:.2f} s decoded without the high band")
    if stats.truncated:
        parts.append("the data ends mid-stream: decoded up to the last whole frame")
    return "; ".join(parts)


def _decode_one(job: Job, args: argparse.Namespace) -> Summary:
    from bandgen import api

    start = time.perf_counter()
    fmt = _out_format(job, args)
    with local_paths(job, output_suffix=f".{fmt}") as (src, dst):
        frames = 0
        if _bar_for_one(args):
            frames = int(api.read_header(src).get("num_frames", 0))
        with progress_bar(frames, "frame", _bar_for_one(args)) as bar:
            stats = api.decode_file(
                src,
                dst,
                salvage=args.salvage,
                progress=bar,
                weights=args.weights,
                sample_rate=args.rate,
                bits=args.bits,
            )
    warnings = [salvage_report(stats)] if stats.salvaged else []
    if stats.limited_s:
        warnings.append(
            f"{stats.limited_s:.3f} s of output went beyond +12 dBFS and was limited "
            "(damaged or forged side info?)"
        )
    warnings += _clipping(stats.peak, stats.clipped_samples, stats.sample_rate, args.bits, fmt)
    seconds = stats.num_samples / stats.sample_rate
    return {
        "input": label(job.src, output=False),
        "output": label(job.dst, output=True),
        "duration_s": round(seconds, 6),
        "channels": stats.channels,
        "sample_rate": stats.sample_rate,
        "format": fmt,
        "peak": round(stats.peak, 6),
        "clipped_samples": stats.clipped_samples,
        "salvaged": stats.salvaged,
        "lost_s": round(stats.lost_s, 3),
        "limited_s": round(stats.limited_s, 3),
        "warnings": warnings,
        "seconds": round(time.perf_counter() - start, 3),
    }


def _decode_text(s: Summary, verbose: bool) -> str:
    line = (
        f"{s['input']} -> {s['output']}: {s['duration_s']:.2f} s, {s['channels']} ch at "
        f"{s['sample_rate']} Hz"
    )
    if verbose:
        line += f", {s['format'].upper()}, peak {s['peak']:.3f}"
    return f"{line}; {_speed(s['duration_s'], s['seconds'])}"


def cmd_decode(args: argparse.Namespace) -> int:
    suffix = f".{args.format or 'wav'}"
    args.jobs = plan_jobs(args.files, args.output, suffix=suffix, input_suffixes=(".bgn",))
    return run_jobs(args, args.jobs, _decode_one, _decode_text)


# -- roundtrip ------------------------------------------------------------------------------------


def _roundtrip_one(job: Job, args: argparse.Namespace) -> Summary:
    from bandgen import api

    start = time.perf_counter()
    fmt = _out_format(job, args)
    options = _coder_options(args)
    with local_paths(job, output_suffix=f".{fmt}") as (src, dst):
        stats = api.roundtrip_file(
            src,
            dst,
            bitrate_kbps=args.bitrate,
            core=args.core,
            hf=args.hf,
            sample_rate=args.rate,
            bits=args.bits,
            **options,
        )
    enc, dec = stats.encode, stats.decode
    core, hf = _mode(args)
    duration = dec.num_samples / dec.sample_rate
    kbps = enc.total_bytes * 8 / 1000 / max(enc.duration_s, 1e-9) / enc.channels
    return {
        "input": label(job.src, output=False),
        "output": label(job.dst, output=True),
        "duration_s": round(duration, 6),
        "channels": dec.channels,
        "sample_rate": dec.sample_rate,
        "bytes": enc.total_bytes,
        "kbps_per_channel": round(kbps, 3),
        "side_kbps": round(enc.side_bytes * 8 / 1000 / max(enc.duration_s, 1e-9) / enc.channels, 3),
        "hf": hf,
        "core": core,
        "peak": round(dec.peak, 6),
        "clipped_samples": dec.clipped_samples,
        "warnings": _clipping(dec.peak, dec.clipped_samples, dec.sample_rate, args.bits, fmt),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _roundtrip_text(s: Summary, verbose: bool) -> str:
    line = (
        f"{s['input']} -> {s['output']}: {s['duration_s']:.2f} s, {s['channels']} ch at "
        f"{s['sample_rate']} Hz, coded at {s['kbps_per_channel']:.2f} kbps per channel "
        f"({s['core']} + {s['hf']})"
    )
    if verbose:
        line += f", side info {s['side_kbps']:.2f} kbps"
    return f"{line}; {_speed(s['duration_s'], s['seconds'])}"


def cmd_roundtrip(args: argparse.Namespace) -> int:
    suffix = f".{args.format or 'wav'}"
    args.jobs = plan_jobs(args.files, args.output, suffix=suffix, input_suffixes=AUDIO_SUFFIXES)
    return run_jobs(args, args.jobs, _roundtrip_one, _roundtrip_text)


# -- restore --------------------------------------------------------------------------------------


def model_job(
    job: Job,
    args: argparse.Namespace,
    load: Callable[[], Any],
    process: Callable[[str, str, Any, Any], Any],
) -> tuple[Any, str]:
    """One file of a command that runs a model over audio files (restore, extend).

    Checks the output before the model is loaded, loads it once for all files
    (``load()``, kept in ``args.processor``) and runs ``process(src, dst, model, progress)``
    with a progress bar. Returns ``(process's stats, output format)``.
    """
    from bandgen.audio.io import output_format, probe

    fmt = _out_format(job, args)
    with local_paths(job, output_suffix=f".{fmt}") as (src, dst):
        info = probe(src)
        output_format(dst, args.bits)  # refuse a bad output before loading the model
        if getattr(args, "processor", None) is None:  # one model for all files
            args.processor = load()
        total = info.duration_s * info.sample_rate
        with progress_bar(total, "sample", _bar_for_one(args)) as bar:
            stats = process(src, dst, args.processor, bar)
    return stats, fmt


def model_summary(
    job: Job, args: argparse.Namespace, stats: Any, fmt: str, start: float, model: str
) -> Summary:
    """The summary of one file of :func:`model_job` (``stats``: a ``RestoreStats`` or alike)."""
    seconds = stats.num_samples / stats.sample_rate
    return {
        "input": label(job.src, output=False),
        "output": label(job.dst, output=True),
        "duration_s": round(seconds, 6),
        "channels": stats.channels,
        "sample_rate": stats.sample_rate,
        "input_sample_rate": stats.input_sample_rate,
        "model": model,
        "peak": round(stats.peak, 6),
        "clipped_samples": stats.clipped_samples,
        "warnings": _clipping(stats.peak, stats.clipped_samples, stats.sample_rate, args.bits, fmt),
        "seconds": round(time.perf_counter() - start, 3),
    }


def model_text(s: Summary, verbose: bool) -> str:
    """One line for a file of :func:`model_job`."""
    line = (
        f"{s['input']} -> {s['output']}: {s['duration_s']:.2f} s, {s['channels']} ch at "
        f"{s['sample_rate']} Hz"
    )
    if verbose:
        method = f"method {s['method']}, " if "method" in s else ""
        line += f" (input {s['input_sample_rate']} Hz), {method}model {s['model']}"
    return f"{line}; {_speed(s['duration_s'], s['seconds'])}"


def _restore_one(job: Job, args: argparse.Namespace) -> Summary:
    from bandgen import api

    start = time.perf_counter()
    stats, fmt = model_job(
        job,
        args,
        lambda: api.load_restorer(
            args.model, weights=args.weights, int8=args.int8, chunk_seconds=args.chunk_seconds
        ),
        lambda src, dst, restorer, bar: api.restore_file(
            src, dst, restorer=restorer, progress=bar, sample_rate=args.rate, bits=args.bits
        ),
    )
    return model_summary(job, args, stats, fmt, start, stats.model + (" int8" if args.int8 else ""))


def cmd_restore(args: argparse.Namespace) -> int:
    suffix = f".{args.format or 'wav'}"
    args.jobs = plan_jobs(args.files, args.output, suffix=suffix, input_suffixes=AUDIO_SUFFIXES)
    return run_jobs(args, args.jobs, _restore_one, model_text)


# -- parsers --------------------------------------------------------------------------------------

_FILES_HELP = (
    "IN OUT, or several IN (files or folders) with --output FOLDER; '-' reads stdin or "
    "writes stdout"
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _rate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of Hz, got {text!r}") from None
    if not 1000 <= value <= 768_000:
        raise argparse.ArgumentTypeError(f"must be 1000 to 768000 Hz, got {value}")
    return value


def _common(sp: argparse.ArgumentParser, output_help: str, progress: Flags) -> None:
    sp.add_argument("files", nargs="+", metavar="FILE", help=_FILES_HELP)
    sp.add_argument("-o", "--output", default=None, metavar="PATH", help=output_help)
    sp.add_argument(
        "-f",
        "--force",
        "-y",
        action="store_true",
        help="overwrite existing outputs (default: refuse)",
    )
    talk = sp.add_mutually_exclusive_group()
    talk.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    talk.add_argument("-v", "--verbose", action="store_true", help="print more per file")
    sp.add_argument(
        "--json", action="store_true", help="print a JSON summary (of every file) at the end"
    )
    progress(sp)


def _audio_out(sp: argparse.ArgumentParser, rate_default: str) -> None:
    sp.add_argument(
        "--rate", type=_rate, default=None, metavar="HZ", help=f"output sample rate {rate_default}"
    )
    sp.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="output format for stdout and --output folders (default: from the output's "
        "extension, else wav)",
    )
    sp.add_argument(
        "--bits",
        type=int,
        choices=BITS,
        default=None,
        help="bit depth: 16 or 24 (integer), 32 (float, WAV only); default: 32-bit float WAV, "
        "24-bit FLAC",
    )


def _coder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The coder options of ``--side-kbps`` and ``--weights``, those given."""
    options = {
        "side_kbps": args.side_kbps,
        "weights": args.weights,
        "stereo": getattr(args, "stereo", None),
        "side_share": getattr(args, "side_share", None),
    }
    return {k: v for k, v in options.items() if v is not None}


def _mode(args: argparse.Namespace) -> tuple[str, str]:
    """``(core, hf)`` coded: those named, the rest as :func:`bandgen.defaults.resolve_mode`
    fills them in (``--weights`` and ``--side-kbps`` name the default method)."""
    from bandgen.defaults import resolve_mode

    method_options = args.weights is not None or args.side_kbps is not None
    return resolve_mode(args.core, args.hf, args.bitrate, method_options=method_options)


def _coding_options(sp: argparse.ArgumentParser) -> None:
    from bandgen.defaults import NSBG_FROM_KBPS, OPUS_FROM_KBPS
    from bandgen.hf.registry import DEFAULT_HF, available

    sp.add_argument(
        "-b",
        "--bitrate",
        type=float,
        default=12.0,
        metavar="KBPS",
        help="total bitrate per channel in kbit/s (default 12)",
    )
    sp.add_argument(
        "--core",
        default=None,
        choices=["aac", "opus", "mp3", "spectrostream", "hpcodec"],
        help="codec of the low band (default: with no --hf either, the bitrate's default "
        f"mode: aac + nsbg from {NSBG_FROM_KBPS:g} to below {OPUS_FROM_KBPS:g} kbps, else opus "
        "alone; with --hf, aac); spectrostream: a neural codec of the whole "
        "band, channel pairs coded jointly, no high band (--hf none or left out); hpcodec: the "
        "harmonic/percussive neural codec, each channel alone, 12 kbps full band or 6 kbps up "
        "to 8 kHz (--bitrate 6), no high band",
    )
    sp.add_argument(
        "--hf",
        default=None,
        choices=available(),
        help=f"how the high band is coded: nsbg (neural, shipped models), blind (neural, no "
        f"side info), sbr (classic HE-AAC-style SBR), none (low band only) (default: the "
        f"bitrate's default mode with no --core either, else {DEFAULT_HF}; none for "
        "spectrostream/hpcodec)",
    )
    sp.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="model FILE.safetensors (FILE.json beside it) instead of the shipped one, for "
        "--core spectrostream/hpcodec or --hf nsbg/blind",
    )
    sp.add_argument(
        "--side-kbps",
        type=float,
        default=None,
        metavar="KBPS",
        help="cap the high band's side info (nsbg: in steps of 0.234 kbps); default: the "
        "mode's own",
    )
    sp.add_argument(
        "--stereo",
        default=None,
        choices=["lr", "ms"],
        help="lr: every channel coded on its own (default); ms: joint stereo, a stereo pair "
        "coded as mid and side, the side channel given --side-share of the pair's bits",
    )
    sp.add_argument(
        "--side-share",
        type=float,
        default=None,
        metavar="SHARE",
        help="with --stereo ms, the side channel's share of the pair's bits, 0.05-0.5 "
        "(default 0.3)",
    )


def add_coding_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    progress: Flags,
    threads: Flags,
    formatter: type[argparse.HelpFormatter],
) -> None:
    """The ``encode``, ``decode``, ``roundtrip`` and ``restore`` subcommands."""
    enc = sub.add_parser(
        "encode",
        help="code audio files into .bgn files",
        description="Code audio (any format FFmpeg reads, any rate and channel count) into a "
        ".bgn file: a low-band core codec plus side info for the high band.",
        epilog="examples:\n  bandgen encode song.flac song.bgn --bitrate 16\n"
        "  bandgen encode music/ --output coded/       # every audio file, subfolders kept\n"
        "  ffmpeg -i clip.mp4 -f wav - | bandgen encode - clip.bgn",
        formatter_class=formatter,
    )
    _common(enc, "output .bgn file, or folder for several inputs", progress)
    _coding_options(enc)
    threads(enc)
    enc.set_defaults(run=cmd_encode)

    dec = sub.add_parser(
        "decode",
        help="decode .bgn files to WAV or FLAC",
        description="Decode .bgn files to WAV or FLAC, at the source's sample rate and "
        "channel count unless --rate is given.",
        epilog="examples:\n  bandgen decode song.bgn song.wav\n"
        "  bandgen decode song.bgn song.flac --bits 16 --rate 44100\n"
        "  bandgen decode song.bgn - | aplay\n"
        "  bandgen decode coded/ --output decoded/",
        formatter_class=formatter,
    )
    _common(dec, "output .wav/.flac file, or folder for several inputs", progress)
    _audio_out(dec, "(default: the source's, from the .bgn header)")
    dec.add_argument(
        "--salvage",
        action="store_true",
        help="decode a damaged or truncated file: skip damaged frames (silence with short "
        "fades in their place), resume at the next good one, and report what was lost",
    )
    dec.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="model FILE.safetensors (FILE.json beside it) for a stream coded with a model "
        "that is not shipped with bandgen; a stream never chooses a file by itself",
    )
    threads(dec)
    dec.set_defaults(run=cmd_decode)

    rt = sub.add_parser(
        "roundtrip",
        help="encode and decode in one go, to hear what a bitrate does",
        description="Encode audio and decode it again (the .bgn is not kept): a quick A/B.",
        epilog="example:\n  bandgen roundtrip song.flac song_12k.wav --bitrate 12",
        formatter_class=formatter,
    )
    _common(rt, "output .wav/.flac file, or folder for several inputs", progress)
    _coding_options(rt)
    _audio_out(rt, "(default: the input's)")
    threads(rt)
    rt.set_defaults(run=cmd_roundtrip)

    res = sub.add_parser(
        "restore",
        help="restore low-bitrate MP3s (no side info needed)",
        description="Restore audio damaged by low-bitrate MP3 coding (32 kbps and the like): "
        "a neural model removes coding artefacts and rebuilds the missing high band.",
        epilog="examples:\n  bandgen restore old_32k.mp3 restored.wav\n"
        "  bandgen restore old/ --output restored/ --int8",
        formatter_class=formatter,
    )
    _common(res, "output .wav/.flac file, or folder for several inputs", progress)
    _audio_out(res, "(default: the input's if 44.1 or 48 kHz, else 48 kHz)")
    which = res.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="name of a shipped model (default mp3restore-32k); a name, never a path",
    )
    which.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="your own model: FILE.safetensors with FILE.json beside it (e.g. a training run's "
        "best.safetensors)",
    )
    res.add_argument(
        "--int8", action="store_true", help="int8 model: smaller and faster, nearly the same"
    )
    res.add_argument(
        "--chunk-seconds",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="audio per network call; bounds memory, output unchanged (default 10)",
    )
    threads(res)
    res.set_defaults(run=cmd_restore)
