"""Guard of the Opus core's CBR streams against libopus's SILK blow-ups (issue 13).

libopus (1.6.1, PyAV's) held to a constant bit rate in its SILK or hybrid modes (the
modes it picks below about 24 kbit/s) can lose control of its predictors on a pure tone
whose pitch moves fast, a sine sweep or a chirp: within two or three packets a partial
grows to full scale and stays there until the input stops (dev_sound_05 at 6.46-6.66 s:
rms 0.78 against the input's 0.05; dev_sound_07, a fast sweep, 10-20 dB too loud).  The
packets are valid: every decoder plays it.  Digital silence, the coded bandwidth and the
frame size do not cause it; VBR and CELT-only coding (``application=lowdelay``) did not
show it on the dev clips nor on synthetic sweeps.

:class:`GuardedEncoder` decodes each packet as it is made, with a decoder of its own that
follows the encoder it watches.  When a packet decodes :data:`BLOWUP_DB` louder than the
loudest input around it (and louder than :data:`BLOWUP_RMS`), it drops that packet and
codes the frame, and :data:`FALLBACK_FRAMES` more, with a CELT-only encoder at the same
rate (so the same packet size), warmed on the :data:`WARMUP_FRAMES` frames before; then a
fresh primary encoder, warmed the same way, takes over again.  A CELT-only packet makes
the decoder reset its SILK state, so the resumed SILK coder starts clean instead of from
the blown-up one.  The decoder stays a plain Opus decoder; a stream that never trips the
guard is byte-identical to the unguarded encoder's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bandgen.errors import BandgenError

from .base import CoreEncoder
from .engine import PyAVDecoder, PyAVEncoder

BLOWUP_DB = 6.0
"""A packet whose decoded frame is this much louder than the input around it has blown up."""

BLOWUP_RMS = 0.02
"""Decoded frames quieter than this rms (-34 dBFS) never count as blown up."""

FALLBACK_FRAMES = 25
"""Frames coded CELT-only after the first blow-up (0.5 s at 20 ms); doubled at each next."""

MAX_FALLBACK_FRAMES = 500
"""Cap of the doubled fallback span (10 s)."""

WARMUP_FRAMES = 5
"""Input frames a new encoder codes (packets dropped) before the frame it takes over at."""


def _rms(wav: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0


class _Track:
    """One encoder over the input delayed by ``lag`` samples, from frame ``start`` on.

    ``monitor``: a decoder of this encoder's own packets (warm-up included), whose output is
    what a decoder fed this encoder's stream from the start would play.
    """

    def __init__(
        self,
        encoder: PyAVEncoder,
        monitor: PyAVDecoder | None,
        read: Callable[[int, int], np.ndarray],
        *,
        frame_length: int,
        lag: int,
        frame: int,
    ) -> None:
        self._encoder, self._monitor, self._read = encoder, monitor, read
        self._frame_length, self._lag, self.frame = frame_length, lag, frame

    def step(self) -> tuple[bytes, np.ndarray | None]:
        """Code the next frame: its packet, and its decoded samples if monitored."""
        start = self.frame * self._frame_length - self._lag
        packets = self._encoder.push(self._read(start, start + self._frame_length))
        if len(packets) != 1:
            raise BandgenError(f"libopus gave {len(packets)} packets for one frame, expected 1")
        self.frame += 1
        decoded = None if self._monitor is None else self._monitor.push(packets[0])
        return packets[0], decoded


class GuardedEncoder(CoreEncoder):
    """Streaming Opus encoder that replaces blown-up packets (see the module docstring).

    Args:
        primary: opens the encoder of the stream (CBR, any application).
        fallback: opens the CELT-only encoder at the same rate.
        monitor: opens a raw decoder (no delay dropped) of the primary's packets.
        frame_length: samples per frame and packet (960).
        delay: the primary's pre-skip (312): packet ``k`` decodes input samples
            ``[k * frame_length - delay, (k + 1) * frame_length - delay)``.
        fallback_lag: samples the fallback's input runs behind the primary's, so that its
            packets cover the same samples at its shorter pre-skip.
    """

    def __init__(
        self,
        *,
        primary: Callable[[], PyAVEncoder],
        fallback: Callable[[], PyAVEncoder],
        monitor: Callable[[], PyAVDecoder],
        frame_length: int,
        delay: int,
        fallback_lag: int,
    ) -> None:
        self._open_primary, self._open_fallback, self._open_monitor = primary, fallback, monitor
        self._frame_length, self._delay, self._fallback_lag = frame_length, delay, fallback_lag
        self._keep = (WARMUP_FRAMES + 2) * frame_length + max(delay, fallback_lag)
        self._input = np.zeros(0, dtype=np.float32)
        self._input_start = 0  # absolute index of self._input[0]
        self._received = 0
        self._frame = 0
        self._track = self._start(fallback=False, frame=0)
        self._resume_at: int | None = None  # while falling back: frame the primary resumes at
        self._span = FALLBACK_FRAMES
        self.blowups: list[int] = []
        """Frames whose primary packet blew up and was replaced."""
        self._finished = False

    def push(self, wav: np.ndarray) -> list[bytes]:
        """Buffer ``wav`` (float32 ``[T]``) and code every whole frame; return new packets."""
        if self._finished:
            raise BandgenError("the core encoder was flushed; start a new one for a new stream")
        block = np.asarray(wav, dtype=np.float32).reshape(-1)
        self._input = np.concatenate([self._input, block])
        self._received += block.shape[0]
        packets = []
        while (self._frame + 1) * self._frame_length <= self._received:
            packets.append(self._code_frame())
        return packets

    def flush(self) -> list[bytes]:
        """Zero-pad the last partial frame and code it and the look-ahead tail."""
        if self._finished:
            return []
        self._finished = True
        end = self._received
        if end == 0:  # nothing coded: no look-ahead tail either (as plain libopus)
            return []
        last = -(-end // self._frame_length)  # frames holding input, the last zero-padded
        pad = (last + 1) * self._frame_length - end  # the tail frame is all zeros
        self._input = np.concatenate([self._input, np.zeros(pad, np.float32)])
        self._received += pad
        return [self._code_frame() for _ in range(self._frame, last + 1)]

    def charge(self, bits: int) -> None:
        """Bits sent beside the packets: nothing to steer (the rate is constant)."""

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Input samples ``[start, stop)`` (absolute), zeros before the first."""
        out = np.zeros(stop - start, dtype=np.float32)
        lo = max(start, self._input_start)
        if lo < stop:
            out[lo - start :] = self._input[lo - self._input_start : stop - self._input_start]
        return out

    def _start(self, *, fallback: bool, frame: int) -> _Track:
        """A new track taking over at ``frame``, warmed on the frames before."""
        lag = self._fallback_lag if fallback else 0
        encoder = self._open_fallback() if fallback else self._open_primary()
        monitor = None if fallback else self._open_monitor()
        first = max(0, frame - WARMUP_FRAMES)
        track = _Track(
            encoder, monitor, self._read, frame_length=self._frame_length, lag=lag, frame=first
        )
        while track.frame < frame:
            track.step()
        return track

    def _code_frame(self) -> bytes:
        k = self._frame
        if self._resume_at is not None and k >= self._resume_at:
            self._track, self._resume_at = self._start(fallback=False, frame=k), None
        packet, decoded = self._track.step()
        if decoded is not None and self._blown_up(decoded, k):
            self.blowups.append(k)
            self._track = self._start(fallback=True, frame=k)
            packet, _ = self._track.step()
            self._resume_at = k + self._span
            self._span = min(2 * self._span, MAX_FALLBACK_FRAMES)
        self._frame += 1
        drop = self._frame * self._frame_length - self._keep - self._input_start
        if drop > 0:
            self._input, self._input_start = self._input[drop:], self._input_start + drop
        return packet

    def _blown_up(self, decoded: np.ndarray, k: int) -> bool:
        """Frame ``k`` decoded far louder than the input before, at and just after it."""
        level = _rms(decoded)
        if level <= BLOWUP_RMS:
            return False
        n, at = self._frame_length, k * self._frame_length - self._delay
        around = (
            self._read(at - n, at),
            self._read(at, at + n),
            self._read(at + self._delay, at + n + self._delay),
        )
        return level > max(_rms(w) for w in around) * 10 ** (BLOWUP_DB / 20)
