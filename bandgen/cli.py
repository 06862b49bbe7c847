"""The ``bandgen`` command line: thin argparse front end over :mod:`bandgen.api`.

Start-up stays light (``bandgen --help``, ``--version`` and ``info`` import no torch and
no PyAV): each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from bandgen import __version__
from bandgen.cli_coding import add_coding_parsers, show_progress
from bandgen.cli_extend import add_extend_parser
from bandgen.errors import BandgenError
from bandgen.threads import default_threads, set_threads

_show_progress = show_progress


def _cmd_info(args: argparse.Namespace) -> None:
    from bandgen.stream_info import info

    s = info(args.input)
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
        f"audio:       {s.duration_s:.3f} s, {ch} ch, source {h['source_sample_rate']} Hz"
        f" (decoded at it by default), {h['num_frames']} frames"
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
    *,
    full: bool = True,
) -> None:
    """The ``eval`` and ``compare`` subcommands (logic in :mod:`bandgen.eval`).

    Without ``full`` the metric names are left out of the help (listing them imports the
    measures and numpy, which other commands need not wait for).
    """
    metrics_help = "comma-separated measures (bandgen eval --help lists them)"
    if full:
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


_DESCRIPTION = """\
bandgen codes audio at low bitrates. A core codec (AAC-LC, Opus or MP3) codes the low
band; a little side info lets the decoder regenerate the high band (neural n-SBG with
the shipped models by default, or classic SBR). It also restores low-bitrate MP3s and
extends band-limited audio to 48 kHz."""

_EPILOG = """\
examples:
  bandgen encode song.flac song.bgn --bitrate 16   # 16 kbps per channel
  bandgen decode song.bgn song.wav                 # at the source's rate and channels
  bandgen roundtrip song.flac test.wav -b 12       # encode + decode: hear 12 kbps
  bandgen info song.bgn                            # header and bitrate split
  bandgen encode music/ --output coded/            # a whole folder
  ffmpeg -i in.mp4 -f wav - | bandgen encode - out.bgn
  bandgen decode out.bgn - | aplay
  bandgen restore old_32k.mp3 restored.wav
  bandgen extend phone_16k.wav full.wav            # regenerate the band above 8 kHz

'bandgen COMMAND --help' shows a command's options and their defaults."""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and examples."""


def _command(argv: Sequence[str] | None) -> str | None:
    """The subcommand named in ``argv`` ("" if none, ``None`` if argv is not known)."""
    if argv is None:
        argv = sys.argv[1:]
    return next((a for a in argv if not a.startswith("-")), "")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``bandgen`` command.

    ``command``: the subcommand about to run, if known; parts of other commands that are
    slow to build (the eval metrics' names) are then left out.
    """
    p = argparse.ArgumentParser(
        prog="bandgen", description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_Help
    )
    p.add_argument("--version", action="version", version=f"bandgen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def progress_flags(sp: argparse.ArgumentParser) -> None:
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--progress", action="store_true", default=None, help="show a progress bar")
        g.add_argument("--no-progress", dest="progress", action="store_false")

    add_coding_parsers(sub, progress_flags, threads_flag, _Help)
    add_extend_parser(sub, progress_flags, threads_flag, _Help)

    inf = sub.add_parser("info", help="show a .bgn file's header and bitrate split")
    inf.add_argument("input", help="a .bgn file")
    inf.add_argument("--json", action="store_true", help="print as JSON")
    inf.set_defaults(run=_cmd_info)

    mod = sub.add_parser(
        "models", help="list the shipped models: family, use, size and dev-set numbers"
    )
    mod.add_argument("--json", action="store_true", help="print as JSON")
    mod.set_defaults(run=_cmd_models)

    _add_eval_parsers(sub, progress_flags, full=command in (None, "eval", "compare"))
    _add_train_parser(sub, progress_flags)
    return p


def _exit_terminated(signum: int, frame: object) -> None:
    """SIGTERM: remove the outputs' temporary files and end at once.

    Raising an exception here instead would unwind through whatever C code (FFmpeg, a torch
    op) the signal interrupted; that crashed the process now and then (SIGSEGV), which left
    the temporary files behind.  Ending without unwinding leaves nothing half-done either:
    every output is written to a temporary file that only an orderly close renames.
    """
    from bandgen.audio.io import discard_live_temporaries

    discard_live_temporaries()
    try:
        sys.stderr.write("bandgen: terminated; no output was written\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signal.SIGTERM)


@contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    """On SIGTERM (``kill``, ``timeout``) while the command runs, remove its temporary
    outputs and exit with 143."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stdout_closed() -> int:
    """``bandgen info --json | head``: stop quietly, as Unix tools do on SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


@contextmanager
def _bandgen_warnings() -> Iterator[None]:
    """Print a :class:`~bandgen.errors.BandgenWarning` as ``bandgen: warning: ...``."""
    import warnings

    from bandgen.errors import BandgenWarning

    def show(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> None:
        if issubclass(category, BandgenWarning):
            print(f"bandgen: warning: {message}", file=sys.stderr)
        else:
            previous(message, category, *args, **kw)  # type: ignore[arg-type]

    with warnings.catch_warnings():
        warnings.simplefilter("always", BandgenWarning)
        previous = warnings.showwarning
        warnings.showwarning = show
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 some files of several failed, 2 bad
    input, 130 interrupted, 143 SIGTERM)."""
    args = build_parser(_command(argv)).parse_args(argv)
    if getattr(args, "uses_threads", False):
        set_threads(args.threads)
    try:
        with _sigterm_cleans_up(), _bandgen_warnings():
            status = args.run(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BandgenError as exc:
        print(f"bandgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bandgen: interrupted; no output was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _stdout_closed()
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
