"""The band-limit core: the signal at a lower rate, carried exactly, rebuilt from its params."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.core import CORE_NAMES, core_from_params, make_core
from bandgen.errors import ConfigError


def test_round_trip_is_exact_and_streaming() -> None:
    core = make_core("bandlimit", 0.0, sample_rate=16_000)
    assert core.sample_rate == 16_000 and core.cutoff_hz == 8000.0
    wav = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    assert np.array_equal(core.decode(core.encode(wav), 1000), wav)
    enc = core.new_encoder()
    packets = enc.push(wav[0, :333]) + enc.push(wav[0, 333:]) + enc.flush()
    assert [len(p) // 4 for p in packets] == [320, 320, 320, 40]
    dec = core.new_decoder()
    assert np.array_equal(np.concatenate([dec.push(p) for p in packets]), wav[0])


def test_params_rebuild_it_and_it_is_not_a_codec_mode() -> None:
    core = make_core("bandlimit", 0.0)  # default 16 kHz: content up to 8 kHz
    assert core_from_params(core.params).params == core.params
    assert "bandlimit" not in CORE_NAMES  # no .bgn stream can name it
    with pytest.raises(ConfigError, match="8000-48000"):
        make_core("bandlimit", 0.0, sample_rate=4000)
