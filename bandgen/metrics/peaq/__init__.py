"""PEAQ Basic version (ITU-R BS.1387-1) with the FFT ear model, and the 2f-model MMS.

``peaq(reference, test, sample_rate) -> PeaqResult``; modules by concept: :mod:`.ear` (FFT ear
model), :mod:`.patterns` (adaptation, modulation, loudness), :mod:`.movs` (per-frame MOV
precursors), :mod:`.averaging` (temporal averaging), :mod:`.network` (DI and ODG),
:mod:`.twof` (2f-model).
"""

from __future__ import annotations

from bandgen.metrics.peaq.evaluate import PeaqResult, peaq

__all__ = ["PeaqResult", "peaq"]
