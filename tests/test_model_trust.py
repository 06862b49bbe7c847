"""A stream names its model; it never chooses a file for the decoder to open (issue 16).

Shipped models load by name and sha256; any other model only from a file the user passes
(``bandgen decode --weights FILE``, ``weights=`` in the API).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bandgen.bitstream.container import ContainerReader, encode_header
from bandgen.cli import main
from bandgen.codec import Codec
from bandgen.errors import BitstreamError, ConfigError
from bandgen.models.config import NSBGConfig
from bandgen.models.nsbg import NSBG
from bandgen.pretrained.registry import PRETRAINED_DIR, list_models
from bandgen.train.checkpoint import export_weights

SHIPPED = next(iter(list_models(kind="nsbg")), None)


def _tiny(path: Path, seed: int) -> Path:
    """A random debug-size n-SBG model exported as ``path`` (+ its ``.json``)."""
    torch.manual_seed(seed)
    config = NSBGConfig.from_dict({**NSBGConfig.debug().to_dict(), "latent_dim": 8})
    export_weights(path, NSBG(config), {"model": "nsbg", "config": config.to_dict()})
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A training run's weights (not shipped) and a short stream coded with them."""
    path = _tiny(tmp_path_factory.mktemp("run") / "best.safetensors", seed=0)
    wav = (0.1 * np.random.default_rng(0).standard_normal((1, 9000))).astype(np.float32)
    return path, Codec.create(bitrate_kbps=12, hf="nsbg", weights=str(path)).encode(wav, 48000)


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The prelude's header and the bytes after it (a header re-encodes to the same bytes)."""
    header = ContainerReader(io.BytesIO(data)).header
    return header, data[len(encode_header(header)) :]


def _join(header: dict[str, Any], frames: bytes) -> bytes:
    return encode_header(header) + frames


def _naming(data: bytes, **config: Any) -> bytes:
    header, frames = _split(data)
    header["hf"]["config"].update(config)
    return _join(header, frames)


def test_a_stream_coded_with_other_weights_needs_them_from_the_user(
    trained: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = trained
    header, _ = _split(data)
    assert header["hf"]["config"]["model"] == "best" and "weights" not in header["hf"]["config"]
    with pytest.raises(BitstreamError, match=r"model 'best' .* not shipped.*--weights"):
        Codec.decode(data)
    assert np.isfinite(Codec.decode(data, weights=path)).all()
    other = _tiny(tmp_path / "other.safetensors", seed=1)
    with pytest.raises(BitstreamError, match="sha256"):
        Codec.decode(data, weights=other)


@pytest.mark.parametrize("target", ["/etc/passwd", "fifo", "copy"])
def test_a_stream_naming_a_file_is_refused(
    trained: tuple[Path, bytes], tmp_path: Path, target: str
) -> None:
    """A crafted stream made the decoder open /etc/passwd.json, FIFOs, device files, and load
    a copy of the shipped weights placed elsewhere."""
    _, data = trained
    if target == "fifo":
        target = str(tmp_path / "w.safetensors")
        os.mkfifo(target)  # opening it would block: the test would hang
    elif target == "copy":
        if SHIPPED is None:
            pytest.skip("no n-SBG model shipped")
        target = str(tmp_path / "copy.safetensors")
        shutil.copy(PRETRAINED_DIR / f"{SHIPPED}.safetensors", target)
        shutil.copy(PRETRAINED_DIR / f"{SHIPPED}.json", tmp_path / "copy.json")
    with pytest.raises(BitstreamError, match="never opens a file a stream names"):
        Codec.decode(_naming(data, weights=target))


def test_a_copy_of_shipped_weights_under_another_name_is_refused(
    trained: tuple[Path, bytes],
) -> None:
    """Name and hash of a shipped model, but not its name: not loaded from anywhere."""
    if SHIPPED is None:
        pytest.skip("no n-SBG model shipped")
    _, data = trained
    sha = json.loads((PRETRAINED_DIR / f"{SHIPPED}.json").read_text())["sha256"]
    with pytest.raises(BitstreamError, match="not shipped"):
        Codec.decode(_naming(data, model="../../tmp/copy", sha256=sha))


def test_weights_for_a_stream_without_a_model_is_an_error() -> None:
    wav = np.zeros((1, 4800), np.float32)
    data = Codec.create(bitrate_kbps=16, hf="sbr").encode(wav, 48000)
    with pytest.raises(ConfigError, match="--weights is for streams coded with a trained model"):
        Codec.decode(data, weights="x.safetensors")


def test_cli_decode_weights(
    trained: tuple[Path, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, data = trained
    (tmp_path / "in.bgn").write_bytes(data)
    args = ["decode", str(tmp_path / "in.bgn"), str(tmp_path / "out.wav"), "--no-progress"]
    assert main(args) == 2
    assert "--weights" in capsys.readouterr().err and not (tmp_path / "out.wav").exists()
    assert main([*args, "--weights", str(path)]) == 0
    assert (tmp_path / "out.wav").is_file()


@pytest.mark.parametrize("name", ["../pretrained/mp3restore-32k", "/etc/passwd", "a/b"])
def test_cli_restore_model_is_a_name(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile as sf

    sf.write(str(tmp_path / "in.wav"), np.zeros(4800, np.float32), 48000)
    args = ["restore", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--model", name]
    assert main([*args, "--no-progress"]) == 2
    assert "not a model name" in capsys.readouterr().err
