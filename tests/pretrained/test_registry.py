"""The shipped-model registry: safetensors + JSON, sha256 checked, ``strict=True``, no pickle."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bandgen.errors import ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.pretrained import registry
from bandgen.train.checkpoint import export_weights


def _export(path: Path, *, seed: int = 0, **changes: object) -> NSBG:
    torch.manual_seed(seed)
    config = NSBGConfig.from_dict({**NSBGConfig.debug().to_dict(), **changes})
    model = NSBG(config)
    export_weights(path, model, {"model": "nsbg", "config": config.to_dict(), "step": 0})
    return model


def test_shipped_models_come_in_pairs() -> None:
    # empty until a training run ships weights; every listed name has both files
    for name in registry.list_models():
        weights, meta = registry.model_paths(name)
        assert weights.is_file() and meta.is_file()
        assert len(registry.model_info(name)["sha256"]) == 64


def test_load_from_files_is_exact_and_in_eval_mode(tmp_path: Path) -> None:
    model = _export(tmp_path / "tiny.safetensors")
    loaded, info = registry.load_model_from_files(tmp_path / "tiny.safetensors")
    assert not loaded.training and info["name"] == "tiny" and info["step"] == 0
    assert info["sha256"] == registry.file_sha256(tmp_path / "tiny.safetensors")
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.safetensors"
    _export(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    good = meta["sha256"]
    weights.with_suffix(".json").write_text(json.dumps({**meta, "sha256": "0" * 64}))
    with pytest.raises(ConfigError, match=f"sha256 of .*tiny.safetensors is {good}.*0{{64}}"):
        registry.load_model_from_files(weights)


def test_strict_loading_refuses_weights_of_another_config(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.safetensors"
    _export(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta["config"]["n_q"] = 4  # one more RVQ stage than the tensors hold
    other = tmp_path / "other.json"
    other.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="do not fit"):
        registry.load_model_from_files(weights, other)


def test_pickle_is_never_loaded(tmp_path: Path) -> None:
    fake = tmp_path / "evil.safetensors"
    fake.write_bytes(pickle.dumps({"generator": [1, 2, 3]}))
    fake.with_suffix(".json").write_text(
        json.dumps({"config": NSBGConfig.debug().to_dict(), "sha256": registry.file_sha256(fake)})
    )
    with pytest.raises(ConfigError, match="not a readable safetensors"):
        registry.load_model_from_files(fake)


def test_unknown_names_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no shipped model named 'nope'"):
        registry.load_model("nope")
    with pytest.raises(ConfigError, match="not found"):
        registry.load_model_from_files(tmp_path / "absent.safetensors")


def test_shipped_model_loads_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _export(tmp_path / "nsbg-test.safetensors")
    monkeypatch.setattr(registry, "PRETRAINED_DIR", tmp_path)
    assert registry.list_models() == ["nsbg-test"]
    loaded, info = registry.load_model("nsbg-test")
    assert info["name"] == "nsbg-test" and loaded.config == model.config


def test_importing_bandgen_does_not_import_torch() -> None:
    code = (
        "import sys, bandgen, bandgen.pretrained, bandgen.hf.registry, bandgen.hf.nsbg;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
