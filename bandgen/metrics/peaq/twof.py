"""The 2f-model of Kastner & Herre (IEEE WASPAA 2019).

"An efficient model for estimating subjective quality of separated audio source signals"
predicts a MUSHRA score (MMS) from two PEAQ Basic MOVs, AvgModDiff1_B and ADB_B.
"""

from __future__ import annotations


def twof_model(avg_mod_diff1: float, adb: float) -> float:
    """MUSHRA score in [0, 100] from AvgModDiff1_B and ADB_B.

    ``MMS = 56.1345 / (1 + (-0.0282 AvgModDiff1 - 0.8628)^2) - 27.1451 ADB + 86.3515``,
    clipped to [0, 100].
    """
    mms = 56.1345 / (1.0 + (-0.0282 * avg_mod_diff1 - 0.8628) ** 2) - 27.1451 * adb + 86.3515
    return float(min(max(mms, 0.0), 100.0))
