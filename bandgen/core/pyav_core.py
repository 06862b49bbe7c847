"""Shared base of the PyAV core codecs: params validation, mode choice, encoder/decoder wiring.

A subclass names its FFmpeg encoder and decoder, its sample format, its supported
sample rates, its codec delay and its :class:`~bandgen.core.modes.ModeTable`;
this class turns :class:`~bandgen.core.base.CoreParams` into streaming
:class:`~bandgen.core.engine.PyAVEncoder` / :class:`~bandgen.core.engine.PyAVDecoder`
instances.

Params conventions (what the ``.bgn`` header stores):

- ``bitrate`` is the *target* payload rate in bit/s (what the user asked for);
- ``options["b"]``, when present, is the nominal bit rate asked of the encoder, which
  differs from the target where the encoder over- or undershoots (see ``modes.py``);
- ``cutoff_hz`` is passed to the encoder as its low-pass (FFmpeg's ``cutoff``);
- every other option is an FFmpeg encoder AVOption.  The decoder needs none of them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from bandgen.errors import ConfigError

from .base import CoreCodec, CoreEncoder, CoreParams
from .modes import ModeTable, check_sample_rate

if TYPE_CHECKING:  # the engine imports PyAV: only coding needs it, not a core's parameters
    from .engine import PyAVDecoder, PyAVEncoder

REQUEST_OPTION = "b"
"""Key of ``CoreParams.options`` holding the bit rate asked of the encoder, in bit/s."""


class PyAVCore(CoreCodec):
    """A :class:`CoreCodec` run by one FFmpeg encoder/decoder pair through PyAV.

    Args:
        params: the codec parameters; validated here (:class:`ConfigError` if invalid).
    """

    codec_name: ClassVar[str]
    encoder_name: ClassVar[str]
    decoder_name: ClassVar[str]
    sample_format: ClassVar[str]
    sample_rates: ClassVar[tuple[int, ...]]
    table: ClassVar[ModeTable]
    split_table: ClassVar[ModeTable | None] = None
    """Rows for a core under a regenerated high band (``max_cutoff_hz`` given to
    :meth:`for_bitrate`), where the band and sample rate that serve a band split best are not
    those of :attr:`table` (which codes as wide as the rate allows); ``None``: :attr:`table`.
    It must cover the same range of targets."""
    exact_options: ClassVar[dict[str, str] | None] = None
    """Encoder options that make the payload rate exactly the request (e.g. Opus CBR), for
    :meth:`for_bitrate` with ``exact_rate``; ``None`` where the codec has none."""
    exact_min_kbps: ClassVar[float | None] = None
    """Lowest target with ``exact_rate`` (below the mode table's floor, which is measured
    for the codec's own rate control); ``None``: the table's."""

    def __init__(self, params: CoreParams) -> None:
        if params.name != self.codec_name:
            raise ConfigError(f"{type(self).__name__} got params for core {params.name!r}")
        check_sample_rate(self.codec_name, params.sample_rate, self.sample_rates)
        if params.bitrate <= 0:
            raise ConfigError(
                f"{self.codec_name} core bitrate must be positive, got {params.bitrate}"
            )
        if not 0 < params.cutoff_hz <= params.sample_rate / 2:
            raise ConfigError(
                f"{self.codec_name} core cutoff {params.cutoff_hz} Hz is outside "
                f"(0, {params.sample_rate / 2:g}] Hz for a {params.sample_rate} Hz sample rate"
            )
        for key, value in params.options.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ConfigError(
                    f"{self.codec_name} core options must map str to str, got {key!r}"
                )
        self.params = params
        self.check_params(params)

    def check_params(self, params: CoreParams) -> None:
        """Codec-specific validation; raise :class:`ConfigError` on invalid params."""

    @property
    @abstractmethod
    def delay(self) -> int:
        """Codec delay in samples at :attr:`sample_rate` (encoder priming plus decoder delay).

        The encoder checks FFmpeg reports this delay (its first packet's timestamp).
        """

    @property
    def constant_packets(self) -> bool:
        """Coded with :attr:`exact_options` (e.g. Opus CBR: every packet the same size)."""
        exact = self.exact_options
        return exact is not None and all(self.params.options.get(k) == v for k, v in exact.items())

    @property
    def alignment_delay(self) -> int:
        """Samples the decoder drops so its output lines up with the input (default :attr:`delay`)."""
        return self.delay

    @property
    def encoder_bit_rate(self) -> int:
        """The nominal bit rate asked of the encoder, bit/s."""
        request = self.params.options.get(REQUEST_OPTION)
        if request is None:
            return self.params.bitrate
        try:
            return int(request)
        except ValueError as exc:
            raise ConfigError(
                f"{self.codec_name} core option {REQUEST_OPTION}={request!r} is not an integer"
            ) from exc

    def encoder_options(self) -> dict[str, str]:
        """FFmpeg AVOptions for the encoder: ``params.options`` less ``b``, plus the cutoff."""
        options = {k: v for k, v in self.params.options.items() if k != REQUEST_OPTION}
        options["cutoff"] = str(round(self.params.cutoff_hz))
        return options

    def extradata(self) -> bytes | None:
        """Decoder configuration bytes derived from :attr:`params` (none by default)."""
        return None

    def decoder_options(self) -> dict[str, str]:
        """FFmpeg AVOptions for the decoder."""
        return {}

    def new_encoder(
        self, *, target_bit_rate: int | None = None, rate_scale: float = 1.0
    ) -> CoreEncoder:
        """A fresh streaming encoder for one channel (float32 at :attr:`sample_rate`).

        Args:
            target_bit_rate: for a codec with :attr:`rate_control`, the rate in bit/s the
                encoder steers to instead of ``params.bitrate``: the whole stream's, when
                the caller counts its other bits with ``PyAVEncoder.charge``.
            rate_scale: the rate asked of the encoder, times this (a channel of a pair that
                gets more or less than its even share, :mod:`bandgen.stereo`).
        """
        if target_bit_rate is None:
            target_bit_rate = self.params.bitrate
        return self._pyav_encoder(
            rate_scale, target_bit_rate=target_bit_rate if self.rate_control else None
        )

    def _pyav_encoder(
        self,
        rate_scale: float,
        *,
        options: Mapping[str, str] | None = None,
        delay: int | None = None,
        target_bit_rate: int | None = None,
    ) -> PyAVEncoder:
        """A PyAV encoder at this core's request times ``rate_scale`` and its band;
        ``options`` override the core's own, ``delay`` its :attr:`delay`."""
        from .engine import PyAVEncoder

        return PyAVEncoder(
            self.encoder_name,
            sample_rate=self.sample_rate,
            bit_rate=round(self.encoder_bit_rate * rate_scale),
            options={**self.encoder_options(), **(options or {})},
            sample_format=self.sample_format,
            delay=self.delay if delay is None else delay,
            target_bit_rate=target_bit_rate,
        )

    def new_decoder(self) -> PyAVDecoder:
        """A fresh streaming decoder for one channel, built from :attr:`params` only."""
        from .engine import PyAVDecoder

        return PyAVDecoder(
            self.decoder_name,
            sample_rate=self.sample_rate,
            frame_length=self.frame_length,
            delay=self.alignment_delay,
            extradata=self.extradata(),
            options=self.decoder_options(),
        )

    @classmethod
    def cutoff_for(cls, cutoff_hz: int, sample_rate: int) -> int:
        """The low-pass to use for a mode's ``cutoff_hz`` at ``sample_rate`` (clipped to Nyquist)."""
        return min(cutoff_hz, sample_rate // 2)

    @classmethod
    def mode_options(
        cls, options: Mapping[str, str], request: int, sample_rate: int
    ) -> dict[str, str]:
        """The encoder options of a mode row for a request in bit/s (default: the row's)."""
        return dict(options)

    @classmethod
    def for_bitrate(
        cls,
        bitrate_kbps: float,
        *,
        sample_rate: int | None = None,
        exact_rate: bool = False,
        max_cutoff_hz: float | None = None,
    ) -> PyAVCore:
        """Build the codec for a target payload rate per channel.

        Args:
            bitrate_kbps: target payload rate per channel, kbit/s.
            sample_rate: force the codec sample rate in Hz; the measured payload is only
                guaranteed (within 10 %) for the default one from the mode table.
            exact_rate: a codec with :attr:`exact_options` codes at exactly the target
                (e.g. Opus CBR: every packet the same size) instead of its own VBR, whose
                rate varies with the content; the mode table still sets the band.
            max_cutoff_hz: code no band above this (a high-band method regenerates it);
                the row comes from :attr:`split_table` where the codec has one.

        Raises:
            ConfigError: if the target is unreachable or the sample rate unsupported.
        """
        exact = exact_rate and cls.exact_options is not None
        table = cls.table
        if max_cutoff_hz is not None and cls.split_table is not None:
            table = cls.split_table
        row_kbps = bitrate_kbps
        floor = cls.exact_min_kbps
        if exact and floor is not None and floor <= bitrate_kbps < table.min_kbps:
            row_kbps = table.min_kbps  # below the measured rows: the lowest sets the band
        mode, request = table.pick(row_kbps)
        if exact:
            request = round(bitrate_kbps * 1000)
        rate = mode.sample_rate
        if sample_rate is not None:
            rate = check_sample_rate(cls.codec_name, sample_rate, cls.sample_rates)
        target = round(bitrate_kbps * 1000)
        options = cls.mode_options(mode.options, request, rate)
        if exact:
            options.update(cls.exact_options or {})
        if request != target:
            options[REQUEST_OPTION] = str(request)
        cutoff = mode.cutoff_hz
        if max_cutoff_hz is not None:
            cutoff = min(cutoff, round(max_cutoff_hz))
        params = CoreParams(
            name=cls.codec_name,
            bitrate=target,
            sample_rate=rate,
            cutoff_hz=float(cls.cutoff_for(cutoff, rate)),
            options=options,
        )
        return cls(params)
