"""The checks a decoder makes on a ``.bgn`` header before trusting any of it.

The header is JSON written by :meth:`bandgen.codec.Codec.header`; a damaged or hostile
stream can put anything there (with a valid CRC).  :func:`check_header` checks every
field the decoder uses for type and range before a codec is built or anything is
allocated, and raises :class:`~bandgen.errors.BitstreamError` naming the field.  The
length fields are checked against each other here and against the frames actually read
while decoding (:mod:`bandgen.decoder`), so memory follows the data, not the claims.

High-band configurations name their model by name and sha256. The decoder loads only
models shipped in the package (name and hash both checked) or a weights file the *user*
passes (``bandgen decode --weights FILE``, ``weights=`` in the API), whose hash must match the
stream's: a stream never chooses a file to open (:func:`hf_decode_config`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

from bandgen.audio import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, WORK_RATE
from bandgen.errors import BitstreamError

CORE_NAMES = ("aac", "opus", "mp3")
"""The core codecs a header may name: :data:`bandgen.core.CORE_NAMES`, kept here so that
checking a header (``bandgen info``) imports neither numpy nor PyAV (a test pins the two)."""

MAX_DEPTH = 4
"""Deepest nesting of objects/lists a header may have (it uses 3)."""
MAX_SAMPLES = WORK_RATE * 3600 * 24 * 7
"""Longest stream, in 48 kHz samples: a week."""
MAX_TEXT = 256
"""Longest string value."""
MAX_FRAME_PACKETS = 4096
"""Most core packets one container frame may group (``frame_packets``)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Per high-band method: option -> (types, check) for the config the decoder rebuilds it from.
# A method registered by a plugin has no entry: its config may hold JSON scalars only.
_Rule = tuple[tuple[type, ...], Any]
_HF_CONFIG: dict[str, dict[str, _Rule]] = {
    "none": {"frame_length": ((int,), range(1, 1 << 16))},
    "sbr": {
        "mode_kbps": ((int,), (12, 16, 24, 32)),
        "amp_res_db": ((int, float), (1.5, 3.0)),
        "start_band": ((int, type(None)), range(3, 64)),
        "stop_band": ((int, type(None)), range(4, 65)),
    },
    "nsbg": {
        "model": ((str,), "label"),
        "sha256": ((str,), _SHA256),
        "n_q": ((int,), range(1, 65)),
        "chunk_frames": ((int,), range(1, 1025)),
        "core_bands": ((int,), range(1, 65)),
    },
    "blind": {
        "model": ((str,), "label"),
        "sha256": ((str,), _SHA256),
        "chunk_frames": ((int,), range(1, 1025)),
        "core_bands": ((int,), range(1, 65)),
    },
}

FULL_BAND_CORES = ("spectrostream", "hpcodec")
"""Cores that code the whole band jointly, with no high-band method (:mod:`bandgen.spectro_codec`,
:mod:`bandgen.hp_codec`)."""

MODEL_METHODS = ("nsbg", "blind")
"""High-band methods whose decoder loads a trained model (named in the header)."""


def _fail(field: str, problem: str) -> BitstreamError:
    return BitstreamError(f"corrupt .bgn header: {field} {problem}")


def _depth(value: Any) -> int:
    """Nesting depth, stopping once past :data:`MAX_DEPTH` (so a deep value costs little)."""
    todo = [(value, 0)]
    deepest = 0
    while todo:
        item, level = todo.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        todo.extend((child, level + 1) for child in children)
    return deepest


