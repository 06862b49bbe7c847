"""Training data: corpus manifests with file-level splits, the core-coded cache, segment datasets.

``manifest`` lists a corpus folder, ``cache`` codes every file once through the core codec,
``dataset`` draws seeded, aligned ``(original, core-decoded)`` segments from the cache.
"""

from __future__ import annotations

__all__ = ["cache", "dataset", "manifest"]
