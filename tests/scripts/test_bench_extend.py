"""``scripts/bench_extend.py`` with a tiny blind model: one row per method and the baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch

from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.train.checkpoint import export_weights

REPO = Path(__file__).resolve().parents[2]


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_extend", REPO / "scripts" / "bench_extend.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_prints_each_method_against_the_resample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = NSBGConfig.from_dict(
        {**NSBGConfig.debug().to_dict(), "blind": True, "k_c": 10, "k_h": 29}
    )
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    export_weights(weights, NSBG(config), {"model": "nsbg", "config": config.to_dict()})
    args = ["--methods", "blind", "--blind-weights", str(weights), "--seconds", "3"]
    assert _script().main([*args, "--repeats", "1"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if "|" in line]
    assert [r[1].strip() for r in rows[2:]] == ["resample only", "blind"]
    assert rows[3][2].strip() == "tiny" and float(rows[3][3]) > 0 and float(rows[3][4]) > 1
