"""The Basic-version neural network of PEAQ (ITU-R BS.1387-1, section 6, Tables 14-17).

The 11 MOVs are min/max scaled, fed through one hidden layer of 3 sigmoid units and combined
linearly into the distortion index DI; ODG = -3.98 + 4.2 sigmoid(DI).
"""

from __future__ import annotations

import numpy as np

from bandgen.metrics.peaq.ear import Array

MOV_NAMES: tuple[str, ...] = (
    "BandwidthRef_B",
    "BandwidthTest_B",
    "Total NMR_B",
    "WinModDiff1_B",
    "ADB_B",
    "EHS_B",
    "AvgModDiff1_B",
    "AvgModDiff2_B",
    "RmsNoiseLoud_B",
    "MFPD_B",
    "RelDistFrames_B",
)
"""The Basic MOVs in the order of the standard and of the network's inputs."""

# Table 14: scaling of the MOVs, a_min and a_max.
MOV_MIN = np.array(
    [393.916656, 361.965332, -24.045116, 1.110661, -0.206623, 0.074318,
     1.113683, 0.950345, 0.029985, 0.000101, 0.0]
)  # fmt: skip
MOV_MAX = np.array(
    [921.0, 881.131226, 16.212030, 107.137772, 2.886017, 13.933351,
     63.257874, 1145.018555, 14.819740, 1.0, 1.0]
)  # fmt: skip

# Table 15: input weights w_x[i, j] (MOV i -> hidden unit j); the last row is the hidden bias.
INPUT_WEIGHTS = np.array(
    [
        [-0.502657, 0.436333, 1.219602],
        [4.307481, 3.246017, 1.123743],
        [4.984241, -2.211189, -0.192096],
        [0.051056, -1.762424, 4.331315],
        [2.321580, 1.789971, -0.754560],
        [-5.303901, -3.452257, -10.814982],
        [2.730991, -6.111805, 1.519223],
        [0.624950, -1.331523, -5.955151],
        [3.102889, 0.871260, -5.922878],
        [-1.051468, -0.939882, -0.142913],
        [-1.804679, -0.503610, -0.620456],
        [-2.518254, 0.654841, -2.207228],
    ]
)
# Table 16: output weights w_y[j]; the last entry is the output bias.
OUTPUT_WEIGHTS = np.array([-3.817048, 4.107138, 4.629582, -0.307594])
# Table 17: scaling of the output.
ODG_MIN, ODG_MAX = -3.98, 0.22


def _sigmoid(x: Array | float) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


def distortion_index(movs: Array) -> float:
    """Distortion index DI from the 11 Basic MOVs ``[11]`` in :data:`MOV_NAMES` order.

    MOVs are not clipped to the scaling range (as in PQevalAudio).
    """
    scaled = (np.asarray(movs, dtype=np.float64) - MOV_MIN) / (MOV_MAX - MOV_MIN)
    hidden = _sigmoid(INPUT_WEIGHTS[-1] + scaled @ INPUT_WEIGHTS[:-1])
    return float(OUTPUT_WEIGHTS[-1] + hidden @ OUTPUT_WEIGHTS[:-1])


def objective_difference_grade(di: float) -> float:
    """ODG = -3.98 + 4.2 / (1 + exp(-DI)), in [-3.98, 0.22]."""
    return float(ODG_MIN + (ODG_MAX - ODG_MIN) * _sigmoid(di))
