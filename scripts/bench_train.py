"""Benchmark n-SBG training and inference speed on this machine.

usage: python scripts/bench_train.py [--sizes debug=16,cpu_12k=4,paper_12k=1] [--steps 3]
                                     [--threads 2] [--seconds 10] [--device cpu]
                                     [--precision fp32] [--fit-steps 0] [--no-inference]

For each ``preset=batch``: parameter counts of G and D; the time of one real training step
(:meth:`bandgen.train.trainer.Trainer.train_step`: G step + D step, 45056-sample segments from
a core-coded cache of two dev clips) and, in the same process as a baseline, of one generator
forward pass without gradients on the same batch (the ratio shows what the GAN step costs on
top of the model). Then inference speed of the generator (``encode`` + ``decode`` of
``--seconds`` of audio, eval mode) as x real time at 1 and 2 threads. Prints one table.

``--fit-steps N`` also times N steps of the whole loop (:meth:`BaseTrainer.fit`: data loader,
step, loss bookkeeping; no validation or checkpoint) after two warm-up steps, as steps/s and as
loop/step (what the loop adds to a bare step); ``--precision bf16`` trains under bfloat16
autocast (for GPUs; see ``bandgen/train/steps.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

from bandgen.audio import WORK_RATE
from bandgen.data.dataset import Segment
from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
from bandgen.train.trainer import NSBGTrainer as Trainer

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "data" / "dev"
DISC_SCALE = {"debug": 0.25, "cpu_12k": 0.5, "cpu_16k": 0.5, "paper_12k": 1.0, "paper_16k": 1.0}


def _corpus(root: Path) -> Path:
    corpus = root / "corpus"
    for name in ("dev_music_01", "dev_speech_01"):
        wav, sr = sf.read(str(DEV / f"{name}.flac"), dtype="float32")
        (corpus / "music").mkdir(parents=True, exist_ok=True)
        sf.write(str(corpus / "music" / f"{name}.flac"), wav, sr)
    return corpus


def _recipe(
    base: Recipe, preset: str, batch: int, corpus: Path, cache: Path, precision: str
) -> Recipe:
    model = Recipe.from_dict({"model": {"preset": preset}}).model
    data = dataclasses.replace(
        base.data,
        corpus_dir=str(corpus),
        cache_root=str(cache),
        batch_size=batch,
        segment_length=45_056,
        num_workers=0,
        valid_fraction=0.0,
        dev_dir=None,
    )
    disc = dataclasses.replace(base.discriminator, scale=DISC_SCALE[preset])
    never = 10**9
    schedule = dataclasses.replace(
        base.schedule, precision=precision, log_every=never, val_every=never, ckpt_every=never
    )
    return dataclasses.replace(base, model=model, data=data, discriminator=disc, schedule=schedule)


def _timed(fn: object, repeats: int) -> float:
    assert callable(fn)
    fn()  # warm-up
    _sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync()  # a GPU step returns before it is done
    return (time.perf_counter() - start) / repeats


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _count(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _inference_xrt(trainer: Trainer, seconds: float, threads: int) -> float:
    torch.set_num_threads(threads)
    g = trainer.generator.eval()
    wav = torch.randn(1, 1, int(seconds * WORK_RATE)) * 0.1

    @torch.no_grad()
    def run() -> None:
        codes = g.encode(wav, wav)
        g.decode(wav, codes)

    elapsed = _timed(run, 1)
    g.train()
    return seconds / elapsed


def _bench_size(recipe: Recipe, out: Path, a: argparse.Namespace) -> str:
    """One table row: parameters, train step vs generator forward, inference speed."""
    trainer = Trainer(recipe, out, device=a.device, progress=False)
    batch_data: Segment = next(iter(trainer._loader(0, 0)))
    step_s = _timed(lambda: trainer.train_step(batch_data), a.steps)
    g = trainer.generator
    core = batch_data.core.to(trainer.device)
    target = batch_data.target.to(trainer.device)
    with torch.no_grad():
        fwd_s = _timed(lambda: g(core, target), a.steps)
    batch = recipe.data.batch_size
    audio_s = batch * recipe.data.segment_length / WORK_RATE
    row = (
        f"{recipe.model.channels:3d}ch B={batch:3d} G {_count(g):7.3f} M  D "
        f"{_count(trainer.discriminator):6.3f} M | step {step_s:7.3f} s "
        f"({1 / step_s:6.2f} steps/s, {audio_s / step_s:6.2f} audio-s/s) | "
        f"G fwd {fwd_s:6.3f} s, step/fwd {step_s / fwd_s:5.1f}"
    )
    if a.fit_steps > 0:
        loop_s = _fit_seconds(trainer, a.fit_steps)
        row += f" | loop {1 / loop_s:6.2f} steps/s, loop/step {loop_s / step_s:5.2f}"
    if a.inference:
        xrt = [_inference_xrt(trainer, a.seconds, n) for n in (1, 2)]
        row += f" | infer {xrt[0]:6.1f}x RT @1 thr, {xrt[1]:6.1f}x @2"
    return row


def _fit_seconds(trainer: Trainer, steps: int) -> float:
    """Seconds per step of :meth:`fit` over ``steps`` steps (after two warm-up steps)."""
    trainer.save = lambda: None  # type: ignore[method-assign]
    trainer.fit(until=trainer.step + 2)
    if trainer.device.type == "cuda":
        torch.cuda.synchronize(trainer.device)
    start = time.perf_counter()
    trainer.fit(until=trainer.step + steps)  # fit reads the last losses: the queue is done
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="debug=16,cpu_12k=4,paper_12k=1")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio for the inference test")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--fit-steps", type=int, default=0, help="also time N steps of fit()")
    ap.add_argument("--no-inference", dest="inference", action="store_false")
    a = ap.parse_args(argv)
    base = Recipe.load(REPO / "recipes" / "nsbg_12k.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = _corpus(Path(tmp))
        for spec in a.sizes.split(","):
            preset, batch = spec.split("=")
            torch.set_num_threads(a.threads)
            recipe = _recipe(base, preset, int(batch), corpus, Path(tmp) / "cache", a.precision)
            rows.append(_bench_size(recipe, Path(tmp) / preset, a))
            print(f"{preset:10s} {rows[-1]}", flush=True)
    print(f"\n{a.device}, {a.threads} training threads, {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
