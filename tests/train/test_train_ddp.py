"""Two-process DDP (gloo, CPU) run of the debug recipe."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from bandgen.train.recipe import Recipe

WORLD = 2


def _worker(rank: int, recipe: Recipe, out_dir: str, port: int) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
    )
    torch.set_num_threads(1)
    import torch.distributed as dist

    from bandgen.train.trainer import Trainer

    trainer = Trainer(recipe, out_dir, device="cpu", progress=False)
    assert trainer.world_size == WORLD and trainer.rank == rank
    trainer.fit(until=2)
    # DDP keeps the replicas identical: compare a checksum of G across ranks
    total = torch.stack([p.detach().double().sum() for p in trainer.generator.parameters()]).sum()
    gathered = [torch.zeros_like(total) for _ in range(WORLD)]
    dist.all_gather(gathered, total)
    assert torch.allclose(gathered[0], gathered[1]), gathered
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # ~30 s on 2 busy cores (two processes, spawn start-up)
def test_two_process_gloo_run(debug_recipe: Recipe, tmp_path: Path) -> None:
    mp.spawn(_worker, args=(debug_recipe, str(tmp_path), _free_port()), nprocs=WORLD, join=True)
    state = load_file(str(tmp_path / "resume.safetensors"))
    assert any(k.startswith("generator/") for k in state)
    assert (tmp_path / "best.safetensors").exists()
