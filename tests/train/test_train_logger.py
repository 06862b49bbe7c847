"""The training logger on a machine without tqdm or TensorBoard still writes its JSONL log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bandgen.train.logger import TrainLogger


def test_logger_without_tqdm_or_tensorboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    logger = TrainLogger(tmp_path, progress=True)
    logger.start(0, 10)
    logger.step(1, {"g/mel": 1.0})
    logger.scalars(1, {"g/mel": 1.0})
    logger.close()
    assert not logger.progress
    assert json.loads((tmp_path / "log.jsonl").read_text())["g/mel"] == 1.0
