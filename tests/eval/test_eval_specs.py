"""Codec spec parsing and the external-codec command templates."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bandgen.errors import ConfigError
from bandgen.eval.specs import code, parse_ext, parse_spec


def test_parse_bandgen_anchor_and_ext_specs():
    spec = parse_spec("none:16")
    assert (spec.kind, spec.method, spec.kbps, spec.core, spec.family) == (
        "bandgen",
        "none",
        16.0,
        "aac",
        "none",
    )
    assert parse_spec("none:12:opus").family == "none/opus"
    anchor = parse_spec("aac:24")
    assert (anchor.kind, anchor.method, anchor.sample_rate) == ("anchor", "aac", None)
    assert parse_spec("opus:12:48000").sample_rate == 48_000
    ext = {"copy": parse_ext("copy='enc {in} {out} {kbps}|dec {in} {out}'")}
    spec = parse_spec("ext:copy:12", ext)
    assert (spec.kind, spec.method, spec.kbps, spec.slug) == ("ext", "copy", 12.0, "ext_copy_12")


@pytest.mark.parametrize(
    "text, message",
    [
        ("none", "METHOD:KBPS"),
        ("none:abc", "not a positive number"),
        ("none:-3", "not a positive number"),
        ("nope:12", "unknown method"),
        ("aac:16:fast", "sample rate"),
        ("ext:missing:12", "no --ext"),
    ],
)
def test_bad_specs_say_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x=enc {in} {out} {kbps}", "exactly two commands"),
        ("x=enc {in} {out}|dec {in} {out}", r"lacks \{kbps\}"),
        ("=enc {in} {out} {kbps}|dec {in} {out}", "plain NAME"),
    ],
)
def test_bad_ext_declarations(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_ext(text)


def test_external_identity_codec_round_trip(tmp_path):
    script = tmp_path / "copy.py"
    script.write_text("import shutil, sys\nshutil.copyfile(sys.argv[1], sys.argv[2])\n")
    py = sys.executable
    ext = parse_ext(f"copy='{py} {script} {{in}} {{out}} {{kbps}}|{py} {script} {{in}} {{out}}'")
    wav = 0.1 * np.random.default_rng(0).standard_normal((2, 4800)).astype(np.float32)
    coded = code(parse_spec("ext:copy:12", {"copy": ext}), wav, {"copy": ext})
    assert coded.wav.shape == wav.shape
    np.testing.assert_allclose(coded.wav, wav, atol=2**-22)
    # a 24-bit stereo WAV: 48000 * 24 * 2 bit/s, i.e. 1152 kbps per channel plus the header
    assert coded.kbps == pytest.approx(1152, rel=0.01)


def test_failing_external_command_reports_stderr(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.exit('boom')\n")
    py = sys.executable
    ext = parse_ext(f"bad={py} {script} {{in}} {{out}} {{kbps}}|{py} {script} {{in}} {{out}}")
    wav = np.zeros((1, 480), np.float32)
    with pytest.raises(ConfigError, match="boom"):
        code(parse_spec("ext:bad:8", {"bad": ext}), wav, {"bad": ext})
