"""Evaluate the SBR high-band coder on the dev clips: side-info rate, high-band LSD, mel distance, speed.

For each clip of ``shared/data/dev`` (48 kHz FLAC, channel 0; category from the file name) the
core is a real AAC-LC decode when ``bandgen.core.make_core`` is available (resampled with soxr
to and from the codec rate), otherwise a 4.125 kHz low-pass.  Prints per category and mode:
side-info kbps (sum of payload bytes x 8 / duration), LSD above 4 kHz and log-mel distance for
``none`` (core alone) and ``sbr``, and decode speed in x real time.

Usage: ``python scripts/eval_sbr.py [--modes 12 16] [--dev DIR] [--seconds 10] [--lowpass]``
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from bandgen.audio import WORK_RATE
from bandgen.hf.registry import build
from bandgen.hf.sbr import SbrCoder
from bandgen.hf.sbr.tables import MODES
from bandgen.metrics.spectral import mel_filterbank, stft_magnitude

SR = WORK_RATE
N_FFT, HOP = 2048, 512


def high_band_lsd(
    ref: np.ndarray, test: np.ndarray, low_hz: float = 4000.0, high_hz: float = SR / 2
) -> float:
    """Log-spectral distance in dB over STFT bins in ``(low_hz, high_hz]`` (2048/512 Hann).

    RMS over bins of the log-power difference, then mean over frames.
    """
    a = stft_magnitude(ref[None], n_fft=N_FFT, hop_length=HOP)[0]
    b = stft_magnitude(test[None], n_fft=N_FFT, hop_length=HOP)[0]
    freqs = np.arange(a.shape[0]) * SR / N_FFT
    keep = (freqs > low_hz) & (freqs <= high_hz)
    la, lb = 10 * np.log10(a[keep] ** 2 + 1e-10), 10 * np.log10(b[keep] ** 2 + 1e-10)
    return float(np.mean(np.sqrt(np.mean((la - lb) ** 2, axis=0))))


def mel_distance(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean L1 distance of log10 mel magnitudes (80 Slaney mels, 2048/512, clamp 1e-5)."""
    fb = mel_filterbank(sample_rate=SR, n_fft=N_FFT, n_mels=80)
    a = fb @ stft_magnitude(ref[None], n_fft=N_FFT, hop_length=HOP)[0]
    b = fb @ stft_magnitude(test[None], n_fft=N_FFT, hop_length=HOP)[0]
    return float(np.mean(np.abs(np.log10(np.maximum(a, 1e-5)) - np.log10(np.maximum(b, 1e-5)))))


def make_core_fn(
    bitrate_kbps: float, force_lowpass: bool
) -> tuple[str, Callable[[np.ndarray], np.ndarray], float]:
    """``(description, wav48 -> core48)``: AAC-LC through bandgen.core if present, else a low-pass."""
    if not force_lowpass:
        try:
            from bandgen.core import make_core
        except ImportError:
            pass
        else:
            import soxr

            codec = make_core("aac", bitrate_kbps)

            def aac(wav: np.ndarray) -> np.ndarray:
                x = soxr.resample(wav.astype(np.float32), SR, codec.sample_rate)
                packets = codec.encode(x[None])
                y = codec.decode(packets, x.shape[0])[0]
                out = soxr.resample(y.astype(np.float32), codec.sample_rate, SR)
                return np.pad(out, (0, max(0, wav.shape[0] - out.shape[0])))[: wav.shape[0]]

            return (
                f"AAC-LC {bitrate_kbps} kbps @ {codec.sample_rate} Hz, cutoff {codec.cutoff_hz} Hz",
                aac,
                float(codec.cutoff_hz),
            )
    sos = butter(12, 4125.0, fs=SR, output="sos")
    return (
        "4.125 kHz low-pass (12th-order Butterworth, zero phase)",
        lambda w: sosfiltfilt(sos, w),
        4125.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dev", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/dev"
    )
    parser.add_argument("--modes", type=int, nargs="+", default=[12, 16])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--lowpass", action="store_true", help="use the low-pass core even if AAC is available"
    )
    args = parser.parse_args()
    clips = sorted(args.dev.glob("dev_*.flac"))
    for mode in args.modes:
        core_kbps = {12: 9.4, 16: 13.0}.get(mode, mode * 0.85)
        desc, core_fn, cutoff_hz = make_core_fn(core_kbps, args.lowpass)
        k0 = MODES[mode][0]
        # A core wider than the mode's crossover (24/32 kbps AAC at 24 kHz: 8 kHz) keeps its band.
        start = int(cutoff_hz // 375) if cutoff_hz > 375 * (k0 + 1) else None
        coder = build("sbr", mode_kbps=mode, start_band=start)
        assert isinstance(coder, SbrCoder)
        print(
            f"\n== mode {mode} kbps: SBR {coder.crossover_hz:.0f}-{coder.stop_hz:.0f} Hz; core: {desc}"
        )
        rows: dict[str, list[list[float]]] = defaultdict(list)
        for path in clips:
            category = path.stem.split("_")[1]
            wav, sr = sf.read(
                str(path), dtype="float32", always_2d=True, frames=int(args.seconds * SR)
            )
            assert sr == SR, path
            ref = wav[:, 0].astype(np.float64)
            core = np.asarray(core_fn(ref), np.float64)
            payloads = coder.encode(ref, core)
            tic = time.perf_counter()
            out = coder.decode(core, payloads)
            dec_s = time.perf_counter() - tic
            dur = ref.shape[0] / SR
            kbps = sum(8 * len(p) for p in payloads) / dur / 1000
            rows[category].append(
                [
                    kbps,
                    high_band_lsd(ref, core),
                    high_band_lsd(ref, out),
                    high_band_lsd(ref, core, high_hz=coder.stop_hz),
                    high_band_lsd(ref, out, high_hz=coder.stop_hz),
                    mel_distance(ref, core),
                    mel_distance(ref, out),
                    dur / dec_s,
                ]
            )
        header = (
            "side kbps",
            "LSD none",
            "LSD sbr",
            "LSDr none",
            "LSDr sbr",
            "mel none",
            "mel sbr",
            "dec xRT",
        )
        print(f"{'category':9s} {'n':>2s} " + " ".join(f"{h:>9s}" for h in header))
        all_rows: list[list[float]] = []
        for category in [*sorted(rows), "all"]:
            data = all_rows if category == "all" else rows[category]
            if category != "all":
                all_rows += data
            m = np.mean(data, axis=0)
            cells = [f"{v:9.2f}" for v in m[:5]] + [f"{v:9.3f}" for v in m[5:7]] + [f"{m[7]:9.0f}"]
            print(f"{category:9s} {len(data):2d} " + " ".join(cells))
        print("LSD: 4 kHz-24 kHz; LSDr: 4 kHz-SBR stop; mel: 80-band log10 L1 (full band)")


if __name__ == "__main__":
    main()
