"""Blind restoration of low-bitrate MP3 with an :class:`~bandgen.models.mp3restore.MP3Restore`
model: weights loading, int8 quantisation, and chunked streaming inference.

Streaming works in the model's STFT frame domain. Output frames are produced ``chunk_frames``
at a time; each chunk runs the network on its frames plus ``config.context_frames`` input
frames on either side (the network's receptive radius), so every output frame sees exactly
the input it would see in a whole-file pass, including the zero padding at the file's ends.
The restored frames are overlap-added (:class:`~bandgen.dsp.ola.StreamingOverlapAdd`, the
weighted overlap-add of :meth:`STFT.inverse`) and samples are written out as soon as no later
frame overlaps them. Memory is bounded by the chunk size, and the result equals
:meth:`MP3Restore.restore` on the whole signal to float rounding.

Weights are loaded by the one weight loader of :mod:`bandgen.pretrained.registry`
(safetensors + JSON with ``"model": "mp3restore"``, ``config``, ``sha256``; sha256 checked
before loading, ``strict=True``); the default is ``bandgen/pretrained/mp3restore-32k``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bandgen.audio.checks import check_finite
from bandgen.dsp.ola import StreamingOverlapAdd
from bandgen.errors import ConfigError
from bandgen.models.mp3restore import MP3Restore, MP3RestoreConfig, from_image, to_image

__all__ = [
    "DEFAULT_MODEL",
    "Restorer",
    "load_restore_model",
    "quantize_int8",
]

DEFAULT_MODEL = "mp3restore-32k"
"""Name of the shipped restoration model (``bandgen/pretrained/<name>.safetensors``)."""

MODEL_KIND = "mp3restore"
"""``model`` field of a restoration model's JSON description."""


def load_restore_model(
    name: str | None = None, *, weights: str | os.PathLike[str] | None = None
) -> tuple[MP3Restore, dict[str, Any]]:
    """Load a restoration model: shipped by ``name`` or from a ``weights`` file, through the one
    weight loader :func:`bandgen.pretrained.registry.load_weights`.

    Args:
        name: shipped model name (default :data:`DEFAULT_MODEL`); ignored if ``weights`` is given.
        weights: a ``.safetensors`` file with its ``.json`` description beside it (as
            ``best.safetensors`` + ``best.json`` of a training run).

    Returns:
        ``(model in eval mode on the CPU, description)``.

    Raises:
        ConfigError: missing files, wrong model kind, sha256 mismatch, or tensors that do not
            fit the described model.
    """
    from bandgen.pretrained.registry import load_weights, resolve_weights

    paths = resolve_weights(name or DEFAULT_MODEL, weights, kind=MODEL_KIND)
    model, info = load_weights(*paths, kind=MODEL_KIND)
    assert isinstance(model, MP3Restore)
    return model, info


