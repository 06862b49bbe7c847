"""Shared fixtures: seeded synthetic clips, seeded generators, and the real ``../shared`` data.

The default suite needs nothing outside the repository: :func:`synth_clip` makes music-,
speech- and sound-like clips at any rate and channel count. Tests that truly need the real
reference data (PEAQ conformance against ``shared/metrics-reference``, the shipped models on a
real dev clip) carry the ``shared_data`` marker and skip, saying so, when ``../shared`` (or
``$BANDGEN_SHARED``) is missing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BANDGEN_SHARED", REPO.parent / "shared"))
DEV_DIR = SHARED / "data" / "dev"

torch.set_num_threads(1)

SHARED_MISSING = (
    f"needs the real data of ../shared, which is not at {SHARED} "
    "(point BANDGEN_SHARED at the shared folder to run it)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shared_data: needs the real data of ../shared (skipped, with the reason, without it)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared_data") and not SHARED.is_dir():
        pytest.skip(SHARED_MISSING)


# -- synthetic clips ------------------------------------------------------------------------------


def _shaped_noise(
    rng: np.random.Generator, n: int, sr: int, lo_hz: float, hi_hz: float
) -> np.ndarray:
    """White noise band-limited to ``[lo_hz, hi_hz)`` with a gentle ``1/sqrt(f)`` tilt, ``[n]``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spec *= ((freqs >= lo_hz) & (freqs < hi_hz)) / np.sqrt(np.maximum(freqs, 100.0) / 100.0)
    noise = np.fft.irfft(spec, n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def _harmonics(
    f0_hz: float,
    t: np.ndarray,
    sr: int,
    tilt: float,
    rng: np.random.Generator,
    gain: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Band-limited harmonic tone of ``f0_hz`` over times ``t``: up to 100 partials below
    0.45 ``sr``, amplitudes ``k ** -tilt`` (randomised, times ``gain(freq_hz)`` if given)."""
    k = np.arange(1, min(100, max(2, int(0.45 * sr / f0_hz))) + 1)
    amps = k**-tilt * (0.5 + rng.random(k.shape[0]))
    if gain is not None:
        amps = amps * gain(k * f0_hz)
    phases = rng.uniform(0, 2 * np.pi, k.shape[0])
    return amps @ np.sin(2 * np.pi * f0_hz * k[:, None] * t[None, :] + phases[:, None])


def _music(rng: np.random.Generator, n: int, sr: int, channels: int) -> np.ndarray:
    """Chords of bright harmonic tones (a new one every 0.5 s) over kick and hi-hat bursts."""
    out = np.zeros((channels, n))
    t = np.arange(n) / sr
    scale = 110.0 * 2.0 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21, 24]) / 12)
    seg = sr // 2
    for start in range(0, n, seg):
        tt = t[start : start + seg] - t[start]
        env = (1 - np.exp(-tt / 0.01)) * np.exp(-tt / 0.8)
        for _ in range(3):
            tone = _harmonics(float(rng.choice(scale)), tt, sr, 1.1, rng) * env
            pan = rng.uniform(0.25, 0.75)
            for c in range(channels):
                out[c, start : start + tt.shape[0]] += tone * (pan if c % 2 else 1 - pan)
    beat = np.mod(t, 0.25)
    kick = np.exp(-beat / 0.06) * np.sin(2 * np.pi * 55 * beat * (1 + 2 * np.exp(-beat / 0.02)))
    for c in range(channels):
        hat = _shaped_noise(rng, n, sr, 5000.0, 0.48 * sr) * np.exp(-np.mod(t + 0.125, 0.25) / 0.03)
        out[c] += 2.0 * kick + 0.4 * hat
    return out


# vowel formants (F1, F2, F3) in Hz
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480], [570, 840, 2410]])


def _speech(rng: np.random.Generator, n: int, sr: int, channels: int) -> np.ndarray:
    """Syllables (~4 Hz AM) of a formant-shaped harmonic voice, fricative bursts between them."""
    voice = np.zeros(n)
    pos = int(0.05 * sr)
    while pos < n:
        length = int(rng.uniform(0.15, 0.3) * sr)
        tt = np.arange(min(length, n - pos)) / sr
        formants = _VOWELS[rng.integers(len(_VOWELS))] * rng.uniform(0.9, 1.1)

        def gain(f: np.ndarray, formants: np.ndarray = formants) -> np.ndarray:
            return sum(1.0 / (1.0 + ((f - fc) / 90.0) ** 2) for fc in formants) + 0.02

        f0 = rng.uniform(100.0, 170.0)
        am = np.sin(np.pi * tt / (length / sr)) ** 2
        voice[pos : pos + tt.shape[0]] = _harmonics(f0, tt, sr, 0.7, rng, gain) * am
        pos += tt.shape[0]
        gap = int(rng.uniform(0.05, 0.2) * sr)
        if rng.random() < 0.6 and pos < n:  # a fricative in the gap
            burst = min(gap, n - pos)
            hiss = _shaped_noise(rng, burst, sr, 3000.0, min(14000.0, 0.48 * sr))
            voice[pos : pos + burst] = 0.3 * hiss * np.hanning(burst)
        pos += gap
    voice /= np.max(np.abs(voice)) + 1e-12
    return np.stack([voice * (1.0 - 0.1 * c) for c in range(channels)])


def _sound(rng: np.random.Generator, n: int, sr: int, channels: int) -> np.ndarray:
    """A repeating log sweep (200 Hz to 12 kHz), coloured noise bursts and a mains hum."""
    t = np.arange(n) / sr
    period = 2.0
    phase = 2 * np.pi * 200.0 * period / np.log(60.0) * (60.0 ** (np.mod(t, period) / period) - 1)
    out = np.zeros((channels, n))
    for c in range(channels):
        out[c] = (
            0.5 * np.sin(phase + c)
            + 0.1 * np.sin(2 * np.pi * 50 * t)
            + 0.05 * np.sin(2 * np.pi * 150 * t)
        )
        for _ in range(int(4 * n / sr)):
            start, length = rng.integers(0, n), int(rng.uniform(0.05, 0.4) * sr)
            lo = rng.uniform(100.0, 8000.0)
            burst = _shaped_noise(rng, length, sr, lo, min(4 * lo, 0.48 * sr))
            burst *= np.exp(-np.arange(length) / (0.3 * length))
            stop = min(n, start + length)
            out[c, start:stop] += 0.5 * burst[: stop - start]
    return out


_KINDS = {"music": (_music, 2, 1), "speech": (_speech, 1, 2), "sound": (_sound, 1, 3)}


@functools.lru_cache(maxsize=64)
def _synth(kind: str, seconds: float, sample_rate: int, channels: int, seed: int) -> np.ndarray:
    make, _, salt = _KINDS[kind]
    rng = np.random.default_rng([salt, seed])
    n = round(seconds * sample_rate)
    wav = make(rng, n, sample_rate, channels)
    wav = wav + 1e-4 * rng.standard_normal(wav.shape)  # a recording's noise floor: never silent
    wav *= 0.7 / np.max(np.abs(wav))
    out = wav.astype(np.float32)
    out.setflags(write=False)
    return out


def make_clip(
    kind: str,
    *,
    seconds: float,
    sample_rate: int = 48_000,
    channels: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A seeded synthetic clip standing in for a dev clip: float32 ``wav [C, T]``, peak 0.7.

    Args:
        kind: ``"music"`` (harmonic chords with partials to 0.45 ``sample_rate``, kick and
            hi-hat bursts; stereo by default), ``"speech"`` (formant-shaped voiced syllables
            with ~4 Hz AM and fricative noise bursts; mono by default) or ``"sound"`` (sweeps,
            coloured noise bursts, hum; mono by default).
        seconds: duration; ``T = round(seconds * sample_rate)``.
        sample_rate: Hz (any; the content scales with it).
        channels: ``C`` (default by kind); channels differ (panning, independent noise).
        seed: another seed gives another clip of the same kind.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown clip kind {kind!r}; one of {sorted(_KINDS)}")
    count = _KINDS[kind][1] if channels is None else channels
    return _synth(kind, float(seconds), int(sample_rate), int(count), int(seed)).copy()


@pytest.fixture(scope="session")
def synth_clip() -> Callable[..., np.ndarray]:
    """:func:`make_clip`: ``synth_clip("music", seconds=2.0) -> wav [2, 96000]`` at 48 kHz."""
    return make_clip


# -- real data ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the repository (or ``$BANDGEN_SHARED``)."""
    if not SHARED.is_dir():
        pytest.skip(SHARED_MISSING)
    return SHARED


@pytest.fixture(scope="session")
def dev_clip() -> Callable[..., tuple[np.ndarray, int]]:
    """Load a real dev clip by id: ``dev_clip("dev_music_01", seconds=2.0) -> (wav [C, T], 48000)``.

    Only for ``shared_data`` tests; everything else uses :func:`synth_clip`.
    """

    def load(
        name: str, seconds: float | None = None, offset: float = 0.0
    ) -> tuple[np.ndarray, int]:
        path = DEV_DIR / f"{name}.flac"
        if not path.exists():
            pytest.skip(f"dev clip {path.name}: {SHARED_MISSING}")
        info = sf.info(str(path))
        start = int(offset * info.samplerate)
        stop = None if seconds is None else start + int(seconds * info.samplerate)
        wav, sr = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
        return np.ascontiguousarray(wav.T), sr

    return load


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator (torch is seeded too)."""
    torch.manual_seed(0)
    return np.random.default_rng(0)
