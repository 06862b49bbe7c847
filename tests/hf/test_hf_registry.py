"""The high-band registry and the ``none`` method."""

from __future__ import annotations

import itertools

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
    with pytest.raises(ConfigError, match=r"no option 'colour' \(its options: frame_length\)"):
        registry.build("none", colour="red")
    with pytest.raises(ConfigError, match="bad option values"):
        registry.build("sbr", mode_kbps=[12])  # unhashable: a TypeError inside, no traceback


def test_none_passes_core_through_and_sends_nothing(rng: np.random.Generator) -> None:
    coder = NoneCoder()
    wav = rng.standard_normal(10_000).astype(np.float32)
    core = 0.5 * wav
    assert coder.encode(wav, core) == []
    assert coder.bitrate == 0.0
    np.testing.assert_array_equal(coder.decode(core, []), core)
    enc = coder.new_encoder()
    assert enc.push(wav[:5000], core[:5000]) == [] and enc.flush() == []


def test_for_bitrate_picks_sbr_mode_and_meets_the_core() -> None:
    coder = registry.build_for_bitrate("sbr", 16, core_cutoff_hz=4000.0)
    assert coder.config()["mode_kbps"] == 16
    assert coder.config()["start_band"] == 10  # 3750 Hz: the 8 kHz core stops at 4000 Hz
    master = coder.tables.master  # type: ignore[attr-defined]
    assert master[0] == 10 and all(b > a for a, b in itertools.pairwise(master))
    # a core reaching past the mode's k0 (11 = 4125 Hz): SBR starts where the core stops
    # (band 21 of 375 Hz = 7875 Hz for an 8 kHz core)
    assert registry.build_for_bitrate("sbr", 12, core_cutoff_hz=8000.0).config()["start_band"] == 21
    # the decoder rebuilds the same coder from the header's config
    again = registry.build("sbr", **coder.config())
    assert again.tables == coder.tables  # type: ignore[attr-defined]
    assert registry.build_for_bitrate("none", 12).name == "none"
