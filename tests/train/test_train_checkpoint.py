"""Resume checkpoints: garbage files are clean errors; compact (half precision, parts left out)
files round-trip; the full float32 resume files of the runs in ``training/`` still load."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bandgen.errors import ConfigError
from bandgen.train.checkpoint import ResumeFormat, load_checkpoint, save_checkpoint, warm_start
from bandgen.train.nsbg_recipe import NSBGRecipe as Recipe
from bandgen.train.restore_recipe import RestoreRecipe
from bandgen.train.restore_trainer import RestoreTrainer
from bandgen.train.trainer import NSBGTrainer as Trainer

REPO = Path(__file__).resolve().parents[2]


def _garbage(kind: str, path: Path) -> Path:
    if kind == "bytes":
        path.write_bytes(b"not a checkpoint")
    elif kind == "truncated":
        save_file({"w": torch.ones(64)}, str(path), metadata={"bandgen": "{}"})
        path.write_bytes(path.read_bytes()[:-40])
    elif kind == "bad_json":
        save_file({"w": torch.ones(2)}, str(path), metadata={"bandgen": "{not json"})
    elif kind == "no_metadata":
        save_file({"w": torch.ones(2)}, str(path))
    elif kind == "future_format":
        save_file({"w": torch.ones(2)}, str(path), metadata={"bandgen": '{"format": 99}'})
    return path


GARBAGE = ("bytes", "truncated", "bad_json", "no_metadata", "future_format")


@pytest.mark.parametrize("kind", GARBAGE)
def test_garbage_checkpoints_are_config_errors(kind: str, tmp_path: Path) -> None:
    path = _garbage(kind, tmp_path / "x.safetensors")
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=r"x\.safetensors"):
        warm_start(path, {"model": model})
    with pytest.raises(ConfigError, match=r"x\.safetensors"):
        load_checkpoint(path, modules={"model": model}, optimizers={}, schedulers={})


@pytest.mark.parametrize("kind", ("missing", "bytes"))
def test_warm_start_refuses_a_file_that_is_not_a_checkpoint(
    kind: str, debug_recipe: Recipe, tmp_path: Path
) -> None:
    bogus = tmp_path / "x.safetensors"
    if kind == "bytes":
        _garbage(kind, bogus)
    schedule = dataclasses.replace(debug_recipe.schedule, init_from=str(bogus))
    match = "no checkpoint to warm-start" if kind == "missing" else "cannot warm-start from"
    with pytest.raises(ConfigError, match=match):
        Trainer(dataclasses.replace(debug_recipe, schedule=schedule), tmp_path / "a")


def test_resume_refuses_a_garbage_file(debug_recipe: Recipe, tmp_path: Path) -> None:
    _garbage("bytes", tmp_path / "resume.safetensors")
    with pytest.raises(ConfigError, match=r"cannot resume from .*resume\.safetensors"):
        Trainer(debug_recipe, tmp_path, resume=True, progress=False)


class _Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.big = nn.Parameter(torch.full((4,), 1e6))  # beyond float16: stays float32
        self.register_buffer("table", torch.linspace(0, 1, 5) / 3)


def _trained(seed: int) -> tuple[_Pair, _Pair, torch.optim.Adam]:
    torch.manual_seed(seed)
    g, d = _Pair(), _Pair()
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        (g.lin(torch.randn(4, 8)) ** 2).mean().backward()
        opt.step()
    return g, d, opt


def test_half_resume_is_smaller_and_close(tmp_path: Path) -> None:
    g, d, opt = _trained(0)
    objects = {"modules": {"g": g, "d": d}, "optimizers": {"opt": opt}, "schedulers": {}}
    save_checkpoint(tmp_path / "full.safetensors", meta={"step": 3}, **objects)
    save_checkpoint(
        tmp_path / "half.safetensors", meta={"step": 3}, fmt=ResumeFormat(half=True), **objects
    )
    stored = load_file(str(tmp_path / "half.safetensors"))
    assert stored["g/lin.weight"].dtype == torch.float16
    assert stored["g/big"].dtype == torch.float32 and stored["g/table"].dtype == torch.float32
    assert stored["opt/state/1/exp_avg_sq"].dtype == torch.bfloat16
    assert stored["opt/state/1/step"].dtype == torch.float32

    g2, d2, opt2 = _trained(1)
    meta = load_checkpoint(
        tmp_path / "half.safetensors",
        modules={"g": g2, "d": d2},
        optimizers={"opt": opt2},
        schedulers={},
    )
    assert meta == {"step": 3, "omitted": []}
    torch.testing.assert_close(g2.lin.weight, g.lin.weight, rtol=1e-3, atol=1e-6)
    assert torch.equal(g2.big, g.big) and torch.equal(g2.table, g.table)
    state, state2 = opt.state_dict()["state"][1], opt2.state_dict()["state"][1]  # 0: big, unused
    assert state2["exp_avg_sq"].dtype == torch.float32
    torch.testing.assert_close(state2["exp_avg_sq"], state["exp_avg_sq"], rtol=1e-2, atol=0)
    assert float(state2["step"]) == 3


def test_omitted_parts_keep_their_fresh_state(tmp_path: Path) -> None:
    g, d, opt = _trained(0)
    opt_d = torch.optim.Adam(d.parameters())
    save_checkpoint(
        tmp_path / "r.safetensors",
        modules={"g": g, "d": d},
        optimizers={"opt": opt, "opt_d": opt_d},
        schedulers={},
        meta={"step": 3},
        fmt=ResumeFormat(omit=("d", "opt_d")),
    )
    assert not any(
        k.startswith(("d/", "opt_d/")) for k in load_file(str(tmp_path / "r.safetensors"))
    )
    g2, d2, opt2 = _trained(1)
    fresh = {k: v.clone() for k, v in d2.state_dict().items()}
    meta = load_checkpoint(
        tmp_path / "r.safetensors",
        modules={"g": g2, "d": d2},
        optimizers={"opt": opt2, "opt_d": torch.optim.Adam(d2.parameters())},
        schedulers={},
    )
    assert meta["omitted"] == ["d", "opt_d"]
    assert torch.equal(g2.lin.weight, g.lin.weight)
    assert all(torch.equal(fresh[k], v) for k, v in d2.state_dict().items())


def test_trainer_writes_a_compact_resume_file(debug_recipe: Recipe, tmp_path: Path) -> None:
    full = Trainer(debug_recipe, tmp_path / "full", progress=False)
    full.fit(until=1)
    small = Trainer(
        debug_recipe,
        tmp_path / "small",
        progress=False,
        resume_half=True,
        resume_omit=["discriminator"],
    )
    small.fit(until=1)
    sizes = [(tmp_path / run / "resume.safetensors").stat().st_size for run in ("full", "small")]
    assert sizes[1] < 0.45 * sizes[0], sizes
    resumed = Trainer(debug_recipe, tmp_path / "small", resume=True, progress=False)
    assert resumed.step == 1
    torch.testing.assert_close(
        resumed.generator.state_dict(), small.generator.state_dict(), rtol=1e-3, atol=1e-4
    )
    resumed.fit(until=2)
    with pytest.raises(ConfigError, match="may omit: discriminator"):
        Trainer(debug_recipe, tmp_path / "x", progress=False, resume_omit=["generator"])


RUNS = sorted(p.parent.name for p in (REPO / "training").glob("*/resume.safetensors"))


@pytest.mark.parametrize("run", RUNS)
def test_committed_float32_resume_files_still_load(
    run: str, debug_recipe: Recipe, tmp_path: Path
) -> None:
    """Each run in ``training/`` resumes (its own recipe, the tiny corpus as data) and
    re-saves compact."""
    src = REPO / "training" / run
    meta = json.loads((src / "resume.json").read_text())["meta"]
    is_restore = meta["recipe"]["model"].get("kind") == "mp3restore"
    recipe: Recipe | RestoreRecipe = (RestoreRecipe if is_restore else Recipe).from_dict(
        meta["recipe"]
    )
    data = dataclasses.replace(
        recipe.data,
        corpus_dir=debug_recipe.data.corpus_dir,
        cache_root=str(Path(debug_recipe.data.cache_root).parent / f"cache_{run}"),
        batch_size=2,
        num_workers=0,
        valid_fraction=0.0,
        max_hours=None,
    )
    recipe = dataclasses.replace(recipe, data=data)
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(src / "resume.safetensors", out / "resume.safetensors")
    cls = RestoreTrainer if is_restore else Trainer
    trainer = cls(recipe, out, resume=True, progress=False, resume_half=True)  # type: ignore[arg-type]
    assert trainer.step == meta["step"]
    stored = load_file(str(src / "resume.safetensors"))
    name, module = next(iter(trainer._objects()["modules"].items()))
    for key, value in module.state_dict().items():
        assert torch.equal(value.cpu(), stored[f"{name}/{key}"]), key
    trainer.save()
    assert (out / "resume.safetensors").stat().st_size < 0.6 * (
        src / "resume.safetensors"
    ).stat().st_size
    again = cls(recipe, out, resume=True, progress=False)  # type: ignore[arg-type]
    assert again.step == meta["step"]


def test_cli_resume_flags_reach_the_trainer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bandgen.cli import main

    recipe = REPO / "recipes" / "debug.yaml"
    status = main(["train", str(recipe), "--out", str(tmp_path), "--resume-omit", "generator"])
    assert status == 2
    assert "bandgen: error: cannot leave generator out of a nsbg resume file" in (
        capsys.readouterr().err
    )
    _garbage("bytes", tmp_path / "resume.safetensors")
    assert main(["train", str(recipe), "--out", str(tmp_path), "--resume", "--resume-half"]) == 2
    assert "cannot resume from" in capsys.readouterr().err
