"""The one weight loader and ``bandgen.load``: every shipped model loads through them, the
family comes from the weights' JSON, old descriptions (no ``model``) are n-SBG ones; and
``bandgen models`` lists every shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import bandgen
from bandgen import cli, families
from bandgen.codec import Codec
from bandgen.errors import ConfigError
from bandgen.extend import Extender
from bandgen.hp_codec import HPCodecCodec
from bandgen.models.config import NSBGConfig
from bandgen.models.mp3restore import MP3Restore
from bandgen.models.nsbg import NSBG
from bandgen.pretrained import registry
from bandgen.pretrained.catalog import card_dev_numbers, shipped_models
from bandgen.restore import Restorer
from bandgen.spectro_codec import SpectroCodec
from bandgen.train.checkpoint import export_weights

SHIPPED = registry.list_models()


def test_every_family_ships_a_model() -> None:
    kinds = {registry.model_kind(registry.model_info(name)) for name in SHIPPED}
    assert {"nsbg", "mp3restore", "spectrostream", "hpcodec"} <= kinds and len(SHIPPED) >= 8


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_loads_through_the_one_loader(name: str) -> None:
    weights = registry.model_paths(name)[0]
    model, info = registry.load_weights(weights)
    family = families.get(registry.model_kind(info))
    assert isinstance(model, family.model_class()) and not model.training
    assert model.config == family.config_class().from_dict(info["config"])
    assert info["name"] == name and info["sha256"] == registry.file_sha256(weights)
    loaded, _ = registry.load_model(name)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("name", SHIPPED)
def test_bandgen_load_returns_what_the_name_is(name: str) -> None:
    kind = registry.model_kind(registry.model_info(name))
    built = bandgen.load(name)
    if kind == "mp3restore":
        assert isinstance(built, Restorer) and built.info["name"] == name
    elif kind == "spectrostream":
        assert isinstance(built, SpectroCodec) and built.info["name"] == name
    elif kind == "hpcodec":
        assert isinstance(built, HPCodecCodec) and built.info["name"] == name
    elif families.is_extension_model(registry.model_info(name)):
        method = "hpcodecx" if kind == "hpcodecx" else "blind"
        assert isinstance(built, Extender) and built.method.name == method
    else:
        assert isinstance(built, Codec)
        blind = registry.model_info(name)["config"].get("blind", False)
        assert built.hf.name == ("blind" if blind else "nsbg")
        assert built.hf.config()["model"] == name


def test_bandgen_load_keeps_codec_names_and_load_restorer() -> None:
    assert bandgen.load("none-16k").hf.name == "none"
    assert isinstance(bandgen.load_restorer("mp3restore-32k"), Restorer)
    with pytest.raises(ConfigError, match=r"neither a shipped model .*nsbg-12k.* nor a codec name"):
        bandgen.load("twelve")
    with pytest.raises(ConfigError, match="no shipped nsbg model named 'mp3restore-32k'"):
        bandgen.api.load_codec_model("mp3restore-32k")


def _export_debug(path: Path) -> NSBG:
    torch.manual_seed(0)
    model = NSBG(NSBGConfig.debug())
    export_weights(path, model, {"model": "nsbg", "config": model.config.to_dict()})
    return model


def test_an_old_description_without_model_is_an_nsbg_one(tmp_path: Path) -> None:
    weights = tmp_path / "old.safetensors"
    _export_debug(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    del meta["model"]
    weights.with_suffix(".json").write_text(json.dumps(meta))
    model, info = registry.load_weights(weights)
    assert isinstance(model, NSBG) and registry.model_kind(info) == "nsbg"


def test_the_family_comes_from_the_json(tmp_path: Path) -> None:
    weights = tmp_path / "w.safetensors"
    _export_debug(weights)
    with pytest.raises(ConfigError, match="describes a 'nsbg' model, not a 'mp3restore' one"):
        registry.load_weights(weights, kind="mp3restore")
    meta = json.loads(weights.with_suffix(".json").read_text())
    weights.with_suffix(".json").write_text(json.dumps({**meta, "model": "hpcodex"}))
    with pytest.raises(
        ConfigError,
        match="unknown model kind 'hpcodex'; known kinds: hpcodec, hpcodecx, mp3restore",
    ):
        registry.load_weights(weights)
    weights.with_suffix(".json").write_text(
        json.dumps({**meta, "config": {**meta["config"], "chanels": 4}})
    )
    with pytest.raises(ConfigError, match=r"unknown key.*'chanels'.*allowed: blind"):
        registry.load_weights(weights)
    mp3 = registry.model_paths("mp3restore-32k")[0]
    model, _ = registry.load_weights(mp3, kind="mp3restore")
    assert isinstance(model, MP3Restore)


CARD = """# x

## Dev set

**music** (n = 8 clips)

| codec | kbps | visqol ↑ |
|---|---:|---:|
| nsbg:12 | 11.0 | 9.9 |

**all** (n = 24 clips)

| codec | kbps | visqol ↑ | lsd ↓ |
|---|---:|---:|---:|
| sbr:12 | 12.5 | 2.8 | 2.0 |
| nsbg:12 | 12.48 | 3.535 ± 0.2 |  |
"""


def test_card_dev_numbers_read_the_models_row_of_the_all_table() -> None:
    assert card_dev_numbers(CARD, "nsbg:12") == {"kbps": 12.48, "visqol": 3.535}
    assert card_dev_numbers(CARD, "nsbg:16") == {}
    assert card_dev_numbers("# no table\n", "nsbg:12") == {}


def test_bandgen_models_lists_every_shipped_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["name", "kind", "mode", "parameters", "MB"]
    assert sorted(line.split()[0] for line in lines[1:]) == SHIPPED
    row = next(line for line in lines if line.startswith("nsbg-12k "))
    assert "--hf nsbg, 12 kbps" in row and "visqol 3.535" in row
    assert cli.main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert sorted(listed) == SHIPPED
    for name, m in listed.items():
        weights = registry.model_paths(name)[0]
        model, _ = registry.load_model(name)
        assert m["parameters"] == sum(p.numel() for p in model.parameters()) > 0
        assert m["size_mb"] == weights.stat().st_size / 1e6
        assert m["kind"] == registry.model_kind(registry.model_info(name))
        assert m["dev"] and m["dev_source"] == f"{name}.md"
    assert listed["mp3restore-32k"]["dev"]["visqol"] == 2.751
    assert listed["mp3restore-32k"]["mode"] == "restore, mp3 at 32 kbps"
    assert listed["blind-16k"]["dev"]["mel"] == 1.567


def test_dev_numbers_in_the_json_come_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "nsbg-x.safetensors"
    _export_debug(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta.update(bitrate_kbps=12, dev={"visqol": 3.0})
    weights.with_suffix(".json").write_text(json.dumps(meta))
    (tmp_path / "nsbg-x.md").write_text(CARD)
    monkeypatch.setattr(registry, "PRETRAINED_DIR", tmp_path)
    (listed,) = shipped_models()
    assert (listed.dev, listed.dev_source) == ({"visqol": 3.0}, "json")
    del meta["dev"]
    weights.with_suffix(".json").write_text(json.dumps(meta))
    (listed,) = shipped_models()
    assert (listed.dev, listed.dev_source) == ({"kbps": 12.48, "visqol": 3.535}, "nsbg-x.md")
