"""Blind bandwidth extension of any band-limited audio (``bandgen extend``).

The input is taken as content up to :data:`CROSSOVER_HZ` (8 kHz): it is resampled to
:data:`INPUT_RATE` (16 kHz; anything above 8 kHz is discarded) and back to 48 kHz, the *core*.
A method generates a 48 kHz signal whose band above 8 kHz is kept; the output is

``out = lowpass(core) + highpass(generated)``

with the complementary linear-phase crossover of :mod:`bandgen.dsp.crossover` at 8 kHz (no
gap, no doubled band), so below the transition band the output is the input itself. Channels
are extended independently (a stereo file per channel).

Methods (:data:`METHODS`):

- ``blind``: the blind n-SBG generator (paper ``000`` §4.4) with a model trained for an
  8 kHz crossover (default :data:`DEFAULT_MODELS` ``blind-8k``: PQMF bands 10..29 generated
  from the core's bands 0..9). It runs through the streaming decoder of
  :mod:`bandgen.hf.nsbg_stream`, which equals the offline model.
- ``hpcodecx``: HP-codecX (paper ``004``): the 16 kHz branch's tokens of an HP-codec, the
  48 kHz branch's tokens predicted from them by a transformer, decoded by the 48 kHz branch.

:meth:`Extender.stream` works block by block in bounded memory and gives the samples of
:meth:`Extender.extend` on the whole signal (to float rounding): the resamplers are soxr's
exact streams, the methods' streams equal their offline models, and the crossover waits for
its look-ahead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bandgen.audio import WORK_RATE
from bandgen.audio.checks import check_finite, check_sample_rate
from bandgen.audio.io import check_output_channels, check_output_path, output_format, probe
from bandgen.audio.pipeline import check_distinct, process_file
from bandgen.audio.resample import StreamResampler, resample
from bandgen.dsp.crossover import StreamCrossover, crossover, crossover_taps
from bandgen.errors import ConfigError

if TYPE_CHECKING:
    from bandgen.codec import Progress
    from bandgen.models.hpcodecx import HPCodecX
    from bandgen.models.nsbg import NSBG

__all__ = [
    "CROSSOVER_HZ",
    "DEFAULT_MODELS",
    "INPUT_RATE",
    "METHODS",
    "ExtendStats",
    "Extender",
    "Method",
    "MethodStream",
    "extend_file",
    "load_extender",
]

INPUT_RATE = 16_000
"""Rate the input is reduced to: its content up to 8 kHz is kept, the rest discarded."""
CROSSOVER_HZ = INPUT_RATE / 2
"""Where the input's band ends and the generated band starts."""
METHODS = ("blind", "hpcodecx")
"""The extension methods (``--method``)."""
DEFAULT_MODELS = {"blind": "blind-8k", "hpcodecx": "hpcodecx-cpu"}
"""The shipped model each method uses unless told otherwise."""
_TITLES = {
    "blind": "a blind n-SBG model trained for an 8 kHz crossover",
    "hpcodecx": "an HP-codecX model (HP-codec + transformer)",
}


