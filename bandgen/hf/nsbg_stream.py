"""Streaming n-SBG encoder and decoder in bounded memory, equal to the offline model.

n-SBG is causal in blocks (paper ``000`` §3): the SEANet generator in blocks of 8 sub-band
samples, TFiLM and the SBG encoder per 2048-sample frame. Only the PQMF (481 taps, aligned so
that the offline path has zero lag) looks ahead, by ``P = 240`` samples. So both directions run
on whole frames: each step re-computes a window ``[w0, b)`` that starts ``context`` samples
(whole frames) before the first new frame ``a``, which covers the receptive field of everything
left of ``a``; the zero padding that each layer puts at ``w0`` then cannot reach the frames kept.
The window extends ``P - 31`` samples of core past ``b`` for the PQMF analysis of the last
sub-band samples, and the decoder holds back the last ``P`` output samples, which need the next
frame's generated bands.

Latency (algorithmic, encoder + decoder): ``n_fft + (P - 32) + P`` = 2048 + 208 + 240 = 2496
samples (52.0 ms at 48 kHz) on top of the core codec's own delay; a step waits for a whole chunk,
which adds up to ``(chunk_frames - 1) * n_fft`` (``chunk_frames=1`` reaches the algorithmic
latency). Cost: each step runs the model over ``context + chunk`` to keep ``chunk``. The contexts
are upper bounds on the receptive fields (a test pokes one sample and checks the reach): for
the paper and CPU presets 10 frames (20480 samples) for the decoder and 45 frames (92160) for
the encoder, whose 2-D ResNet looks back ``8 + 4 * sum(encoder_blocks)`` frames; with the
default 32-frame chunks a stream costs about 1.3x the offline decoder and 2.4x the encoder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from bandgen.errors import BitstreamError
from bandgen.hf.base import HighBandDecoder, HighBandEncoder

if TYPE_CHECKING:
    from torch import Tensor

    from bandgen.models.config import NSBGConfig
    from bandgen.models.nsbg import NSBG

__all__ = ["NsbgStreamDecoder", "NsbgStreamEncoder", "StreamGeometry"]

Pack = Callable[[np.ndarray], bytes]
"""Packs one frame's codes ``[K]`` into its payload."""
Unpack = Callable[[bytes, int], np.ndarray]
"""Unpacks payload number ``i`` into its codes ``[K]`` (int64)."""


def _generator_past(cfg: NSBGConfig, *, decoder: bool) -> int:
    """Upper bound on how far back (sub-band samples) the generator looks.

    The patch generator states its reach (:attr:`PatchEnvelopeGenerator.past`, from its
    layers); the envelope encoder adds its own reach (:attr:`EnvelopeEncoder.past_frames`
    frames plus one frame for the hop-rate layers before its downsampling). For SEANet:

    Counts every causal conv's left reach at its input rate: ``conv_in``, the residual units
    (kernel 3, ``dilations``) and strided convs (kernel ``2 s``) of the encoder half, the
    bottleneck convs, and, with ``decoder``, the transposed convs, residual units, ``conv_out``
    and the band-edge notch.
    """
    if cfg.generator == "patch":
        from bandgen.models.nsbg import PATCH_HOP
        from bandgen.nn.patch_envelope import EnvelopeEncoder, PatchEnvelopeGenerator

        past = PatchEnvelopeGenerator.reach(PATCH_HOP)
        encoder = (EnvelopeEncoder.past_frames + 1) * cfg.n_fft // cfg.num_bands
        return past if decoder else past + encoder
    reach_k = cfg.kernel_size - 1
    units = 2 * sum(cfg.dilations)
    rate, past = 1, reach_k
    for s in cfg.strides:
        past += units * rate + 2 * s * rate
        rate *= s
    past += reach_k * rate
    if not decoder:
        return past
    past += reach_k * rate
    for s in reversed(cfg.strides):
        past += rate  # a transposed conv's output sees its own and the previous input sample
        rate //= s
        past += units * rate
    return past + reach_k + max(cfg.edge_notch - 1, 0)


