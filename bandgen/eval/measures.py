"""The metrics the evaluation can compute, by name (``--metrics lsd,lsd_hi,mel,visqol``).

Each :class:`Measure` wraps a function of :mod:`bandgen.metrics` with the evaluation's settings
(:class:`MeasureConfig`): the split frequency of the band-limited LSDs and the optional
reference low-pass. Results of a cached run are reused only when the config is the same.

Two measures are the evaluation's own: ``lsd_4k``, the LSD above 4 kHz whatever ``--split-hz``
says (``lsd_hi`` at the default split), and ``bw``, the bandwidth of the coded output alone
(:func:`output_bandwidth_hz`).

Per band region (:data:`REGIONS_KHZ`): ``lsd_A_Bk`` is the LSD over the STFT bins in
``[A, B)`` kHz, ``mel_A_Bk`` the share of ``mel`` owed to the mel bands peaking there
(:func:`bandgen.metrics.basic.mel_distance`; the six shares add up to ``mel``). They show
whether a codec loses in the core band or in the regenerated one. ``--metrics lsd_regions``
and ``mel_regions`` name all six of a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bandgen.errors import ConfigError

__all__ = [
    "BW_BAND_HZ",
    "BW_FLOOR_DB",
    "DEFAULT_METRICS",
    "MEASURES",
    "METRIC_GROUPS",
    "REGIONS_KHZ",
    "Measure",
    "MeasureConfig",
    "compute",
    "output_bandwidth_hz",
    "parse_metrics",
]

BW_BAND_HZ = 250.0
"""Width of the bands of :func:`output_bandwidth_hz`, Hz."""
BW_FLOOR_DB = 60.0
"""A band counts as content down to this many dB below the strongest band."""


@dataclass(frozen=True)
class MeasureConfig:
    """Settings shared by all metrics of a run.

    Attributes:
        split_hz: boundary of ``lsd_lo`` (below) and ``lsd_hi`` (at and above), Hz.
        ref_lowpass_hz: low-pass the reference here before measuring (``None``: full band).
    """

    split_hz: float = 4000.0
    ref_lowpass_hz: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Fn = Callable[[np.ndarray, np.ndarray, int, MeasureConfig], float]


@dataclass(frozen=True)
class Measure:
    """A named metric: ``fn(reference, test, sample_rate, config) -> float``.

    Attributes:
        name: the ``--metrics`` name and CSV column.
        label: axis label for plots, with units.
        higher_is_better: direction, for plots and tables.
        fn: the function.
    """

    name: str
    label: str
    higher_is_better: bool
    fn: Fn


def _pair(config: MeasureConfig) -> dict[str, Any]:
    return {"lowpass_hz": config.ref_lowpass_hz}


def _lsd(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
    from bandgen.metrics.basic import lsd

    return lsd(ref, test, sr, **_pair(c))


def _lsd_lo(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
    from bandgen.metrics.basic import lsd

    return lsd(ref, test, sr, max_hz=c.split_hz, **_pair(c))


def _lsd_hi(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
    from bandgen.metrics.basic import lsd

    return lsd(ref, test, sr, min_hz=c.split_hz, **_pair(c))


def _lsd_4k(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
    from bandgen.metrics.basic import lsd

    return lsd(ref, test, sr, min_hz=4000.0, **_pair(c))


REGIONS_KHZ: tuple[tuple[int, int], ...] = ((0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 24))
"""Band regions of the per-region metrics, kHz: ``[A, B)``; the last one ends at Nyquist."""


def _region_name(kind: str, lo_khz: int, hi_khz: int) -> str:
    return f"{kind}_{lo_khz}_{hi_khz}k"


def _region_hz(lo_khz: int, hi_khz: int) -> dict[str, float | None]:
    """``min_hz``/``max_hz`` of a region; the last one has no top (Nyquist included)."""
    top = None if (lo_khz, hi_khz) == REGIONS_KHZ[-1] else 1000.0 * hi_khz
    return {"min_hz": 1000.0 * lo_khz, "max_hz": top}


def _lsd_region(lo_khz: int, hi_khz: int) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics.basic import lsd

        return lsd(ref, test, sr, **_region_hz(lo_khz, hi_khz), **_pair(c))

    return fn


def _mel_region(lo_khz: int, hi_khz: int) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics.basic import mel_distance

        return mel_distance(ref, test, sr, **_region_hz(lo_khz, hi_khz), **_pair(c))

    return fn


def _region_measures() -> list[Measure]:
    out = []
    for lo, hi in REGIONS_KHZ:
        out.append(
            Measure(_region_name("lsd", lo, hi), f"LSD {lo}-{hi} kHz", False, _lsd_region(lo, hi))
        )
    for lo, hi in REGIONS_KHZ:
        out.append(
            Measure(
                _region_name("mel", lo, hi),
                f"mel distance share, bands peaking at {lo}-{hi} kHz",
                False,
                _mel_region(lo, hi),
            )
        )
    return out


def output_bandwidth_hz(
    wav: np.ndarray,
    sample_rate: int,
    *,
    band_hz: float = BW_BAND_HZ,
    floor_db: float = BW_FLOOR_DB,
) -> float:
    """Bandwidth of a signal: the top edge of its highest band within ``floor_db`` of the strongest.

    The long-term spectrum is a Welch PSD (4096-point periodic Hann, 50 % overlap) summed over
    channels, then summed into bands ``[k * band_hz, (k + 1) * band_hz)``. Like ``bw80`` of
    ``../shared/data/tools/bandwidth.py`` it is an energy measure (hiss counts as content), but
    relative to the peak band, so it does not depend on the level: a codec's low-pass or the top
    of its generated band shows as the edge where its output falls 60 dB below its peak band.

    Args:
        wav: ``[C, T]`` or ``[T]``.
        sample_rate: Hz.

    Returns:
        Hz; 0 for a silent signal.
    """
    from scipy.signal import welch

    x = np.atleast_2d(np.asarray(wav, dtype=np.float64))
    n_fft = min(4096, x.shape[-1])
    freqs, psd = welch(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft // 2, axis=-1)
    power = psd.sum(axis=0)
    bands = np.bincount((freqs // band_hz).astype(np.int64), weights=power)
    if not bands.max() > 0:
        return 0.0
    top = np.flatnonzero(bands >= bands.max() * 10.0 ** (-floor_db / 10.0))[-1]
    return float(min((top + 1) * band_hz, sample_rate / 2))


def _bw(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
    return output_bandwidth_hz(test, sr)


def _basic(name: str) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics import basic

        return float(getattr(basic, name)(ref, test, sr, **_pair(c)))

    return fn


def _external(name: str, **options: Any) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics import external

        return float(getattr(external, name)(ref, test, sr, **options, **_pair(c)))

    return fn


def _stereo(field: str) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics.stereo import stereo_image_error

        return float(getattr(stereo_image_error(ref, test, sr, **_pair(c)), field))

    return fn


_PEAQ_MEMO: dict[str, Any] = {}
"""PEAQ of the pair being measured, shared by ``nmr``, ``odg`` and ``mms`` (cleared per pair)."""


def _peaq(field: str) -> Fn:
    def fn(ref: np.ndarray, test: np.ndarray, sr: int, c: MeasureConfig) -> float:
        from bandgen.metrics import peaq
        from bandgen.metrics.signals import prepare_pair

        if "result" not in _PEAQ_MEMO:
            r, t = prepare_pair(ref, test, sr, **_pair(c))
            _PEAQ_MEMO["result"] = peaq(r, t, sr)
        return float(getattr(_PEAQ_MEMO["result"], field))

    return fn


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("lsd", "LSD, full band", False, _lsd),
        Measure("lsd_lo", "LSD below split", False, _lsd_lo),
        Measure("lsd_hi", "LSD above split", False, _lsd_hi),
        Measure("lsd_4k", "LSD above 4 kHz", False, _lsd_4k),
        Measure("bw", "output bandwidth (Hz, -60 dB of peak band)", True, _bw),
        Measure("mel", "multi-scale mel distance", False, _basic("mel_distance")),
        Measure("mrstft", "multi-resolution STFT distance", False, _basic("mrstft_distance")),
        Measure("sisdr", "SI-SDR (dB)", True, _basic("si_sdr")),
        Measure("snr", "SNR (dB)", True, _basic("snr")),
        Measure("visqol", "ViSQOL v3 audio MOS-LQO", True, _external("visqol", mode="audio")),
        Measure(
            "visqol_speech", "ViSQOL v3 speech MOS-LQO", True, _external("visqol", mode="speech")
        ),
        Measure("pesq", "PESQ WB MOS-LQO", True, _external("pesq_wb")),
        Measure("stoi", "STOI", True, _external("stoi")),
        Measure("nmr", "PEAQ Total NMR_B (dB)", False, _peaq("nmr_db")),
        Measure("odg", "PEAQ Basic ODG", True, _peaq("odg")),
        Measure("mms", "2f-model MMS", True, _peaq("mms")),
        *_region_measures(),
        Measure("ild", "stereo level-difference error (dB; NaN if mono)", False, _stereo("ild_db")),
        Measure("icc", "stereo coherence error (NaN if mono)", False, _stereo("icc")),
    )
}
"""All metrics by name."""

DEFAULT_METRICS = ("lsd", "lsd_lo", "lsd_hi", "mel")
"""Metrics computed when ``--metrics`` is not given."""

METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    f"{kind}_regions": tuple(_region_name(kind, lo, hi) for lo, hi in REGIONS_KHZ)
    for kind in ("lsd", "mel")
}
"""``--metrics`` names that stand for several metrics (expanded in place)."""


def parse_metrics(text: str | None) -> list[str]:
    """Split a comma-separated metric list; ``None`` gives :data:`DEFAULT_METRICS`."""
    given = (
        list(DEFAULT_METRICS) if text is None else [n.strip() for n in text.split(",") if n.strip()]
    )
    names = [m for n in given for m in METRIC_GROUPS.get(n, (n,))]
    unknown = [n for n in names if n not in MEASURES]
    if unknown or not names:
        raise ConfigError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from: "
            f"{', '.join([*MEASURES, *METRIC_GROUPS])}"
        )
    return list(dict.fromkeys(names))


def compute(
    names: list[str],
    reference: np.ndarray,
    test: np.ndarray,
    sample_rate: int,
    config: MeasureConfig,
) -> dict[str, float]:
    """Compute the named metrics of one pair; returns ``{name: value}``."""
    _PEAQ_MEMO.clear()
    try:
        return {n: MEASURES[n].fn(reference, test, sample_rate, config) for n in names}
    finally:
        _PEAQ_MEMO.clear()