class MethodStream(Protocol):
    """One stream of a method: the input blocks at 16 kHz and their core at 48 kHz in, the
    generated 48 kHz signal out, aligned with the core from its first sample."""

    def push(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        """``x16 [C, n]``, ``core48 [C, m]`` -> generated samples ``[C, k]`` now final."""
        ...

    def flush(self) -> np.ndarray:
        """The rest of the generated signal, up to the core's length."""
        ...


class Method(Protocol):
    """A high-band generator for :class:`Extender`."""

    name: str
    info: dict[str, Any]

    def generate(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        """Whole signals: ``x16 [C, T]``, ``core48 [C, 3 T]`` -> generated ``[C, 3 T]``."""
        ...

    def new_stream(self, channels: int) -> MethodStream:
        """A stream equal to :meth:`generate` on the joined blocks."""
        ...


class _BlindStream:
    """Per channel, the streaming blind n-SBG decoder (no side information)."""

    def __init__(self, model: NSBG, channels: int, chunk_frames: int) -> None:
        from bandgen.hf.nsbg_stream import NsbgStreamDecoder

        self._decoders = [
            NsbgStreamDecoder(model, None, chunk_frames=chunk_frames) for _ in range(channels)
        ]

    def push(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        return np.stack([d.push(c, []) for d, c in zip(self._decoders, core48, strict=True)])

    def flush(self) -> np.ndarray:
        return np.stack([d.flush() for d in self._decoders])


class BlindMethod:
    """``--method blind``: the blind n-SBG decoder's output (core bands + generated bands).

    Args:
        model: a blind :class:`~bandgen.models.nsbg.NSBG` whose core bands lie within 8 kHz
            and whose generated bands reach above it.
        info: its description.
        chunk_frames: 2048-sample frames per streaming step (memory vs. re-computation).
    """

    name = "blind"

    def __init__(self, model: NSBG, info: dict[str, Any], *, chunk_frames: int = 32) -> None:
        cfg = model.config
        band_hz = WORK_RATE / 2 / cfg.num_bands
        label = info.get("name", "the model")
        if not cfg.blind:
            raise ConfigError(f"--method blind needs a blind n-SBG model; {label!r} is not blind")
        if cfg.k_c * band_hz > CROSSOVER_HZ or (cfg.k_h + 1) * band_hz <= CROSSOVER_HZ:
            raise ConfigError(
                f"{label!r} generates {cfg.k_c * band_hz:.0f}-{(cfg.k_h + 1) * band_hz:.0f} Hz "
                f"from the band below {cfg.k_c * band_hz:.0f} Hz; extension needs a model whose "
                f"input band lies within {CROSSOVER_HZ:.0f} Hz and that generates above it"
            )
        self.model = model.eval()
        self.info = info
        self.chunk_frames = chunk_frames

    def generate(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.decode(torch.from_numpy(np.ascontiguousarray(core48))[:, None])
        return out[:, 0].numpy()

    def new_stream(self, channels: int) -> MethodStream:
        return _BlindStream(self.model, channels, self.chunk_frames)


class Extender:
    """Extends 16 kHz audio to 48 kHz with a :class:`Method` (module docstring).

    Shape:
        ``extend(x16 [C, T]) -> [C, 3 T]`` at 48 kHz; ``stream`` yields ``[C, n]`` blocks
        that join to the same.
    """

    def __init__(self, method: Method) -> None:
        self.method = method
        self.taps = crossover_taps(CROSSOVER_HZ, WORK_RATE)
        self.info = {"method": method.name, **method.info}

    @property
    def input_rate(self) -> int:
        """Rate of the input blocks (16 kHz)."""
        return INPUT_RATE

    @property
    def sample_rate(self) -> int:
        """Rate of the output (48 kHz)."""
        return WORK_RATE

    def extend(self, wav: np.ndarray, sample_rate: int = INPUT_RATE) -> np.ndarray:
        """Whole-signal extension of float32 ``[C, T]`` (or ``[T]``) at ``sample_rate``.

        The signal is first resampled to 16 kHz (unless it is at 16 kHz); the output is at
        48 kHz, ``3 T16`` samples for ``T16`` samples at 16 kHz.

        Raises:
            AudioInputError: a NaN or infinite sample, or a bad ``sample_rate``.
        """
        data = np.atleast_2d(np.asarray(wav, np.float32))
        check_finite(data, "wav")
        x16 = resample(data, check_sample_rate(sample_rate), INPUT_RATE)
        core = resample(x16, INPUT_RATE, WORK_RATE)
        out = crossover(core, self.method.generate(x16, core), self.taps)
        return out.reshape(*np.shape(wav)[:-1], -1)

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Extend a stream of float32 ``[C, n]`` blocks at 16 kHz, yielding 48 kHz blocks as
        soon as they are final; together they equal :meth:`extend` of the joined input."""
        up: StreamResampler | None = None
        gen: MethodStream | None = None
        joint: StreamCrossover | None = None
        received = 0
        for block in blocks:
            data = np.ascontiguousarray(block, np.float32)
            check_finite(data, "input", received)
            received += data.shape[1]
            if up is None:
                up = StreamResampler(INPUT_RATE, WORK_RATE, data.shape[0])
                gen = self.method.new_stream(data.shape[0])
                joint = StreamCrossover(self.taps, data.shape[0])
            assert gen is not None and joint is not None
            core = up.push(data)
            out = joint.push(core, gen.push(data, core))
            if out.shape[1]:
                yield out
        if up is None:
            return
        assert gen is not None and joint is not None
        core = up.flush()
        high = np.concatenate(
            [gen.push(np.zeros((core.shape[0], 0), np.float32), core), gen.flush()], axis=1
        )
        yield np.concatenate([joint.push(core, high), joint.flush()], axis=1)


def _load_blind(name: str | None, weights: str | os.PathLike[str] | None) -> Method:
    from bandgen.pretrained.registry import load_shared

    model, info = load_shared(None if weights is not None else name, weights)
    return BlindMethod(model, info)


def load_extender(
    method: str = "blind",
    name: str | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
) -> Extender:
    """Build an :class:`Extender` from a shipped model or a weights file.

    Args:
        method: ``blind`` or ``hpcodecx`` (:data:`METHODS`).
        name: shipped model name (default :data:`DEFAULT_MODELS` of the method).
        weights: a ``.safetensors`` file with its ``.json`` beside it; overrides ``name``.

    Raises:
        ConfigError: unknown method, a model that is not shipped (the message says how to pass
            one), bad weights, or a model that does not fit the method.
    """
    from bandgen.pretrained.registry import list_models

    if method not in METHODS:
        raise ConfigError(f"unknown extension method {method!r}; methods: {', '.join(METHODS)}")
    if weights is None:
        name = name or DEFAULT_MODELS[method]
        if name == DEFAULT_MODELS[method] and name not in list_models():
            raise ConfigError(
                f"--method {method} needs {_TITLES[method]}, and its default model {name!r} is "
                "not shipped with this bandgen yet; pass --weights FILE.safetensors (with "
                "FILE.json beside it) of such a model, e.g. a training run's best.safetensors"
            )
    if method == "blind":
        return Extender(_load_blind(name, weights))
    return Extender(_load_hpcodecx(name, weights))


class _WindowedStream:
    """The windows of :mod:`bandgen.extend_windows` over the 16 kHz input (the crossover
    crops the generated signal to the core's length)."""

    def __init__(self, method: HPCodecXMethod, channels: int) -> None:
        from bandgen.extend_windows import WindowStream

        self._inner = WindowStream(method.geometry, method.window, channels)

    def push(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        return self._inner.push(x16)

    def flush(self) -> np.ndarray:
        return self._inner.flush()


class HPCodecXMethod:
    """``--method hpcodecx``: per window, HP-codec's 16 kHz tokens, the transformers' greedy
    prediction of the 48 kHz branch's tokens, and that branch's decode (paper ``004`` §3.2.1),
    on the overlapping windows of :mod:`bandgen.extend_windows` (sizes from the model's
    config: 2.5 s windows, 0.25 s of context at each end, 0.1 s crossfades at the paper size).

    Args:
        model: an :class:`~bandgen.models.hpcodecx.HPCodecX` (transformers + frozen codec).
        info: its description.
    """

    name = "hpcodecx"

    def __init__(self, model: HPCodecX, info: dict[str, Any]) -> None:
        from bandgen.extend_windows import WindowGeometry

        cfg = model.config
        self.model = model.eval()
        self.info = info
        self.geometry = WindowGeometry(
            hop=cfg.window_frames - 2 * cfg.context_frames,
            context=cfg.context_frames,
            fade=cfg.fade_frames,
            hop_in=model.codec.hop_low,
            hop_out=model.codec.hop_high,
        )

    def window(self, x16: np.ndarray) -> np.ndarray:
        """One window: ``x16 [C, W hop_low] -> [C, W hop_high]`` generated at 48 kHz."""
        import torch

        with torch.inference_mode():
            out = self.model.extend_high(torch.from_numpy(np.ascontiguousarray(x16))[:, None])
        return out[:, 0].numpy()

    def generate(self, x16: np.ndarray, core48: np.ndarray) -> np.ndarray:
        from bandgen.extend_windows import run_windows

        return run_windows(x16, self.geometry, self.window)[:, : core48.shape[1]]

    def new_stream(self, channels: int) -> MethodStream:
        return _WindowedStream(self, channels)


def _load_hpcodecx(name: str | None, weights: str | os.PathLike[str] | None) -> Method:
    from bandgen.models.hpcodecx import HPCodecX
    from bandgen.pretrained.registry import load_weights, resolve_weights

    model, info = load_weights(*resolve_weights(name, weights, kind="hpcodecx"), kind="hpcodecx")
    assert isinstance(model, HPCodecX)
    return HPCodecXMethod(model, info)


def load_hpcodecx(name: str, **options: Any) -> Extender:
    """What :func:`bandgen.load` gives for a shipped HP-codecX model: its :class:`Extender`."""
    return load_extender("hpcodecx", name, **options)


@dataclass(frozen=True)
class ExtendStats:
    """What an extension wrote: samples, channels and rate of the output, the input's rate,
    the method and model; ``peak`` and ``clipped_samples`` as in
    :class:`~bandgen.api.DecodeStats`."""

    num_samples: int
    channels: int
    sample_rate: int
    input_sample_rate: int
    method: str
    model: str
    peak: float = 0.0
    clipped_samples: int = 0


def extend_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    extender: Extender | None = None,
    progress: Progress | None = None,
    sample_rate: int | None = None,
    bits: int | None = None,
    **options: Any,
) -> ExtendStats:
    """Extend a band-limited file (any format and rate PyAV reads) to 48 kHz, block by block.

    The input is resampled to 16 kHz, extended (module docstring) and written as WAV (32-bit
    float) or FLAC (24-bit) at 48 kHz or ``sample_rate``. Memory stays bounded for any length;
    the output appears only when complete.

    Args:
        src, dst: input file and output ``.wav`` / ``.flac``.
        extender: an :class:`Extender`; default built by :func:`load_extender` from
            ``options`` (``method``, ``name``, ``weights``).
        progress: called with the number of input samples consumed.
        bits: output bit depth (16, 24 or 32).

    Raises:
        AudioInputError: missing, unreadable, empty or non-finite input.
        ConfigError: bad output path, the input is the output, or bad model options.
    """
    check_distinct(src, dst)
    output_format(dst, bits)
    if sample_rate is not None:
        check_sample_rate(sample_rate)
    source = probe(src)
    check_output_channels(dst, source.channels)
    check_output_path(dst)
    if extender is None:
        extender = load_extender(**options)
    elif options:
        raise ConfigError(f"pass either an extender or model options, not both: {sorted(options)}")
    out_rate = sample_rate or extender.sample_rate
    result = process_file(
        src,
        dst,
        source,
        extender.stream,
        in_rate=extender.input_rate,
        work_rate=extender.sample_rate,
        out_rate=out_rate,
        progress=progress,
        bits=bits,
    )
    return ExtendStats(
        result.num_samples,
        source.channels,
        out_rate,
        source.sample_rate,
        extender.method.name,
        str(extender.info.get("name", "")),
        peak=result.peak,
        clipped_samples=result.clipped,
    )
