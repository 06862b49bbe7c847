"""Parameter counts, FLOPs and forward timing of the n-SBG presets.

Usage::

    .venv/bin/python scripts/model_summary.py [--seconds 1.0] [--repeats 3] [--backward]
        [--presets paper_12k cpu_12k ...] [--threads 1]

For every preset prints the parameters of the SBG encoder, the RVQ and the generator, the total,
the side-info bit-rate, GFLOPs of one training forward per second of 48 kHz audio (PyTorch's
FLOP counter: convs, linears, matmuls), and the best-of-``repeats`` wall time of a no-grad
forward on a ``[1, 1, seconds * 48000]`` clip (with ``--backward``: of a training forward +
backward), as a real-time factor too.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bandgen.audio import WORK_RATE
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG

PRESETS = ("paper_12k", "paper_16k", "cpu_12k", "cpu_16k", "debug")
SAMPLE_RATE = WORK_RATE


def count(module: nn.Module | None) -> int:
    """Number of trainable parameters of ``module`` (0 for ``None``)."""
    return 0 if module is None else sum(p.numel() for p in module.parameters() if p.requires_grad)


def gflops_per_second(model: NSBG, clip: torch.Tensor) -> float:
    """GFLOPs of one forward on ``clip [1, 1, T]``, per second of audio."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(clip, clip)
    return counter.get_total_flops() / 1e9 / (clip.shape[-1] / SAMPLE_RATE)


def best_time(model: NSBG, clip: torch.Tensor, repeats: int, *, backward: bool) -> float:
    """Best wall time (s) of a forward (or forward + backward) over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if backward:
            out = model(clip, clip)
            (out.y_hat.square().mean() + out.commitment_loss + out.codebook_loss).backward()
            model.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                model(clip, clip)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backward", action="store_true", help="time forward + backward")
    parser.add_argument("--blind", action="store_true", help="the blind variant of each preset")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clip = 0.1 * torch.randn(1, 1, int(args.seconds * SAMPLE_RATE), generator=torch.Generator())
    mode = "fwd+bwd" if args.backward else "fwd"
    print(
        f"{'preset':<10} {'encoder':>9} {'rvq':>8} {'generator':>10} {'total':>10} "
        f"{'kbps':>5} {'GFLOP/s':>8} {mode + ' s':>9} {'x RT':>6}"
    )
    for name in args.presets:
        config: NSBGConfig = getattr(NSBGConfig, name)()
        if args.blind:
            config = dataclasses.replace(config, blind=True)
        torch.manual_seed(0)
        model = NSBG(config).train(args.backward)
        flops = gflops_per_second(model, clip)
        seconds = best_time(model, clip, args.repeats, backward=args.backward)
        print(
            f"{name:<10} {count(model.encoder):>9,} {count(model.quantizer):>8,} "
            f"{count(model.generator):>10,} {count(model):>10,} {config.side_info_kbps:>5.2f} "
            f"{flops:>8.2f} {seconds:>9.3f} {args.seconds / seconds:>6.1f}"
        )


if __name__ == "__main__":
    main()
