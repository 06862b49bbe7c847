"""Checks on audio given to bandgen: layout, channel count, sampling rate, finite samples.

Every check raises :class:`~bandgen.errors.AudioInputError` with a message that says what
was expected, before any codec sees the audio (codecs abort or code garbage otherwise:
LAME asserts on NaN, Opus codes it silently).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bandgen.audio import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from bandgen.errors import AudioInputError

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "check_channels",
    "check_finite",
    "check_layout",
    "check_sample_rate",
]


def check_sample_rate(sample_rate: Any) -> int:
    """Refuse a sampling rate that is not a whole number of Hz in the supported range.

    Raises:
        AudioInputError: a non-integer rate or one outside ``[1000, 768000]`` Hz.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise AudioInputError(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioInputError(
            f"sample rate {sample_rate} Hz is outside the supported {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz"
        )
    return int(sample_rate)


def check_channels(channels: int, source: str) -> None:
    """Refuse more channels than a ``.bgn`` stream holds.

    Raises:
        AudioInputError: more than :data:`MAX_CHANNELS` channels.
    """
    if channels > MAX_CHANNELS:
        raise AudioInputError(
            f"{source} has {channels} channels; bandgen codes 1 to {MAX_CHANNELS} channels"
        )


def check_layout(wav: Any) -> np.ndarray:
    """``wav`` as float32 ``[C, T]``, refusing other layouts with a message that says what to do.

    A 1-D array is one channel.  A 2-D array must be ``[channels, samples]``; one with
    more than :data:`MAX_CHANNELS` rows is taken for soundfile's ``[samples, channels]``.

    Raises:
        AudioInputError: not 1-D or 2-D, not numeric, or apparently transposed.
    """
    data = np.asarray(wav)
    if data.dtype.kind not in "fiu" or data.ndim not in (1, 2):
        raise AudioInputError(
            f"wav must be a float array [channels, samples] or [samples], got "
            f"{data.ndim}-D {data.dtype} of shape {data.shape}"
        )
    data = np.atleast_2d(data)
    if data.shape[0] > MAX_CHANNELS:
        hint = (
            "; it looks like [samples, channels] (soundfile's layout): pass wav.T"
            if data.shape[1] <= MAX_CHANNELS
            else ""
        )
        raise AudioInputError(
            f"wav of shape {data.shape} has {data.shape[0]} rows, but bandgen expects "
            f"[channels, samples] with 1 to {MAX_CHANNELS} channels{hint}"
        )
    return data.astype(np.float32, copy=False)


def check_finite(wav: np.ndarray, source: str, offset: int = 0) -> None:
    """Refuse NaN or infinite samples, which no codec can code, naming where the first one is.

    Args:
        wav: float ``[C, n]`` (or ``[n]``) block.
        source: the input's name, for the message.
        offset: index of the block's first sample in the whole input.

    Raises:
        AudioInputError: some sample is NaN or infinite.
    """
    data = np.atleast_2d(wav)
    finite = np.isfinite(data)
    if finite.all():
        return
    channel, index = np.argwhere(~finite)[0]
    value = data[channel, index]
    raise AudioInputError(
        f"{source} holds a non-finite sample ({value}) at sample {offset + int(index)} of "
        f"channel {int(channel)}; bandgen codes finite audio only: repair or re-export the input"
    )