class StreamGeometry:
    """Sizes the streaming windows of one n-SBG config.

    Attributes:
        frame: samples per SBG frame (``n_fft``).
        pqmf_half: PQMF half length ``P = (taps - 1) / 2``.
        core_ahead: core samples needed past a frame boundary for its last sub-band samples.
        decoder_context: left context of a decoder step, in samples (whole frames).
        encoder_context: left context of an encoder step, in samples (whole frames).
        encoder_ahead: frames of look-ahead of the SBG encoder (1 with the reference max-pool).
    """

    def __init__(self, cfg: NSBGConfig) -> None:
        bands = cfg.num_bands
        self.frame = cfg.n_fft
        self.pqmf_half = (cfg.pqmf_taps - 1) // 2
        self.core_ahead = max(self.pqmf_half - bands + 1, 0)
        dec = 3 * self.pqmf_half + bands * _generator_past(cfg, decoder=True)
        self.decoder_context = self._frames(dec)
        spec_frames = 6 + (2 if cfg.causal_pool else 1) + 4 * sum(cfg.encoder_blocks)
        if cfg.generator == "patch":
            spec_frames = 0  # the envelope encoder's reach is in _generator_past
        enc = spec_frames * self.frame + bands * _generator_past(cfg, decoder=False)
        self.encoder_context = self._frames(enc + self.pqmf_half)
        self.encoder_ahead = 0 if cfg.causal_pool else 1

    def _frames(self, samples: int) -> int:
        return -(-samples // self.frame) * self.frame

    @property
    def latency(self) -> int:
        """Algorithmic latency of encoder + decoder in samples at 48 kHz (core codec excluded)."""
        # the first sample of a frame waits for the frame, the core past it, and the held-back P
        return self.frame * (1 + self.encoder_ahead) + self.core_ahead - 1 + self.pqmf_half


class _Buffer:
    """A growing signal of which the samples before ``start`` have been dropped."""

    def __init__(self) -> None:
        self.data = np.zeros(0, np.float32)
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + self.data.shape[0]

    def push(self, block: np.ndarray) -> None:
        self.data = np.concatenate([self.data, np.asarray(block, np.float32).reshape(-1)])

    def get(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``[lo, hi)``, zeros past the end."""
        part = self.data[lo - self.start : max(hi - self.start, 0)]
        return np.pad(part, (0, hi - lo - part.shape[0]))

    def drop_before(self, pos: int) -> None:
        cut = min(max(pos - self.start, 0), self.data.shape[0])
        self.data, self.start = self.data[cut:], self.start + cut


def _tensor(x: np.ndarray) -> Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None]


class NsbgStreamEncoder(HighBandEncoder):
    """Streaming side-info encoder: pushes of ``(original, core)`` -> codes ``[K, n]`` per frame.

    ``pack`` turns one frame's codes ``[K]`` into its payload. Equal to ``model.encode`` on the
    whole signal up to float rounding (which could, in rare near-ties, flip a code).
    """

    def __init__(self, model: NSBG, n_q: int, pack: Pack, *, chunk_frames: int = 32) -> None:
        self._model, self._n_q, self._pack = model, n_q, pack
        self._geo = StreamGeometry(model.config)
        self._chunk = chunk_frames * self._geo.frame
        self._orig, self._core = _Buffer(), _Buffer()
        self._done = 0  # samples whose frames have been coded

    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        self._orig.push(wav48)
        self._core.push(core_wav48)
        return self._run(last=False)

    def flush(self) -> list[bytes]:
        return self._run(last=True)

    def _run(self, *, last: bool) -> list[bytes]:
        geo, out = self._geo, list[bytes]()
        length = min(self._orig.end, self._core.end)
        while True:
            if last:
                stop = -(-length // geo.frame) * geo.frame
            else:
                ready = length - geo.core_ahead - geo.encoder_ahead * geo.frame
                stop = ready // geo.frame * geo.frame
            b = min(stop, self._done + self._chunk)
            if b <= self._done or (b - self._done < self._chunk and not last):
                return out  # wait for a whole chunk: each step pays for its context
            out += self._code(self._done, b, final=last and b == stop)
            self._done = b
            keep = max(self._done - geo.encoder_context, 0)
            self._orig.drop_before(keep)
            self._core.drop_before(keep)

    def _code(self, a: int, b: int, *, final: bool) -> list[bytes]:
        import torch

        geo = self._geo
        w0 = max(a - geo.encoder_context, 0)
        # the last frame has no next frame to look at (offline, the max-pool pads it away)
        end = b if final else b + geo.encoder_ahead * geo.frame
        core = self._core.get(w0, end + geo.core_ahead)
        orig = self._orig.get(w0, end + geo.core_ahead)
        # offline zero-pads the end to whole frames: so do the windows, past the shorter input
        length = min(self._orig.end, self._core.end)
        core[max(length - w0, 0) :] = 0.0
        orig[max(length - w0, 0) :] = 0.0
        with torch.inference_mode():
            codes = _encode_window(self._model, _tensor(orig), _tensor(core), self._n_q, end - w0)
        first = (a - w0) // geo.frame
        count = (b - a) // geo.frame
        frames = codes[0, :, first : first + count].numpy()
        return [self._pack(frames[:, i]) for i in range(count)]


def _encode_window(model: NSBG, orig: Tensor, core: Tensor, n_q: int, length: int) -> Tensor:
    """Codes ``[1, n_q, N]`` of a window of ``length`` samples; ``orig`` and ``core`` run
    ``core_ahead`` past it (the PQMF analysis of its last sub-band samples looks ahead)."""
    cfg = model.config
    frames = -(-length // cfg.n_fft)
    bands = model.pqmf.analysis(core, bands=cfg.k_c)[..., : frames * cfg.n_fft // cfg.num_bands]
    if model.quantizer is None:
        raise RuntimeError("the blind variant has no side information to encode")
    return model.quantizer.encode(model.latents(orig, model.embed(bands)), n_q)


class NsbgStreamDecoder(HighBandDecoder):
    """Streaming n-SBG decoder: core blocks + payloads -> full-band output, equal to offline.

    ``unpack(payload, index)`` gives one frame's codes ``[K]``; ``None`` for the blind variant.
    ``core_bands``: the core's bands kept below the generated ones (:meth:`NSBG.decode`).
    """

    def __init__(
        self,
        model: NSBG,
        unpack: Unpack | None,
        *,
        chunk_frames: int = 32,
        core_bands: int | None = None,
    ) -> None:
        self._model, self._unpack = model, unpack
        self._keep = model.check_core_bands(core_bands)
        self._geo = StreamGeometry(model.config)
        self._chunk = chunk_frames * self._geo.frame
        self._core = _Buffer()
        self._codes: deque[np.ndarray] = deque()  # codes of frames from self._done on
        self._received = 0
        self._done = 0  # frames [0, done) generated
        self._emitted = 0  # output samples returned
        self._history: deque[np.ndarray] = deque()  # codes of the context frames

    def push(self, core_wav48: np.ndarray, payloads: list[bytes]) -> np.ndarray:
        self._core.push(core_wav48)
        if self._unpack is not None:
            for p in payloads:
                self._codes.append(self._unpack(p, self._received))
                self._received += 1
        return self._run(last=False)

    def flush(self) -> np.ndarray:
        return self._run(last=True)

    def _run(self, *, last: bool) -> np.ndarray:
        geo, out = self._geo, list[np.ndarray]()
        length = self._core.end
        while True:
            if last:
                stop = -(-length // geo.frame) * geo.frame
            else:
                stop = (length - geo.core_ahead) // geo.frame * geo.frame
            if self._unpack is not None:
                have = self._done + len(self._codes) * geo.frame
                if last and have < stop:
                    raise BitstreamError(
                        f"n-SBG side info ends after {self._received} frames, but the core "
                        f"needs {stop // geo.frame}; the stream is truncated or damaged"
                    )
                stop = min(stop, have)
            b = min(stop, self._done + self._chunk)
            if b <= self._done or (b - self._done < self._chunk and not last):
                break  # wait for a whole chunk: each step pays for its context
            out.append(self._generate(self._done, b, final=last and b == stop))
            self._done = b
            self._core.drop_before(max(b - geo.decoder_context, 0))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _generate(self, a: int, b: int, *, final: bool) -> np.ndarray:
        import torch

        geo = self._geo
        w0 = max(a - geo.decoder_context, 0)
        core = self._core.get(w0, b + geo.core_ahead)  # zeros past the end, as offline
        codes = None
        if self._unpack is not None:
            new = [self._codes.popleft() for _ in range((b - a) // geo.frame)]
            self._history.extend(new)
            while len(self._history) > (b - w0) // geo.frame:
                self._history.popleft()
            codes = torch.from_numpy(np.stack(list(self._history), axis=1))[None]
        with torch.inference_mode():
            wav = _decode_window(self._model, _tensor(core), codes, b - w0, w0, self._keep)
        # output [emitted, b - P) is settled; the final step gives the rest of the signal
        lo = self._emitted
        hi = max(self._core.end if final else b - geo.pqmf_half, lo)
        self._emitted = hi
        return wav[0, 0, lo - w0 : hi - w0].numpy().astype(np.float32)


def _decode_window(
    model: NSBG, core: Tensor, codes: Tensor | None, length: int, start: int, keep: int
) -> Tensor:
    """Full-band output ``[1, 1, length]`` of a window that starts at sample ``start`` of the
    stream and whose core runs ``core_ahead`` past it; the core's lowest ``keep`` bands are
    kept (:meth:`NSBG.splice`)."""
    from bandgen.dsp.pqmf import fill_bands
    from bandgen.models.nsbg import bound_generated

    cfg = model.config
    kept = model.pqmf.analysis(core, bands=keep)[..., : length // cfg.num_bands]
    core_bands = kept[:, : cfg.k_c]
    z_q = None if codes is None or model.quantizer is None else model.quantizer.decode(codes)
    high = model.generate(model.embed(core_bands), z_q, offset=start // cfg.num_bands)
    high = bound_generated(core_bands, high)  # per hop: windows start on a frame, so on a hop
    return model.pqmf.synthesis(fill_bands(list(model.splice(kept, high)), cfg.num_bands))
