"""PEAQ Basic version (ITU-R BS.1387-1): the public :func:`peaq` entry point.

Runs the FFT ear model on reference and test, computes the per-frame MOV precursors, averages
them over time (per channel, then over channels), and maps the 11 MOVs to DI and ODG with the
standard's neural network; the 2f-model MMS comes from two of the MOVs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bandgen.errors import ConfigError
from bandgen.metrics.peaq import averaging as avg
from bandgen.metrics.peaq.ear import (
    FULL_SCALE,
    N_FFT,
    SAMPLE_RATE,
    Array,
    ear_model,
    frame_signal,
    noise_pattern,
)
from bandgen.metrics.peaq.movs import (
    Detection,
    bandwidth,
    detection_probability,
    error_harmonic_structure,
    modulation_difference,
    noise_loudness,
    noise_to_mask,
    total_detection,
)
from bandgen.metrics.peaq.network import (
    MOV_NAMES,
    distortion_index,
    objective_difference_grade,
)
from bandgen.metrics.peaq.patterns import adapt, modulation, total_loudness
from bandgen.metrics.peaq.twof import twof_model


@dataclass(frozen=True)
class PeaqResult:
    """Result of :func:`peaq`.

    Attributes:
        odg: objective difference grade, -3.98 (very annoying) to 0.22 (imperceptible).
        di: distortion index, the network output before the ODG sigmoid.
        nmr_db: Total NMR_B in dB (noise-to-mask ratio; negative means noise below the mask).
        mms: 2f-model MUSHRA score (Kastner & Herre 2019), 0 to 100.
        movs: the 11 Basic MOVs keyed by their BS.1387 names (``BandwidthRef_B``, ...).
    """

    odg: float
    di: float
    nmr_db: float
    mms: float
    movs: dict[str, float]


@dataclass(frozen=True)
class _Precursors:
    """Per-frame MOV precursors of one channel, each ``[F]`` (detection per band ``[F, 109]``)."""

    bw_ref: Array
    bw_test: Array
    nmr_mean: Array
    nmr_max: Array
    mod_diff1: Array
    mod_diff2: Array
    mod_weight: Array
    noise_loudness: Array
    loudness_ref: Array
    loudness_test: Array
    detection: Detection
    ehs: Array

    def frames(self, first: int, last: int) -> _Precursors:
        """The precursors of frames ``first .. last`` (inclusive)."""
        cut = slice(first, last + 1)
        values = {k: v[cut] for k, v in vars(self).items() if k != "detection"}
        det = Detection(self.detection.probability[cut], self.detection.steps[cut])
        return _Precursors(**values, detection=det)


def _channel_precursors(ref: Array, test: Array) -> _Precursors:
    """Ear model, pattern processing and per-frame MOV precursors of one channel ``[T]``."""
    ref_frames, test_frames = frame_signal(ref), frame_signal(test)
    ear_ref, ear_test = ear_model(ref_frames), ear_model(test_frames)
    mod_ref, mod_test = modulation(ear_ref.unsmeared), modulation(ear_test.unsmeared)
    adapted = adapt(ear_ref.excitation, ear_test.excitation)
    bw = bandwidth(ear_ref.power, ear_test.power)
    nmr = noise_to_mask(noise_pattern(ear_ref, ear_test), ear_ref.excitation)
    mdiff = modulation_difference(mod_ref, mod_test)
    return _Precursors(
        bw_ref=bw.ref,
        bw_test=bw.test,
        nmr_mean=nmr.mean,
        nmr_max=nmr.max,
        mod_diff1=mdiff.diff1,
        mod_diff2=mdiff.diff2,
        mod_weight=mdiff.weight,
        noise_loudness=noise_loudness(mod_ref, mod_test, adapted),
        loudness_ref=total_loudness(ear_ref.excitation),
        loudness_test=total_loudness(ear_test.excitation),
        detection=detection_probability(ear_ref.excitation, ear_test.excitation),
        ehs=error_harmonic_structure(ref_frames, test_frames, ear_ref.power, ear_test.power),
    )


def _channel_movs(pre: _Precursors, mod_delay: int, loud_delay: int) -> dict[str, float]:
    """The MOVs of one channel from precursors cut to the averaged frames (section 5.2).

    All but ADB_B and MFPD_B, which come from all channels at once (binaural detection).
    """
    bw_ref, bw_test = avg.bandwidth_average(pre.bw_ref, pre.bw_test)
    total_nmr, rel_dist = avg.nmr_average(pre.nmr_mean, pre.nmr_max)
    mod = slice(mod_delay, None)
    return {
        "BandwidthRef_B": bw_ref,
        "BandwidthTest_B": bw_test,
        "Total NMR_B": total_nmr,
        "WinModDiff1_B": avg.windowed_average(pre.mod_diff1[mod]),
        "EHS_B": 1000.0 * avg.positive_average(pre.ehs),
        "AvgModDiff1_B": avg.weighted_average(pre.mod_diff1[mod], pre.mod_weight[mod]),
        "AvgModDiff2_B": avg.weighted_average(pre.mod_diff2[mod], pre.mod_weight[mod]),
        "RmsNoiseLoud_B": avg.rms_average(pre.noise_loudness[loud_delay:]),
        "RelDistFrames_B": rel_dist,
    }


def _as_channels(x: Any, name: str) -> Array:
    """Convert a numpy array or torch tensor ``[T]`` or ``[C, T]`` to float64 ``[C, T]``."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    wav = np.asarray(x)
    if not np.issubdtype(wav.dtype, np.floating):
        raise ConfigError(
            f"peaq: {name} must hold float samples with full scale 1.0, got {wav.dtype}; "
            "divide int16 audio by 32768"
        )
    wav = wav.astype(np.float64)
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise ConfigError(f"peaq: {name} must have shape [T] or [C, T], got {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise ConfigError(f"peaq: {name} contains NaN or infinite samples")
    return wav


def peaq(reference: Any, test: Any, sample_rate: int) -> PeaqResult:
    """PEAQ Basic version (ITU-R BS.1387-1) of ``test`` against ``reference``.

    Args:
        reference: reference signal, numpy array or torch tensor, ``[T]`` or ``[C, T]``, float
            with full scale 1.0 (a full-scale sine is taken to play at 92 dB SPL; PEAQ depends
            on level, so pass int16 audio as ``x / 32768``).
        test: signal under test, same shape as ``reference`` and time-aligned with it.
        sample_rate: must be 48000 Hz, the only rate BS.1387 defines; resample beforehand.

    Returns:
        :class:`PeaqResult`. For several channels every MOV is the mean of the channels' MOVs,
        except ADB_B and MFPD_B, which use the binaural detection probability (per-band maximum
        over channels, section 4.7.2).

    Raises:
        ConfigError: wrong sample rate, mismatched shapes, fewer than 2048 samples, integer or
            non-finite samples.

    The signal is cut into ``floor(T / 1024) - 1`` frames of 2048 samples with no zero-padded
    last frame (as PQevalAudio does), and MOVs are averaged only between the data boundaries
    of the reference (section 5.2.4.4). A 6 s stereo pair takes about a second on one core.
    """
    if sample_rate != SAMPLE_RATE:
        raise ConfigError(
            f"peaq: sample_rate must be {SAMPLE_RATE} Hz (BS.1387 is defined only at 48 kHz), "
            f"got {sample_rate}; resample both signals to 48 kHz first"
        )
    ref = _as_channels(reference, "reference") * FULL_SCALE
    tst = _as_channels(test, "test") * FULL_SCALE
    if ref.shape != tst.shape:
        raise ConfigError(
            f"peaq: reference {ref.shape} and test {tst.shape} must have the same channels "
            "and length; trim or align them first"
        )
    if ref.shape[1] < N_FFT:
        raise ConfigError(
            f"peaq: signals need at least {N_FFT} samples per channel, got shape {ref.shape}; "
            "pass [T] or channels-first [C, T]"
        )
    pres = [_channel_precursors(r, t) for r, t in zip(ref, tst, strict=True)]
    n_frames = pres[0].bw_ref.size
    frames = avg.data_boundary(ref, n_frames)
    cut = [p.frames(frames.first, frames.last) for p in pres]
    mod_delay = max(0, avg.AVERAGING_DELAY - frames.first)
    onset = avg.loudness_onset(
        np.stack([p.loudness_ref for p in cut]), np.stack([p.loudness_test for p in cut])
    )
    loud_delay = max(onset + avg.LOUDNESS_DELAY, mod_delay)
    per_channel = [_channel_movs(p, mod_delay, loud_delay) for p in cut]
    probability, steps = total_detection([p.detection for p in cut])
    adb, mfpd = avg.detection_average(probability, steps)
    binaural = {"ADB_B": adb, "MFPD_B": mfpd}
    named = {
        name: binaural[name] if name in binaural else float(np.mean([m[name] for m in per_channel]))
        for name in MOV_NAMES
    }
    di = distortion_index(np.array([named[name] for name in MOV_NAMES]))
    return PeaqResult(
        odg=objective_difference_grade(di),
        di=di,
        nmr_db=named["Total NMR_B"],
        mms=twof_model(named["AvgModDiff1_B"], named["ADB_B"]),
        movs=named,
    )
