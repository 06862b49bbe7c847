"""Wrappers for perceptual metrics from other packages: ViSQOL v3, PESQ (wideband), STOI.

The packages are optional (the ``[metrics]`` extra) and imported on first use. Each wrapper
takes ``(reference, test, sample_rate)`` like :mod:`bandgen.metrics.basic` (numpy or torch,
``[T]`` or ``[C, T]``, same rate, length and channel count, optional ``lowpass_hz`` / ``align``),
resamples *both* signals to the rate the metric is defined at (soxr, VHQ), scores each channel
and returns the mean over channels.

- ViSQOL v3 (Chinen et al., QoMEX 2020) via ``visqol-python``, a pure-Python port of Google's
  C++ ViSQOL v3 that ships its SVR model (no download at run time). ``audio`` mode works at
  48 kHz (MOS-LQO 1..~4.75); ``speech`` mode at 16 kHz uses the lattice (deep lattice
  network) MOS model, ViSQOL v3's default for speech, which runs on the TFLite runtime
  ``ai-edge-litert`` (part of the extra; the model file ships in ``visqol-python``). The
  polynomial mapping it replaces can differ by 1-2 MOS points. Install ``numba`` too:
  without it ViSQOL audio mode takes ~20 s per 10-s clip, with it ~1.5 s.
- PESQ (ITU-T P.862.2 wideband) via ``pesq`` at 16 kHz (MOS-LQO 1.04..4.64).
- STOI (Taal et al. 2011) via ``pystoi`` (0..1; it resamples to 10 kHz itself).
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from typing import Any

import numpy as np

from bandgen.audio.resample import resample
from bandgen.errors import ConfigError, MissingDependencyError
from bandgen.metrics.signals import prepare_pair

__all__ = ["PESQ_RATE", "VISQOL_RATES", "pesq_wb", "stoi", "visqol"]

VISQOL_RATES = {"audio": 48_000, "speech": 16_000}
"""Sample rate ViSQOL is run at, per mode, in Hz."""
PESQ_RATE = 16_000
"""Sample rate of wideband PESQ in Hz."""


def _require(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"this metric needs the {package!r} package; install the metrics extra: "
            f"pip install 'bandgen[metrics]' (or: pip install {package})"
        ) from None


def _at_rate(wav: np.ndarray, sample_rate: int, rate: int) -> np.ndarray:
    return resample(wav.astype(np.float32), sample_rate, rate).astype(np.float64)


@lru_cache(maxsize=2)
def _visqol_api(mode: str) -> Any:
    # the numba kernels are parallel; one thread keeps parallel evaluation workers from fighting
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    api_module = _require("visqol.api", "visqol-python")
    api = api_module.VisqolApi()
    if mode == "speech":
        _require("ai_edge_litert", "ai-edge-litert")  # runtime of the lattice model
        api.create(mode="speech", use_lattice_model=True)
    else:
        api.create(mode="audio")
    return api


def visqol(
    reference: Any, test: Any, sample_rate: int, *, mode: str = "audio", **pair_options: Any
) -> float:
    """ViSQOL v3 MOS-LQO, mean over channels.

    Args:
        reference, test: ``[T]`` or ``[C, T]``.
        sample_rate: Hz; both signals are resampled to 48 kHz (``audio``) or 16 kHz (``speech``).
        mode: ``"audio"`` (music and general audio) or ``"speech"``.
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align``.

    Raises:
        MissingDependencyError: ``visqol-python`` is not installed.
    """
    if mode not in VISQOL_RATES:
        raise ConfigError(f"ViSQOL mode must be 'audio' or 'speech', got {mode!r}")
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    api = _visqol_api(mode)
    rate = VISQOL_RATES[mode]
    ref, tst = _at_rate(ref, sample_rate, rate), _at_rate(tst, sample_rate, rate)
    scores = [
        float(api.measure_from_arrays(r, t, rate).moslqo) for r, t in zip(ref, tst, strict=True)
    ]
    return float(np.mean(scores))


def pesq_wb(reference: Any, test: Any, sample_rate: int, **pair_options: Any) -> float:
    """Wideband PESQ (ITU-T P.862.2) MOS-LQO at 16 kHz, mean over channels.

    Args:
        reference, test: ``[T]`` or ``[C, T]``; resampled to 16 kHz.
        sample_rate: Hz.
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align``.

    Raises:
        MissingDependencyError: ``pesq`` is not installed.
        ConfigError: PESQ finds no speech in the reference.
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    pesq_module = _require("pesq", "pesq")
    ref, tst = _at_rate(ref, sample_rate, PESQ_RATE), _at_rate(tst, sample_rate, PESQ_RATE)
    scores = []
    for r, t in zip(ref, tst, strict=True):
        try:
            scores.append(float(pesq_module.pesq(PESQ_RATE, r, t, "wb")))
        except pesq_module.PesqError as exc:
            raise ConfigError(
                f"PESQ cannot score this signal ({type(exc).__name__}: {exc})"
            ) from None
    return float(np.mean(scores))


def stoi(
    reference: Any, test: Any, sample_rate: int, *, extended: bool = False, **pair_options: Any
) -> float:
    """Short-time objective intelligibility (0..1), mean over channels.

    Args:
        reference, test: ``[T]`` or ``[C, T]`` (pystoi resamples to 10 kHz internally).
        sample_rate: Hz.
        extended: compute ESTOI (Jensen & Taal 2016) instead.
        **pair_options: ``test_sample_rate``, ``lowpass_hz``, ``align``.

    Raises:
        MissingDependencyError: ``pystoi`` is not installed.
    """
    ref, tst = prepare_pair(reference, test, sample_rate, **pair_options)
    pystoi = _require("pystoi", "pystoi")
    scores = [
        float(pystoi.stoi(r, t, sample_rate, extended=extended))
        for r, t in zip(ref, tst, strict=True)
    ]
    return float(np.mean(scores))
