"""The high-band registry and the ``none`` method."""

from __future__ import annotations

import numpy as np
import pytest

from bandgen.errors import ConfigError
from bandgen.hf import registry
from bandgen.hf.none import NoneCoder


def test_none_is_registered_and_rebuilds_from_config() -> None:
    coder = registry.build("none")
    assert isinstance(coder, NoneCoder)
    again = registry.build(coder.name, **coder.config())
    assert again.config() == coder.config()
    assert "none" in registry.available()


def test_unknown_method_and_bad_options() -> None:
    with pytest.raises(ConfigError, match="unknown high-band method 'nope'"):
        registry.build("nope")
    with pytest.raises(ConfigError, match="bad parameters"):
        registry.build("none", colour="red")


def test_none_passes_core_through_and_sends_nothing(rng: np.random.Generator) -> None:
    coder = NoneCoder()
    wav = rng.standard_normal(10_000).astype(np.float32)
    core = 0.5 * wav
    assert coder.encode(wav, core) == []
    assert coder.bitrate == 0.0
    np.testing.assert_array_equal(coder.decode(core, []), core)
    enc = coder.new_encoder()
    assert enc.push(wav[:5000], core[:5000]) == [] and enc.flush() == []
