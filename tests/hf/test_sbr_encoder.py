"""SBR encoder choices that save side info: the noise floor's ceiling and hold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bandgen.audio.resample import resample
from bandgen.hf.sbr import SbrCoder
from bandgen.hf.sbr.bitstream.frame import DeltaState, read_frame
from bandgen.hf.sbr.encoder import NOISE_HOLD_STEPS, NOISE_QUIET, hold_noise


def test_hold_noise_repeats_values_within_the_step() -> None:
    prev = np.array([10, 10, 10, 10])
    noise = np.array([[11, 9, 12, 5], [12, 9, 12, 12]])
    held = hold_noise(noise, prev)
    # 11 and 9 are one step from 10: held; 12 and 5 move on; the second envelope holds against
    # the first as coded (10 -> 12 is two steps: kept, 12 -> 12 unchanged)
    assert NOISE_HOLD_STEPS == 1
    assert held.tolist() == [[10, 10, 12, 5], [12, 10, 12, 12]]
    assert hold_noise(noise, None).tolist() == [[11, 9, 12, 5], [11, 9, 12, 12]]


def _noise_codes(x: np.ndarray, coder: SbrCoder) -> list[tuple[int, ...]]:
    core = resample(resample(x, 48_000, 8000), 8000, 48_000)
    state = DeltaState()
    rows = []
    for payload in coder.encode(x, core):
        rows += read_frame(payload, coder.tables, state, coder.amp_res_db).noise
    return rows


def test_noise_floor_stays_under_the_ceiling_and_does_not_jitter(
    synth_clip: Callable[..., np.ndarray],
) -> None:
    """Noise floors flipped between 30 ("none") and 6-14 frame by frame, at 8-10 bits a jump."""
    x = synth_clip("music", seconds=3.0, seed=2)[0].astype(np.float64)
    rows = np.array(_noise_codes(x, SbrCoder.for_bitrate(12)))
    assert rows.max() <= NOISE_QUIET and rows.min() >= 0
    steps = np.abs(np.diff(rows, axis=0))
    assert not np.any((steps > 0) & (steps <= NOISE_HOLD_STEPS))  # small moves are held
