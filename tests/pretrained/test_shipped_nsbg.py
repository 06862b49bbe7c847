"""The n-SBG and Blind SBG weights shipped in the package, through the real codec.

Each shipped model codes a clip at its own rate (synthetic music always, a real dev clip when
``../shared`` is there); the regenerated band must be closer to the original than no band at
all (high-band LSD against ``--hf none`` at the same total rate), and the stream must decode
to the input's length with finite samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import bandgen
from bandgen.codec import Codec
from bandgen.families import is_extension_model
from bandgen.metrics.basic import lsd
from bandgen.pretrained import registry

ALL_SHIPPED = registry.list_models(kind="nsbg")
EXTENDERS = [n for n in registry.list_models() if is_extension_model(registry.model_info(n))]
"""Models of ``bandgen extend`` (blind n-SBG on the band-limit core, HP-codecX), not codec
modes."""
SHIPPED = [n for n in ALL_SHIPPED if n not in EXTENDERS]
SOURCES = ["synthetic", pytest.param("dev_music_04", marks=pytest.mark.shared_data)]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_beats_no_high_band(
    name: str,
    source: str,
    synth_clip: Callable[..., np.ndarray],
    dev_clip: Callable[..., tuple[np.ndarray, int]],
) -> None:
    info = registry.model_info(name)
    hf = "blind" if info["config"].get("blind") else "nsbg"
    kbps = float(info["bitrate_kbps"])
    if source == "synthetic":
        mono, sr = synth_clip("music", seconds=3.0, channels=1, seed=4), 48_000
    else:
        wav, sr = dev_clip(source, seconds=3.0, offset=2.0)
        mono = wav[:1]
    coded = Codec.create(bitrate_kbps=kbps, hf=hf, model=name)
    out = Codec.decode(coded.encode(mono, sr))
    assert out.shape == mono.shape and np.isfinite(out).all()
    plain = Codec.decode(Codec.create(bitrate_kbps=kbps, hf="none").encode(mono, sr))
    band = {"min_hz": 4500.0, "max_hz": 11000.0}
    assert lsd(mono, out, sr, **band) < lsd(mono, plain, sr, **band)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", EXTENDERS)
def test_shipped_extension_model_beats_the_plain_input(
    name: str,
    source: str,
    synth_clip: Callable[..., np.ndarray],
    dev_clip: Callable[..., tuple[np.ndarray, int]],
) -> None:
    from bandgen.audio.resample import resample
    from bandgen.extend import Extender

    if source == "synthetic":
        mono = synth_clip("music", seconds=3.0, channels=1, seed=4)
    else:
        wav, sr = dev_clip(source, seconds=3.0, offset=2.0)
        mono = resample(wav[:1], sr, 48_000)
    low = resample(mono, 48_000, 16_000)
    extender = bandgen.load(name)  # the family's own loader picks the method
    assert isinstance(extender, Extender)
    out = extender.extend(low, 16_000)
    assert out.shape[0] == 1 and np.isfinite(out).all()
    n = min(out.shape[1], mono.shape[1])
    plain = resample(low, 16_000, 48_000)[:, :n]
    band = {"min_hz": 8500.0, "max_hz": 16000.0}
    assert lsd(mono[:, :n], out[:, :n], 48_000, **band) < lsd(mono[:, :n], plain, 48_000, **band)


def test_shipped_models_cover_both_modes_of_each_kind() -> None:
    if not SHIPPED:
        pytest.skip("no n-SBG weights shipped")
    modes = {
        (
            bool(registry.model_info(n)["config"].get("blind")),
            registry.model_info(n)["bitrate_kbps"],
        )
        for n in SHIPPED
    }
    assert {(False, 12.0), (False, 16.0)} <= modes