def _int(header: Mapping[str, Any], key: str, low: int, high: int, field: str = "") -> int:
    value = header.get(key)
    name = field or key
    if type(value) is not int:
        raise _fail(name, f"must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise _fail(name, f"= {value} is outside {low}..{high}")
    return value


def _number(header: Mapping[str, Any], key: str, low: float, high: float, field: str) -> float:
    value: Any = header.get(key)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _fail(field, f"must be a finite number, got {str(value)[:40]!r}")
    if not low <= value <= high:
        raise _fail(field, f"= {value} is outside {low:g}..{high:g}")
    return float(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _fail(field, f"must be a text of at most {MAX_TEXT} characters")
    return value


def _object(value: Any, field: str, max_keys: int = 32) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > max_keys:
        raise _fail(field, f"must be an object of at most {max_keys} entries")
    return value


def _check_core(core: Any) -> None:
    core = _object(core, "core")
    expected = {"name", "bitrate", "sample_rate", "cutoff_hz", "options"}
    if set(core) != expected:
        raise _fail("core", f"must hold exactly {sorted(expected)}, got {sorted(core)}")
    if core["name"] not in (*CORE_NAMES, *FULL_BAND_CORES):
        names = (*CORE_NAMES, *FULL_BAND_CORES)
        raise _fail("core.name", f"{str(core['name'])[:40]!r} is not one of {names}")
    _int(core, "bitrate", 1, 10_000_000, "core.bitrate")
    rate = _int(core, "sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, "core.sample_rate")
    _number(core, "cutoff_hz", 1.0, rate / 2, "core.cutoff_hz")
    for key, value in _object(core["options"], "core.options", 16).items():
        _text(key, "core.options key")
        _text(value, f"core.options[{key!r}]")


def _check_rule(method: str, key: str, value: Any, rule: _Rule) -> None:
    types, allowed = rule
    field = f"hf.config.{key}"
    if type(value) not in types:
        raise _fail(field, f"has the wrong type ({type(value).__name__}) for --hf {method}")
    if value is None:
        return
    if allowed == "label":
        _text(value, field)
    elif isinstance(allowed, re.Pattern):
        if not allowed.match(value):
            raise _fail(field, "is not a sha256 hex digest")
    elif value not in allowed:
        raise _fail(field, f"= {value!r} is not allowed for --hf {method}")


def _check_hf(hf: Any) -> None:
    from bandgen.hf.registry import available

    hf = _object(hf, "hf")
    method = hf.get("method")
    if method not in available():
        raise _fail("hf.method", f"{str(method)[:40]!r} is not one of {available()}")
    config = _object(hf.get("config", {}), "hf.config")
    rules = _HF_CONFIG.get(method)
    for key, value in config.items():
        if key == "weights" and method in MODEL_METHODS:
            _text(value, "hf.config.weights")  # never opened: see hf_decode_config
            continue
        if rules is None:
            if not isinstance(value, str | int | float | bool | type(None)):
                raise _fail(f"hf.config.{key}", "must be a JSON scalar")
            continue
        if key not in rules:
            raise _fail(f"hf.config.{key}", f"is not an option of --hf {method}")
        _check_rule(method, key, value, rules[key])


def check_counts(header: Mapping[str, Any]) -> None:
    """Check the length and frame count, where present (from container version 2 they
    arrive with the end record, after the frames).

    Raises:
        BitstreamError: a count of the wrong type or out of range.
    """
    for key in ("num_samples", "num_frames"):
        if key in header:
            _int(header, key, 0, MAX_SAMPLES)


def check_header(header: Mapping[str, Any]) -> None:
    """Check every field of a ``.bgn`` header the decoder relies on.

    Raises:
        BitstreamError: a field missing, of the wrong type, out of range, or a header
            nested deeper than :data:`MAX_DEPTH`.
    """
    if _depth(header) > MAX_DEPTH:
        raise _fail("", f"nests deeper than {MAX_DEPTH} levels")
    _text(header.get("bandgen_version", ""), "bandgen_version")
    _int(header, "sample_rate", WORK_RATE, WORK_RATE)
    _int(header, "source_sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
    _int(header, "channels", 1, MAX_CHANNELS)
    check_counts(header)
    if "frame_packets" in header:
        _int(header, "frame_packets", 1, MAX_FRAME_PACKETS)
    _number(header, "bitrate_kbps", 1e-3, 1e5, "bitrate_kbps")
    _check_core(header.get("core"))
    _check_hf(header.get("hf"))
    if header["core"]["name"] in FULL_BAND_CORES:
        _check_full_band(header)


def _check_full_band(header: Mapping[str, Any]) -> None:
    """A full-band stream: no high band, and the model and framing its core names."""
    if header["hf"].get("method") != "none" or header["hf"].get("config"):
        raise _fail("hf", "must be the method 'none' with no config for a full-band core")
    if header["core"]["name"] == "hpcodec":
        _check_hpcodec(header)
    else:
        _check_spectrostream(header)


def _check_model(spec: Mapping[str, Any], core: str) -> None:
    _text(spec["model"], f"{core}.model")
    if not isinstance(spec["sha256"], str) or not _SHA256.match(spec["sha256"]):
        raise _fail(f"{core}.sha256", "is not a sha256 hex digest")
    _int(spec, "code_bits", 1, 16, f"{core}.code_bits")


def _check_hpcodec(header: Mapping[str, Any]) -> None:
    """An HP-codec stream: the model, the branches coded (1: 16 kHz, 2: full band), framing."""
    spec = _object(header.get("hpcodec"), "hpcodec", 8)
    expected = {"model", "sha256", "branches", "code_bits", "tokens_per_frame"}
    if set(spec) != expected:
        raise _fail("hpcodec", f"must hold exactly {sorted(expected)}, got {sorted(spec)}")
    _check_model(spec, "hpcodec")
    _int(spec, "branches", 1, 2, "hpcodec.branches")
    _int(spec, "tokens_per_frame", 1, 1024, "hpcodec.tokens_per_frame")


def _check_spectrostream(header: Mapping[str, Any]) -> None:
    """A SpectroStream stream: the model, levels and framing it names."""
    spec = _object(header.get("spectrostream"), "spectrostream", 8)
    expected = {"model", "sha256", "levels", "code_bits", "embeddings_per_frame"}
    if set(spec) != expected:
        raise _fail("spectrostream", f"must hold exactly {sorted(expected)}, got {sorted(spec)}")
    _check_model(spec, "spectrostream")
    _int(spec, "embeddings_per_frame", 1, 1024, "spectrostream.embeddings_per_frame")
    levels = spec["levels"]
    groups = (header["channels"] + 1) // 2
    if not isinstance(levels, list) or len(levels) != groups:
        raise _fail(
            "spectrostream.levels", f"must list one level count per channel pair ({groups})"
        )
    for i, count in enumerate(levels):
        _int({"n": count}, "n", 1, 1024, f"spectrostream.levels[{i}]")


def hf_decode_config(
    hf: Mapping[str, Any], weights: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The options to rebuild a checked header's high-band coder with, for decoding.

    A stream names its model (``model`` + ``sha256``); only a model shipped with bandgen is
    loaded by name. Any other model must be passed by the user as ``weights`` (its sha256 is
    then checked against the stream's by the coder). A ``weights`` path written in the
    stream (older bandgen wrote one for a training run's model) is never opened.

    Raises:
        ConfigError: ``weights`` given for a method that loads no model.
        BitstreamError: the stream needs a model that is not shipped (or names a weights
            path) and no ``weights`` were given.
    """
    from bandgen.errors import ConfigError

    method = hf["method"]
    config = dict(hf.get("config", {}))
    named_path = config.pop("weights", None)
    if method not in MODEL_METHODS:
        if weights is not None:
            raise ConfigError(
                f"--weights is for streams coded with a trained model ({', '.join(MODEL_METHODS)}"
                f"); this stream's high band is {method!r}, which loads none"
            )
        return config
    if weights is not None:
        return {**config, "weights": str(weights)}
    model, sha256 = config.get("model"), config.get("sha256")
    if named_path is not None:
        raise BitstreamError(
            f"the stream names a weights file by path ({str(named_path)[:80]!r}); bandgen never "
            "opens a file a stream names: if you trust that model, pass it with --weights FILE"
        )
    if not isinstance(model, str) or model not in _shipped_models():
        raise BitstreamError(
            f"the stream was coded with model {str(model)[:40]!r} (sha256 {str(sha256)[:16]}...), "
            "which is not shipped with this bandgen: pass its weights with "
            "--weights FILE.safetensors (its .json beside it)"
        )
    return config


def _shipped_models() -> list[str]:
    from bandgen.pretrained.registry import list_models

    return list_models(kind="nsbg")
