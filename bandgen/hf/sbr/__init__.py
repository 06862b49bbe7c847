"""HE-AAC-style spectral band replication (ISO/IEC 14496-3, 4.6.18) as a high-band coder."""

from __future__ import annotations

from bandgen.hf.sbr.coder import SbrCoder

__all__ = ["SbrCoder"]
