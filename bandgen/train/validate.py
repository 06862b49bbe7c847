"""Validation of an n-SBG generator on core-coded clips, and the images logged with it.

The dev clips (``shared/data/dev``) go through the same core-coded cache as the training data
(:mod:`bandgen.data.cache`, in ``<cache_root>/dev``), so validation sees exactly the core the
model is trained on. Per clip, in eval mode: ``out = G(core, target)`` and

- ``lsd_high``: LSD (:func:`bandgen.metrics.basic.lsd`) over the generated band
  ``[k_c * 750, (k_h + 1) * 750)`` Hz between the band-limited target ``out.y`` and
  ``out.y_hat``: the checkpoint-selection metric of n-SBG (HP §1.5);
- ``mel``: multi-scale mel distance (:func:`bandgen.metrics.basic.mel_distance`), same pair.

Both are averaged over clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bandgen.core import CoreCodec
from bandgen.data.cache import CacheItem, build_cache, cache_dir_for, read_index, read_item
from bandgen.data.manifest import scan_corpus
from bandgen.metrics.basic import lsd, mel_distance
from bandgen.models.nsbg import NSBG

__all__ = ["ValClip", "ValResult", "load_dev_clips", "spectrogram_image", "validate"]

SAMPLE_RATE = 48_000


@dataclass
class ValClip:
    """One validation clip: ``target`` and ``core`` ``[1, 1, T]`` float32 at 48 kHz."""

    name: str
    target: torch.Tensor
    core: torch.Tensor


@dataclass
class ValResult:
    """Mean metrics over the validation clips, plus the first clip's output for logging.

    Attributes:
        lsd_high: LSD over the generated band (decades of power).
        mel: multi-scale mel distance.
        example: ``(y, y_hat, core)`` of the first clip, each ``[T]``.
    """

    lsd_high: float
    mel: float
    example: tuple[np.ndarray, np.ndarray, np.ndarray]


def _clips_from_items(
    cache_dir: Path,
    items: list[CacheItem],
    max_clips: int,
    seconds: float | None,
    *,
    from_middle: bool = False,
) -> list[ValClip]:
    """The first ``seconds`` of each item, or with ``from_middle`` a window starting a quarter
    into it (past intros and fade-ins) when the item is long enough."""
    clips = []
    for item in items[:max_clips]:
        start = 0
        stop = None if seconds is None else int(seconds * SAMPLE_RATE)
        if from_middle and stop is not None:
            start = max(0, min(item.num_samples // 4, item.num_samples - stop))
            stop += start
        pair = torch.from_numpy(read_item(cache_dir, item, start, stop))
        clips.append(ValClip(Path(item.path).stem, pair[0:1][None], pair[1:2][None]))
    return clips


def load_dev_clips(
    dev_dir: str | None,
    cache_root: str | Path,
    core: CoreCodec,
    *,
    train_cache: Path,
    max_clips: int,
    seconds: float | None,
) -> list[ValClip]:
    """Core-coded validation clips: the dev folder (coded into ``cache_root/dev`` on first use),
    or the ``valid`` split of the training cache when ``dev_dir`` is ``None``."""
    if dev_dir is None:
        items = _interleave_categories(read_index(train_cache, "valid"))
        return _clips_from_items(train_cache, items, max_clips, seconds, from_middle=True)
    dev_root = Path(cache_root) / "dev"
    dev_cache = cache_dir_for(dev_root, core)
    if not (dev_cache / "index.jsonl").exists():
        entries = scan_corpus(dev_dir, valid_fraction=0.0)
        build_cache(dev_dir, entries[:max_clips], dev_root, core)
    return _clips_from_items(dev_cache, read_index(dev_cache), max_clips, seconds)


def _interleave_categories(items: list[CacheItem]) -> list[CacheItem]:
    """Items reordered round-robin over their categories (speech, music, sound, ...), longest
    first within each, so that the first few clips of a validation split cover every kind of
    audio even when one kind has many more (short) files."""
    groups: dict[str, list[CacheItem]] = {}
    for item in items:
        groups.setdefault(item.entry.category, []).append(item)
    ordered = [sorted(g, key=lambda i: (-i.num_samples, i.path)) for _, g in sorted(groups.items())]
    out = []
    for rank in range(max((len(g) for g in ordered), default=0)):
        out += [g[rank] for g in ordered if rank < len(g)]
    return out


@torch.no_grad()
def validate(generator: NSBG, clips: list[ValClip], device: torch.device) -> ValResult:
    """Run ``generator`` in eval mode on every clip and average the metrics (module doc)."""
    cfg = generator.config
    band_hz = SAMPLE_RATE / 2 / cfg.num_bands
    low_hz, high_hz = cfg.k_c * band_hz, (cfg.k_h + 1) * band_hz
    was_training = generator.training
    generator.eval()
    lsds, mels = [], []
    example: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    try:
        for clip in clips:
            out = generator(clip.core.to(device), clip.target.to(device))
            y = out.y[0, 0].float().cpu().numpy()
            y_hat = out.y_hat[0, 0].float().cpu().numpy()
            lsds.append(lsd(y, y_hat, SAMPLE_RATE, min_hz=low_hz, max_hz=high_hz))
            mels.append(mel_distance(y, y_hat, SAMPLE_RATE))
            if example is None:
                example = (y, y_hat, clip.core[0, 0].numpy())
    finally:
        generator.train(was_training)
    if example is None:
        raise ValueError("no validation clips")
    return ValResult(float(np.mean(lsds)), float(np.mean(mels)), example)


def spectrogram_image(
    wav: np.ndarray, *, n_fft: int = 1024, floor_db: float = -100.0
) -> np.ndarray:
    """A log-magnitude spectrogram as a ``[1, F, N]`` float image in ``[0, 1]``, low
    frequencies at the bottom (for TensorBoard ``add_image``)."""
    spec = torch.stft(
        torch.from_numpy(np.asarray(wav, dtype=np.float32)),
        n_fft,
        hop_length=n_fft // 4,
        window=torch.hann_window(n_fft),
        return_complex=True,
    ).abs()
    db = 20 * torch.log10(spec.clamp_min(1e-10))
    db = (db - db.max()).clamp_min(floor_db)
    img = 1.0 - db / floor_db
    return img.flip(0)[None].numpy()
