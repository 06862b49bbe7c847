"""``--hf nsbg`` and ``--hf blind``: n-SBG neural band generation (paper ``000``) as high-band coders.

``nsbg`` sends, per 2048-sample frame, the RVQ codes of the SBG encoder (paper §3.1): ``n_q``
stages of ``log2(codebook_size)`` bits (10 for the 1024-entry codebooks), packed MSB first
with :class:`BitWriter` and zero-padded to whole bytes (11 stages: 110 bits -> 14 bytes,
2.58 kbps of codes). Dropping the last stages lowers the rate (paper §4.2). The decoder
regenerates PQMF bands ``k_c..k_h`` from the decoded core and the codes. ``blind`` (§4.4) is the
same decoder with no side information at all.

The header records the model name, its weights' sha256 and ``n_q``; a decoder whose weights
hash differently refuses the stream. torch is imported only when a coder is built.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from bandgen.bitstream.bits import BitReader, BitWriter
from bandgen.errors import BitstreamError, ConfigError
from bandgen.hf.base import HighBandCoder, HighBandDecoder, HighBandEncoder

if TYPE_CHECKING:
    from bandgen.models.nsbg import NSBG

__all__ = ["NsbgBlindCoder", "NsbgCoder", "crossover_bands", "pack_codes", "unpack_codes"]

MODES_KBPS = (12, 16, 24)
"""Total rates the shipped n-SBG models are released for (paper ``000`` Table 1, plus 24)."""


def pack_codes(codes: np.ndarray, bits: int) -> bytes:
    """One frame's codes ``[K]`` as ``K * bits`` bits, MSB first, padded to whole bytes."""
    writer = BitWriter()
    for code in codes:
        writer.write(int(code), bits)
    return writer.to_bytes()


