"""The ``bandgen`` command line: thin argparse front end over :mod:`bandgen.api`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bandgen import __version__
from bandgen.audio import WORK_RATE
from bandgen.errors import BandgenError
from bandgen.threads import default_threads, set_threads

if TYPE_CHECKING:
    from bandgen.api import DecodeStats


@contextmanager
def _progress_bar(total: float, unit: str, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False) as bar:
        yield bar.update


def _show_progress(args: argparse.Namespace) -> bool:
    return bool(args.progress or (args.progress is None and sys.stderr.isatty()))


def _cmd_encode(args: argparse.Namespace) -> None:
    from bandgen import api
    from bandgen.audio.io import probe

    info = probe(args.input)
    start = time.perf_counter()
    total = info.duration_s * WORK_RATE or None
    hf_options = {} if args.side_kbps is None else {"side_kbps": args.side_kbps}
    with _progress_bar(total or 0, "sample", _show_progress(args)) as update:
        stats = api.encode_file(
            args.input,
            args.output,
            bitrate_kbps=args.bitrate,
            core=args.core,
            hf=args.hf,
            progress=update,
            **hf_options,
        )
    elapsed = time.perf_counter() - start
    summary = api.info(args.output)
    core = summary.header["core"]
    print(
        f"{args.input} -> {args.output}: {stats.duration_s:.2f} s, {stats.channels} ch, "
        f"{summary.per_channel_kbps:.2f} kbps per channel (core {core['name']} "
        f"{summary.core_kbps / stats.channels:.2f} + side {summary.side_kbps / stats.channels:.2f}"
        f" + framing {summary.overhead_kbps / stats.channels:.2f}; core at {core['sample_rate']} Hz,"
        f" cutoff {core['cutoff_hz']:.0f} Hz, hf {args.hf}); "
        f"{elapsed:.2f} s ({stats.duration_s / max(elapsed, 1e-9):.1f}x real time)"
    )


def _cmd_decode(args: argparse.Namespace) -> None:
    from bandgen import api

    start = time.perf_counter()
    frames = 0
    if _show_progress(args):
        frames = int(api.read_header(args.input).get("num_frames", 0))
    with _progress_bar(frames, "frame", _show_progress(args)) as update:
        stats = api.decode_file(
            args.input, args.output, salvage=args.salvage, progress=update, weights=args.weights
        )
    elapsed = time.perf_counter() - start
    seconds = stats.num_samples / WORK_RATE
    if stats.salvaged:
        print(f"warning: {_salvage_report(stats)}", file=sys.stderr)
    if stats.limited_s:
        print(
            f"warning: {stats.limited_s:.3f} s of output went beyond +12 dBFS and was limited "
            "(damaged or forged side info?)",
            file=sys.stderr,
        )
    print(
        f"{args.input} -> {args.output}: {seconds:.2f} s, {stats.channels} ch at {WORK_RATE} Hz; "
        f"{elapsed:.2f} s ({seconds / max(elapsed, 1e-9):.1f}x real time)"
    )


def _salvage_report(stats: DecodeStats) -> str:
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


def _cmd_restore(args: argparse.Namespace) -> None:
    from bandgen import api
    from bandgen.audio.io import output_format, probe

    info = probe(args.input)
    output_format(args.output)  # refuse a bad output name before loading the model
    start = time.perf_counter()
    restorer = api.load_restorer(
        args.model, weights=args.weights, int8=args.int8, chunk_seconds=args.chunk_seconds
    )
    total = info.duration_s * info.sample_rate
    with _progress_bar(total, "sample", _show_progress(args)) as update:
        stats = api.restore_file(args.input, args.output, restorer=restorer, progress=update)
    elapsed = time.perf_counter() - start
    seconds = stats.num_samples / stats.sample_rate
    print(
        f"{args.input} -> {args.output}: {seconds:.2f} s, {stats.channels} ch at "
        f"{stats.sample_rate} Hz (input {stats.input_sample_rate} Hz), model {stats.model}"
        f"{' int8' if args.int8 else ''}; {elapsed:.2f} s "
        f"({seconds / max(elapsed, 1e-9):.1f}x real time)"
    )


def _cmd_info(args: argparse.Namespace) -> None:
    from bandgen import api

    s = api.info(args.input)
    if args.json:
        print(json.dumps({**s.__dict__}, indent=2))
        return
    h = s.header
    core, hf = h["core"], h["hf"]
    ch = int(h["channels"])
    print(
        f"file:        {args.input} ({s.file_bytes} bytes, format bandgen {h['bandgen_version']})"
    )
    print(
        f"audio:       {s.duration_s:.3f} s, {ch} ch, {h['sample_rate']} Hz out"
        f" (source {h['source_sample_rate']} Hz), {h['num_frames']} frames"
    )
    print(
        f"core:        {core['name']} at {core['sample_rate']} Hz, cutoff {core['cutoff_hz']:.0f} Hz,"
        f" asked {core['bitrate'] / 1000:.2f} kbps/ch"
    )
    print(f"high band:   {hf['method']} {json.dumps(hf.get('config', {}))}")
    print(f"target:      {h['bitrate_kbps']:.2f} kbps per channel")
    print(
        f"measured:    {s.per_channel_kbps:.2f} kbps per channel = core {s.core_kbps / ch:.2f}"
        f" + side info {s.side_kbps / ch:.2f} + framing {s.overhead_kbps / ch:.2f}"
    )


def _cmd_models(args: argparse.Namespace) -> None:
    from bandgen.pretrained.catalog import shipped_models

    models = shipped_models()
    if args.json:
        print(json.dumps([m.__dict__ for m in models], indent=2))
        return
    rows = [("name", "kind", "mode", "parameters", "MB", "dev set (all clips)")]
    for m in models:
        dev = ", ".join(f"{k} {v:g}" for k, v in m.dev.items()) or "-"
        rows.append((m.name, m.kind, m.mode, f"{m.parameters:,}", f"{m.size_mb:.2f}", dev))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )


def _cmd_eval(args: argparse.Namespace) -> None:
    from bandgen.eval import evaluate

    report = evaluate(
        args.refs,
        [c for c in args.codecs.split(",") if c.strip()],
        args.out,
        metrics=args.metrics,
        ext=args.ext,
        files=args.files,
        jobs=args.jobs,
        split_hz=args.split_hz,
        ref_lowpass_hz=args.ref_lowpass,
        examples=args.examples,
        keep_audio=args.keep_audio,
        plots=not args.no_plots,
        progress=_show_progress(args),
    )
    run = report.result
    print((report.out / "summary.md").read_text())
    print(
        f"{len(run.records)} (clip, codec) pairs: {run.coded} coded, {run.reused} from the cache "
        f"in {report.out}/results; {run.seconds:.1f} s"
    )


def _cmd_compare(args: argparse.Namespace) -> None:
    from bandgen.eval import compare

    for path, values in compare(
        args.reference,
        args.tests,
        args.output,
        metrics=args.metrics,
        split_hz=args.split_hz,
        ref_lowpass_hz=args.ref_lowpass,
    ):
        print(path + ": " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    print(f"figure: {args.output}")


def _add_eval_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    progress_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    """The ``eval`` and ``compare`` subcommands (logic in :mod:`bandgen.eval`)."""
    from bandgen.eval.measures import DEFAULT_METRICS, MEASURES

    metrics_help = (
        f"comma-separated, from {','.join(MEASURES)} (default {','.join(DEFAULT_METRICS)})"
    )

    def measure_flags(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--metrics", default=None, help=metrics_help)
        sp.add_argument(
            "--split-hz", type=float, default=4000.0, help="lsd_lo/lsd_hi boundary (default 4000)"
        )
        sp.add_argument(
            "--ref-lowpass",
            type=float,
            default=None,
            metavar="HZ",
            help="low-pass the reference to the coded bandwidth before measuring",
        )

    ev = sub.add_parser("eval", help="code a folder of clips with several codecs; tables + plots")
    ev.add_argument("refs", help="folder of reference audio files (manifest.json optional)")
    ev.add_argument(
        "--codecs",
        required=True,
        help="comma-separated specs: METHOD:KBPS[:CORE] (e.g. none:16, sbr:12:opus), "
        "anchors aac|opus|mp3:KBPS[:RATE], ext:NAME:KBPS, files:NAME:KBPS",
    )
    ev.add_argument("--out", required=True, help="output folder; a rerun resumes from its cache")
    ev.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ev.add_argument(
        "--ext",
        action="append",
        default=[],
        metavar="NAME='ENC|DEC'",
        help="external codec, e.g. NAME='enc {in} {out} {kbps}|dec {in} {out}' "
        "(run without a shell; encode reads a 48 kHz WAV, decode writes a WAV)",
    )
    ev.add_argument(
        "--files",
        action="append",
        default=[],
        metavar="NAME[@LAG]=PATTERN",
        help="another codec's files for files:NAME:KBPS, e.g. "
        "heaac@3009=anchors/{clip}_{kbps}k.m4a: decoded with PyAV, LAG (48 kHz samples, "
        "default auto = cross-correlation) removed, cut to the reference; rate = packet payload",
    )
    ev.add_argument("--examples", type=int, default=1, help="clips per category to plot/keep")
    ev.add_argument("--keep-audio", action="store_true", help="keep every decoded clip (FLAC)")
    ev.add_argument("--no-plots", action="store_true", help="write tables only")
    measure_flags(ev)
    progress_flags(ev)
    ev.set_defaults(run=_cmd_eval)

    cmp = sub.add_parser(
        "compare", help="spectrograms of a reference and coded files, with metrics"
    )
    cmp.add_argument("reference")
    cmp.add_argument("tests", nargs="+", help="files to compare (same length and channels)")
    cmp.add_argument("-o", "--output", required=True, help="PNG to write")
    measure_flags(cmp)
    cmp.set_defaults(run=_cmd_compare)


def _cmd_train(args: argparse.Namespace) -> None:
    from bandgen.train.run import train

    losses = train(
        args.recipe,
        args.out,
        resume=args.resume,
        progress=_show_progress(args),
        resume_half=args.resume_half,
        resume_omit=tuple(args.resume_omit),
    )
    if losses:
        print(" ".join(f"{k}={v:.4g}" for k, v in sorted(losses.items())))


def _add_train_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    progress_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    tr = sub.add_parser(
        "train", help="train a model from a YAML recipe (run under torchrun for several GPUs)"
    )
    tr.add_argument("recipe", help="YAML recipe, e.g. recipes/nsbg_12k_cpu.yaml")
    tr.add_argument("--out", default=None, help="run folder (default out/train/<recipe name>)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/resume.safetensors")
    tr.add_argument(
        "--resume-half",
        action="store_true",
        help="write the resume file in half precision (about half the size; resumes close to, "
        "not exactly at, the saved state)",
    )
    tr.add_argument(
        "--resume-omit",
        action="append",
        default=[],
        metavar="PART",
        help="leave PART (n-SBG: discriminator) out of the resume file; a resume "
        "re-initialises it (for an idle discriminator, e.g. in a spectral-loss phase)",
    )
    progress_flags(tr)
    tr.set_defaults(run=_cmd_train)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def threads_flag(sp: argparse.ArgumentParser) -> None:
    """``--threads N``: CPU threads of the neural models (default min(4, idle cores))."""
    sp.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPU threads for the neural models (default $OMP_NUM_THREADS if set, else "
        f"min(4, idle cores), now {default_threads()})",
    )
    sp.set_defaults(uses_threads=True)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bandgen`` command."""
    from bandgen.hf.registry import DEFAULT_HF, available

    p = argparse.ArgumentParser(prog="bandgen", description=__doc__)
    p.add_argument("--version", action="version", version=f"bandgen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def progress_flags(sp: argparse.ArgumentParser) -> None:
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--progress", action="store_true", default=None, help="show a progress bar")
        g.add_argument("--no-progress", dest="progress", action="store_false")

    enc = sub.add_parser("encode", help="code an audio file into a .bgn file")
    enc.add_argument("input", help="any audio file FFmpeg reads (wav, flac, mp3, m4a, ogg, opus)")
    enc.add_argument("output", help="the .bgn file to write")
    enc.add_argument("--bitrate", type=float, default=12.0, help="kbps per channel (default 12)")
    enc.add_argument("--core", default="aac", choices=["aac", "opus", "mp3"], help="core codec")
    enc.add_argument(
        "--hf",
        default=DEFAULT_HF,
        choices=available(),
        help=f"high-band method (default {DEFAULT_HF})",
    )
    enc.add_argument(
        "--side-kbps",
        type=float,
        default=None,
        metavar="KBPS",
        help="cap the side info (nsbg: drops RVQ stages of 0.234 kbps each); "
        "an error for methods without this option",
    )
    progress_flags(enc)
    threads_flag(enc)
    enc.set_defaults(run=_cmd_encode)

    dec = sub.add_parser("decode", help="decode a .bgn file to 48 kHz WAV or FLAC")
    dec.add_argument("input", help="the .bgn file")
    dec.add_argument("output", help="output .wav (32-bit float) or .flac (24-bit)")
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
    progress_flags(dec)
    threads_flag(dec)
    dec.set_defaults(run=_cmd_decode)

    res = sub.add_parser(
        "restore", help="restore a low-bitrate MP3 (blind, no side info; paper 002)"
    )
    res.add_argument("input", help="any audio file FFmpeg reads, typically a 32 kbps MP3")
    res.add_argument(
        "output",
        help="output .wav (32-bit float) or .flac (24-bit), at the input's rate if "
        "44.1/48 kHz, else 48 kHz",
    )
    which = res.add_mutually_exclusive_group()
    which.add_argument("--model", default=None, help="shipped model (default mp3restore-32k)")
    which.add_argument(
        "--weights", default=None, help="PATH.safetensors with PATH.json beside it (a run's best)"
    )
    res.add_argument("--int8", action="store_true", help="dynamic int8 model (faster, smaller)")
    res.add_argument(
        "--chunk-seconds",
        type=float,
        default=10.0,
        metavar="S",
        help="audio per network call; bounds memory, output unchanged (default 10)",
    )
    progress_flags(res)
    threads_flag(res)
    res.set_defaults(run=_cmd_restore)

    inf = sub.add_parser("info", help="show a .bgn file's header and bitrate split")
    inf.add_argument("input")
    inf.add_argument("--json", action="store_true", help="print as JSON")
    inf.set_defaults(run=_cmd_info)

    mod = sub.add_parser(
        "models", help="list the shipped models: family, use, size and dev-set numbers"
    )
    mod.add_argument("--json", action="store_true", help="print as JSON")
    mod.set_defaults(run=_cmd_models)

    _add_eval_parsers(sub, progress_flags)
    _add_train_parser(sub, progress_flags)
    return p


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so outputs' temporary files are removed."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM (``kill``, ``timeout``) into an exception while the command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stdout_closed() -> int:
    """``bandgen info --json | head``: stop quietly, as Unix tools do on SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted, 143 SIGTERM)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "uses_threads", False):
        set_threads(args.threads)
    try:
        with _sigterm_unwinds():
            args.run(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BandgenError as exc:
        print(f"bandgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bandgen: interrupted; no output was written", file=sys.stderr)
        return 130
    except _Terminated:
        print("bandgen: terminated; no output was written", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        return _stdout_closed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
