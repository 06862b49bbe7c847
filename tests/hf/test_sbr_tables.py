"""SBR band tables for the modes of HYPERPARAMETERS §1.6."""

from __future__ import annotations

import contextlib
import itertools

import pytest

from bandgen.errors import ConfigError
from bandgen.hf.sbr.tables import MODES, band_tables, mode_tables


@pytest.mark.parametrize(("mode", "k2"), [(12, 29), (16, 32)])
def test_fdk_band_limits(mode: int, k2: int) -> None:
    t = mode_tables(mode)
    assert (t.k0, t.kx, t.k2) == (11, 11, k2)
    assert t.master[0] * 375 == 4125 and t.master[-1] * 375 == k2 * 375


def test_master_table_12k() -> None:
    t = mode_tables(12)
    assert t.master == (11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 25, 27, 29)
    assert t.low == (11, 13, 15, 17, 19, 22, 25, 29)
    assert t.noise == (11, 15, 19, 29)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_table_invariants(mode: int) -> None:
    t = mode_tables(mode)
    for table in (t.master, t.low, t.noise, t.limiter):
        assert all(b > a for a, b in itertools.pairwise(table))
        assert table[0] == t.kx and table[-1] == t.k2
    assert set(t.low) <= set(t.high) and set(t.noise) <= set(t.low)
    covered = 0
    for source, target, width in t.patches:
        assert source >= 1 and source + width <= t.k0
        assert (target - source) % 2 == 0  # parity kept: translated, not mirrored
        assert target == t.kx + covered
        covered += width
    assert t.k2 - (t.kx + covered) < 3  # only a dropped narrow last patch may be missing


def test_bad_range_refused() -> None:
    with pytest.raises(ConfigError):
        band_tables(11, 70)
    with pytest.raises(ConfigError):
        mode_tables(13)


def test_every_band_range_builds_or_is_a_config_error() -> None:
    """Narrow ranges (k2 - k0 <= 4) divided by zero; a stream's header could ask for them."""
    for k0 in range(0, 66):
        for k2 in range(0, 66):
            with contextlib.suppress(ConfigError):
                band_tables(k0, k2)
