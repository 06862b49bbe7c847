"""Two-process DDP (gloo, CPU) run of the debug recipe through ``torchrun`` and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from safetensors import safe_open

from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe


# ~20-40 s on 2 cores (two processes, start-up, cache build); cheap enough for the default run
def test_two_process_gloo_run(debug_recipe: Recipe, tmp_path: Path) -> None:
    recipe_path = tmp_path / "debug_ddp.yaml"
    recipe_path.write_text(yaml.safe_dump(debug_recipe.to_dict()))
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "bandgen.cli", "train",
           str(recipe_path), "--out", str(out), "--no-progress"]  # fmt: skip
    # one thread per rank keeps the two ranks from oversubscribing 2 cores
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    meta = json.loads((out / "resume.json").read_text())["meta"]
    assert meta["step"] == debug_recipe.schedule.steps
    assert meta["world_size"] == 2
    with safe_open(str(out / "resume.safetensors"), "pt") as f:
        assert any(k.startswith("generator/") for k in f.keys())  # noqa: SIM118
    assert (out / "best.safetensors").exists()
