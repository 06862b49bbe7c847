"""Checks on audio handed to bandgen: layout, channels, sampling rate, finite samples."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.audio.checks import (
    MAX_CHANNELS,
    check_channels,
    check_finite,
    check_layout,
    check_sample_rate,
)
from bandgen.errors import AudioInputError


def test_layout_accepts_mono_and_channels_first() -> None:
    assert check_layout(np.zeros(10)).shape == (1, 10)
    out = check_layout(np.zeros((3, 10), np.int16))
    assert out.shape == (3, 10) and out.dtype == np.float32


def test_layout_refuses_samples_first_and_says_to_transpose() -> None:
    with pytest.raises(AudioInputError, match=r"\[samples, channels\].*wav\.T"):
        check_layout(np.zeros((48000, 2), np.float32))
    with pytest.raises(AudioInputError, match="3-D"):
        check_layout(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(AudioInputError, match="float array"):
        check_layout(np.array(["a", "b"]))


def test_finite_names_the_first_bad_sample() -> None:
    wav = np.zeros((2, 100), np.float32)
    check_finite(wav, "x")
    wav[1, 42] = np.inf
    with pytest.raises(
        AudioInputError, match=r"x holds a non-finite sample \(inf\) at sample 1042 of channel 1"
    ):
        check_finite(wav, "x", offset=1000)
    with pytest.raises(AudioInputError, match="nan"):
        check_finite(np.array([0.0, np.nan]), "y")


def test_sample_rate_and_channels() -> None:
    assert check_sample_rate(np.int64(44100)) == 44100
    for bad in (0, -1, 44100.0, 10**7, True):
        with pytest.raises(AudioInputError, match="sample"):
            check_sample_rate(bad)
    check_channels(MAX_CHANNELS, "x")
    with pytest.raises(AudioInputError, match="1 to 255 channels"):
        check_channels(MAX_CHANNELS + 1, "x")
