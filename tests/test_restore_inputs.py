"""Restoration refuses what it cannot restore: path-like model names, NaN, too many channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import bandgen
from bandgen.errors import AudioInputError, ConfigError


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "a/b", ".hidden"])
def test_model_name_is_a_name(name: str) -> None:
    """``restore --model ../../x`` read files outside the package."""
    with pytest.raises(ConfigError, match="not a model name"):
        bandgen.load_restorer(name)


def test_non_finite_input_is_refused(tmp_path: Path) -> None:
    """``restore`` of NaN/Inf input exited 0 with an all-NaN output."""
    wav = np.zeros((4800, 1), np.float32)
    wav[100] = np.nan
    sf.write(str(tmp_path / "nan.wav"), wav, 48000, subtype="FLOAT")
    restorer = bandgen.load_restorer()
    with pytest.raises(AudioInputError, match="non-finite"):
        bandgen.restore_file(tmp_path / "nan.wav", tmp_path / "o.wav", restorer=restorer)
    with pytest.raises(AudioInputError, match="non-finite"):
        restorer.restore(wav.T)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.wav"]


def test_too_many_channels_for_flac_before_the_model_loads(tmp_path: Path) -> None:
    sf.write(str(tmp_path / "nine.wav"), np.zeros((100, 9), np.float32), 48000)
    with pytest.raises(ConfigError, match="at most 8 channels"):
        bandgen.restore_file(tmp_path / "nine.wav", tmp_path / "o.flac", name="no-such-model")