def unpack_codes(payload: bytes, num_codes: int, bits: int, *, context: str) -> np.ndarray:
    """Inverse of :func:`pack_codes`: ``payload -> codes [num_codes]`` (int64).

    Raises:
        BitstreamError: the payload is shorter or longer than ``ceil(num_codes * bits / 8)``.
    """
    expected = -(-num_codes * bits // 8)
    if len(payload) > expected:
        raise BitstreamError(
            f"{context}: {len(payload)} bytes, expected {expected} ({num_codes} codes x {bits} bit)"
        )
    reader = BitReader(payload, context=context)
    return np.array([reader.read(bits) for _ in range(num_codes)], dtype=np.int64)


def crossover_bands(model: NSBG, core_cutoff_hz: float | None) -> int:
    """The core bands to keep below the generated ones for a core coded up to
    ``core_cutoff_hz``: the PQMF band edge nearest that cut-off, within ``[k_c, k_h + 1]``.

    The 24 kbps AAC core (8 kHz low-pass) keeps bands 0..10 (to 8.25 kHz) instead of 0..4:
    on 6 dev clips ViSQOL 3.61 -> 3.71 and mel 1.05 -> 0.99 (issue 13 note). A core at the
    model's crossover (4 kHz: band 5.3) keeps ``k_c``, as the model was trained.
    """
    cfg = model.config
    if core_cutoff_hz is None:
        return cfg.k_c
    band_hz = 24_000 / cfg.num_bands
    return min(max(round(core_cutoff_hz / band_hz), cfg.k_c), cfg.k_h + 1)


def _shipped(blind: bool, bitrate_kbps: float) -> str:
    """The shipped model of the right kind whose mode is nearest ``bitrate_kbps``."""
    from bandgen.pretrained.registry import list_models, model_info

    candidates: dict[str, float] = {}
    for name in list_models(kind="nsbg"):
        info = model_info(name)
        if bool(info["config"].get("blind", False)) != blind:
            continue
        candidates[name] = float(info.get("bitrate_kbps", info.get("mode_kbps", 0.0)))
    kind = "blind" if blind else "nsbg"
    if not candidates:
        raise ConfigError(
            f"no {kind} model is shipped with this bandgen yet; pass weights=PATH.safetensors "
            "(with PATH.json beside it) from a training run"
        )
    mode = min(MODES_KBPS, key=lambda m: abs(m - bitrate_kbps))
    return min(sorted(candidates), key=lambda n: abs(candidates[n] - mode))


class _NoSideInfo(HighBandEncoder):
    """The blind encoder: nothing to send."""

    def push(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        return []

    def flush(self) -> list[bytes]:
        return []


class _NsbgBase(HighBandCoder):
    """Loads the model (shipped ``model`` name or a user's ``weights`` file) and checks its hash."""

    blind = False

    def __init__(
        self,
        model: str | None = None,
        *,
        weights: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        chunk_frames: int = 32,
        core_bands: int | None = None,
    ) -> None:
        from bandgen.pretrained.registry import load_shared

        if chunk_frames < 1:
            raise ConfigError(f"chunk_frames must be >= 1, got {chunk_frames}")
        if model is None and weights is None:
            raise ConfigError(f"--hf {self.name} needs a model name or weights=PATH.safetensors")
        self.model: NSBG
        self.model, info = load_shared(None if weights is not None else model, weights)
        self.model_name = model if model is not None else str(info["name"])
        self.sha256 = str(info["sha256"])
        self.info = info
        self.chunk_frames = chunk_frames
        if sha256 is not None and sha256 != self.sha256:
            raise BitstreamError(
                f"the stream was coded with model {self.model_name!r} of sha256 {sha256}, but "
                f"the weights found have sha256 {self.sha256}; decode with the same weights "
                "(--weights FILE)"
            )
        if self.model.config.blind != self.blind:
            want = "a blind" if self.blind else "an n-SBG (non-blind)"
            raise ConfigError(f"--hf {self.name} needs {want} model; {self.model_name!r} is not")
        if core_bands is not None and not isinstance(core_bands, int):
            raise ConfigError(f"core_bands must be a whole number of bands, got {core_bands!r}")
        self.core_bands = self.model.check_core_bands(core_bands)

    @property
    def frame_length(self) -> int:
        return self.model.config.n_fft

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency at 48 kHz of the streaming encoder + decoder (core excluded)."""
        from bandgen.hf.nsbg_stream import StreamGeometry

        return StreamGeometry(self.model.config).latency

    def _base_config(self) -> dict[str, Any]:
        # the model by name and hash only, never a path: a decoder loads a shipped model or
        # the weights its user passes (bandgen.header.hf_decode_config)
        config: dict[str, Any] = {"model": self.model_name, "sha256": self.sha256}
        if self.core_bands != self.model.config.k_c:  # streams at the crossover stay as before
            config["core_bands"] = self.core_bands
        return config

    def _decoder(self, unpack: Any) -> HighBandDecoder:
        from bandgen.hf.nsbg_stream import NsbgStreamDecoder

        return NsbgStreamDecoder(
            self.model, unpack, chunk_frames=self.chunk_frames, core_bands=self.core_bands
        )


class NsbgCoder(_NsbgBase):
    """n-SBG: RVQ-coded SBG parameters per 2048 samples, neural high band (paper ``000`` §3).

    Args:
        model: name of a shipped model (:func:`bandgen.pretrained.list_models`); with
            ``weights``, only a label (default: the file's stem).
        n_q: RVQ stages sent (default all of the model's); fewer lower the side-info rate.
        weights: a ``.safetensors`` file (with its ``.json`` beside it) instead of a shipped model.
        sha256: the weights hash a stream was coded with; a mismatch is a :class:`BitstreamError`.
        chunk_frames: frames the streaming coders process per step (memory vs. re-computation).
        core_bands: PQMF bands of the decoded core kept below the generated ones (default the
            model's ``k_c``; more where the core is coded wider than the model's crossover).
    """

    name = "nsbg"

    def __init__(
        self,
        model: str | None = None,
        n_q: int | None = None,
        weights: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        chunk_frames: int = 32,
        core_bands: int | None = None,
    ) -> None:
        super().__init__(
            model, weights=weights, sha256=sha256, chunk_frames=chunk_frames, core_bands=core_bands
        )
        stages = self.model.config.n_q
        # a model released for a mode may send fewer stages than it has (one set of weights
        # trained with quantiser dropout serves several modes): its JSON's ``n_q``
        default = int(self.info.get("n_q", stages))
        self.n_q = default if n_q is None else int(n_q)
        if not 1 <= self.n_q <= stages:
            raise ConfigError(f"n_q must be between 1 and {stages} for this model, got {n_q}")
        self.code_bits = int(math.log2(self.model.config.codebook_size))

    @classmethod
    def for_bitrate(
        cls,
        bitrate_kbps: float,
        *,
        core_cutoff_hz: float | None = None,
        side_kbps: float | None = None,
        **options: Any,
    ) -> NsbgCoder:
        """The shipped model for the mode (12 or 16 kbps) nearest ``bitrate_kbps``.

        ``side_kbps`` caps the side info: ``n_q = floor(side_kbps / 0.234375)`` stages (10 bit x
        23.4375 frames/s each), at least 1 and at most the model's. ``options`` (``model``,
        ``weights``, ``n_q``, ``core_bands``, ...) go to the constructor; the core's cut-off
        sets ``core_bands`` unless given (:func:`crossover_bands`).
        """
        if options.get("model") is None and options.get("weights") is None:
            options["model"] = _shipped(False, bitrate_kbps)
        coder = cls(**options)
        if options.get("core_bands") is None:
            coder.core_bands = crossover_bands(coder.model, core_cutoff_hz)
        if side_kbps is not None:
            if not side_kbps > 0:
                raise ConfigError(f"side_kbps must be positive, got {side_kbps}")
            per_stage = coder.code_bits * 48_000 / coder.frame_length
            n_q = min(max(math.floor(side_kbps * 1000 / per_stage), 1), coder.model.config.n_q)
            coder.n_q = min(n_q, coder.model.config.n_q)
        return coder

    @property
    def bitrate(self) -> float:
        return self.n_q * self.code_bits * 48_000 / self.frame_length

    @property
    def payload_bytes(self) -> int:
        """Bytes of one frame's payload: ``ceil(n_q * bits / 8)``."""
        return -(-self.n_q * self.code_bits // 8)

    def config(self) -> dict[str, Any]:
        return {**self._base_config(), "n_q": self.n_q}

    def pack(self, codes: np.ndarray) -> bytes:
        """One frame's codes ``[n_q]`` -> payload bytes."""
        return pack_codes(codes, self.code_bits)

    def unpack(self, payload: bytes, index: int = 0) -> np.ndarray:
        """Payload of frame ``index`` -> codes ``[n_q]``; a wrong length is a BitstreamError."""
        return unpack_codes(
            payload, self.n_q, self.code_bits, context=f"n-SBG side info of frame {index}"
        )

    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        import torch

        wav = np.asarray(wav48, np.float32).reshape(-1)
        core = np.asarray(core_wav48, np.float32).reshape(-1)
        if wav.shape != core.shape:
            raise ConfigError(
                f"n-SBG encode needs core and original of equal length, got {core.shape} "
                f"vs {wav.shape}"
            )
        with torch.inference_mode():
            codes = self.model.encode(
                torch.from_numpy(wav)[None, None], torch.from_numpy(core)[None, None], self.n_q
            )
        frames = codes[0].numpy()
        return [self.pack(frames[:, i]) for i in range(frames.shape[1])]

    def new_encoder(self) -> HighBandEncoder:
        from bandgen.hf.nsbg_stream import NsbgStreamEncoder

        return NsbgStreamEncoder(self.model, self.n_q, self.pack, chunk_frames=self.chunk_frames)

    def new_decoder(self) -> HighBandDecoder:
        return self._decoder(self.unpack)


class NsbgBlindCoder(_NsbgBase):
    """Blind SBG: the n-SBG decoder with zero side information (paper ``000`` §4.4).

    Args:
        model: name of a shipped blind model; with ``weights``, only a label.
        weights: a ``.safetensors`` file (with its ``.json``) of a blind model.
        sha256: the weights hash a stream was coded with; a mismatch is a :class:`BitstreamError`.
        chunk_frames: frames the streaming decoder processes per step.
        core_bands: PQMF bands of the decoded core kept below the generated ones.
    """

    name = "blind"
    blind = True

    def __init__(
        self,
        model: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        chunk_frames: int = 32,
        core_bands: int | None = None,
    ) -> None:
        super().__init__(
            model, weights=weights, sha256=sha256, chunk_frames=chunk_frames, core_bands=core_bands
        )

    @classmethod
    def for_bitrate(
        cls, bitrate_kbps: float, *, core_cutoff_hz: float | None = None, **options: Any
    ) -> NsbgBlindCoder:
        """The shipped blind model for the mode nearest ``bitrate_kbps`` (unless given); the
        core's cut-off sets ``core_bands`` unless given (:func:`crossover_bands`)."""
        if options.get("model") is None and options.get("weights") is None:
            options["model"] = _shipped(True, bitrate_kbps)
        coder = cls(**options)
        if options.get("core_bands") is None:
            coder.core_bands = crossover_bands(coder.model, core_cutoff_hz)
        return coder

    @property
    def bitrate(self) -> float:
        return 0.0

    def config(self) -> dict[str, Any]:
        return self._base_config()

    def num_frames(self, num_samples: int) -> int:
        return 0

    def encode(self, wav48: np.ndarray, core_wav48: np.ndarray) -> list[bytes]:
        return []

    def new_encoder(self) -> HighBandEncoder:
        return _NoSideInfo()

    def new_decoder(self) -> HighBandDecoder:
        return self._decoder(None)