def quantize_int8(model: MP3Restore) -> MP3Restore:
    """Dynamic int8 copy of ``model`` (paper ``002`` §3.4: dynamic-range 8-bit quantisation).

    Every pointwise conv (:class:`torch.nn.Linear`, 98 % of the weights) gets int8 weights
    (per output channel) and int8 activations quantised on the fly; the depthwise 5 x 5
    convs, biases and PReLU alphas stay float32 (CPU PyTorch has no dynamic quantised conv).
    Uses ``torch.ao.quantization.quantize_dynamic`` (marked deprecated in favour of torchao,
    which bandgen does not depend on; its warnings are silenced here).
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(
            model.eval(), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
        )
    return quantized


@dataclass
class _StreamState:
    """Buffers of one stream, in the coordinates of the centre-padded signal.

    ``samples [C, *]`` starts at padded sample ``samples_at`` (the next frame's start);
    ``frames [C, 2, *, F]`` holds input frames from index ``frames_at``; ``ola`` sums the
    restored frames.
    """

    samples: Tensor
    samples_at: int
    frames: Tensor
    frames_at: int
    ola: StreamingOverlapAdd
    done_frames: int = 0
    received: int = 0
    emitted: int = 0


class Restorer:
    """Restores 48 kHz audio with a model, whole or in chunks (module docstring).

    Args:
        model: a (float or :func:`quantize_int8`) :class:`MP3Restore` model.
        chunk_frames: output STFT frames per network call when streaming (1 frame = 248
            samples at the default hop).
        info: the model's description (name, config, training facts), kept for reporting.

    Shape:
        ``restore(wav [C, T]) -> [C, T]``; ``stream`` yields ``[C, n]`` blocks summing to the
        same ``[C, T]``. Channels are restored independently (as a batch).
    """

    def __init__(
        self, model: MP3Restore, *, chunk_frames: int = 1024, info: dict[str, Any] | None = None
    ) -> None:
        if chunk_frames < 1:
            raise ConfigError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self.model = model.eval()
        self.config: MP3RestoreConfig = model.config
        self.chunk_frames = chunk_frames
        self.info = dict(info or {})

    @property
    def sample_rate(self) -> int:
        """Rate the model works at (48 kHz)."""
        return self.config.sample_rate

    @torch.no_grad()
    def restore(self, wav: np.ndarray) -> np.ndarray:
        """Whole-signal restoration of float32 ``[C, T]`` (or ``[T]``) at 48 kHz.

        Raises:
            AudioInputError: a NaN or infinite sample.
        """
        data = np.asarray(wav, dtype=np.float32)
        check_finite(data, "wav")
        out = self.model.restore(torch.from_numpy(np.atleast_2d(data).copy()))
        return out.numpy().reshape(data.shape)

    @torch.no_grad()
    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Restore a stream of float32 ``[C, n]`` blocks at 48 kHz, chunk by chunk.

        Yields restored ``[C, m]`` blocks as soon as they are final; together they equal
        :meth:`restore` of the concatenated input (to float rounding).
        """
        state: _StreamState | None = None
        for block in blocks:
            check_finite(block, "input", state.received if state is not None else 0)
            data = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
            if state is None:
                state = self._start(data.shape[0])
            state.samples = torch.cat([state.samples, data], dim=1)
            state.received += data.shape[1]
            out = self._advance(state, final=False)
            if out.shape[1]:
                yield out.numpy()
        if state is not None:
            out = self._advance(state, final=True)
            if out.shape[1]:
                yield out.numpy()

    def _start(self, channels: int) -> _StreamState:
        cfg = self.config
        pad = cfg.n_fft // 2  # centre padding, as STFT(center=True)
        return _StreamState(
            samples=torch.zeros(channels, pad),
            samples_at=0,
            frames=torch.zeros(channels, 2, 0, cfg.num_bins),
            frames_at=0,
            ola=StreamingOverlapAdd(
                self.model.stft.window, hop_length=cfg.hop_length, channels=channels
            ),
        )

    def _analyze(self, state: _StreamState, final: bool) -> int:
        """Turn buffered samples into input frames; returns the frame count known so far."""
        cfg = self.config
        if final:  # right centre padding; frames then run to 1 + T // hop
            pad = torch.zeros(state.samples.shape[0], cfg.n_fft // 2)
            state.samples = torch.cat([state.samples, pad], dim=1)
        usable = state.samples.shape[1] - cfg.n_fft
        count = usable // cfg.hop_length + 1 if usable >= 0 else 0
        if count:
            segment = state.samples[:, : (count - 1) * cfg.hop_length + cfg.n_fft]
            spec = torch.stft(
                segment,
                cfg.n_fft,
                hop_length=cfg.hop_length,
                window=self.model.stft.window.to(segment.dtype),
                center=False,
                return_complex=True,
            )
            state.frames = torch.cat([state.frames, to_image(spec)], dim=2)
            state.samples = state.samples[:, count * cfg.hop_length :]
            state.samples_at += count * cfg.hop_length
        return state.frames_at + state.frames.shape[2]

    def _advance(self, state: _StreamState, *, final: bool) -> Tensor:
        """Restore every output chunk the buffered input allows; return the final samples."""
        cfg = self.config
        available = self._analyze(state, final)
        context = cfg.context_frames
        outs = []
        while state.done_frames < available:
            start = state.done_frames
            stop = min(start + self.chunk_frames, available)
            if not final and stop + context > available:
                break  # this chunk's right context has not arrived yet
            lo, hi = max(0, start - context), min(available, stop + context)
            window = state.frames[:, :, lo - state.frames_at : hi - state.frames_at]
            restored = self.model(window)[:, :, start - lo : stop - lo]
            frames = torch.fft.irfft(from_image(restored), n=cfg.n_fft, dim=-2)  # [C, n_fft, K]
            state.ola.add(frames, start)
            state.done_frames = stop
            outs.append(self._emit(state, stop * cfg.hop_length, last=False))
            keep = max(0, stop - context) - state.frames_at
            state.frames = state.frames[:, :, keep:]
            state.frames_at += keep
        if final:
            outs.append(self._emit(state, state.done_frames * cfg.hop_length, last=True))
        if not outs:
            return torch.zeros(state.samples.shape[0], 0)
        return torch.cat(outs, dim=1)

    def _emit(self, state: _StreamState, final_at: int, *, last: bool) -> Tensor:
        """Finished samples as signal samples: those before padded position ``final_at`` (no
        later frame reaches them), or all received ones if ``last``."""
        pad = self.config.n_fft // 2
        limit = state.received + pad if last else min(final_at, state.received + pad)
        first = max(state.ola.position, state.emitted + pad)
        count = max(0, limit - first)
        out = state.ola.read(first, count)
        state.emitted += count
        # positions before final_at are done: emitted, or centre padding that is never output
        state.ola.discard(first + count if count or last else min(first, final_at))
        return out
