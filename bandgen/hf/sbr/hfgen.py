"""HF generator: patching of low QMF bands with chirped inverse filtering (ISO/IEC 14496-3, 4.6.18.6).

For each low QMF band a complex order-2 linear predictor is estimated (covariance method,
4.6.18.6.2) over the frame; the patched high band is the low band run through the
"inverse filter" ``1 + bw a0 z^-1 + bw^2 a1 z^-2`` whose chirp factor ``bw`` is set per
noise band from the transmitted inverse-filtering level (4.6.18.6.2, Table "bw").  ``bw = 0``
copies the low band as is; ``bw`` near 1 whitens it, removing the tonal peaks that a tonal low
band would otherwise transplant into a noisy high band.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bandgen.hf.sbr.tables import BandTables

LOOKBACK = 2
"""Past QMF slots the predictor needs (order 2)."""
_NEW_BW = (0.0, 0.6, 0.9, 0.98)  # chirp target per bs_invf_mode: off, low, mid, strong
_BW_OFF_AFTER_LOW = 0.6
_BW_LOW_AFTER_OFF = 0.6
_BW_LOW = 0.75


def lpc_coefficients(x_low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order-2 complex inverse-filter coefficients per band (covariance method).

    Args:
        x_low: QMF slots ``[LOOKBACK + S, K]`` complex (2 past slots then the frame).

    Returns:
        ``(alpha0, alpha1)``, each ``[K]`` complex, minimising
        ``sum |x(n) + alpha0 x(n-1) + alpha1 x(n-2)|^2`` over the frame; both zero where the
        system is singular or a coefficient reaches magnitude 4 (unstable), as the standard says.
    """
    x0, x1, x2 = x_low[2:], x_low[1:-1], x_low[:-2]

    def phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sum(a * b.conj(), axis=0)

    p01, p02, p11, p12, p22 = (
        phi(x0, x1),
        phi(x0, x2),
        phi(x1, x1).real,
        phi(x1, x2),
        phi(x2, x2).real,
    )
    det = p11 * p22 - np.abs(p12) ** 2 / (1 + 1e-6)
    ok_det = np.abs(det) > 1e-9 * np.maximum(p11 * p22, 1e-300)
    ok11 = p11 > 1e-30
    with np.errstate(all="ignore"):
        alpha1 = np.where(ok_det, (p01 * p12 - p02 * p11) / np.where(ok_det, det, 1.0), 0.0)
        alpha0 = np.where(ok11, -(p01 + alpha1 * p12.conj()) / np.where(ok11, p11, 1.0), 0.0)
    finite = np.isfinite(alpha0) & np.isfinite(alpha1)
    unstable = (
        ~finite
        | (np.abs(np.where(finite, alpha0, 0)) >= 4)
        | (np.abs(np.where(finite, alpha1, 0)) >= 4)
    )
    return np.where(unstable, 0, alpha0), np.where(unstable, 0, alpha1)


def next_chirp(invf_mode: np.ndarray, prev_mode: np.ndarray, prev_bw: np.ndarray) -> np.ndarray:
    """Chirp factors ``[NQ]`` from inverse-filtering modes (0..3), smoothed against the last frame.

    The target for "low" is 0.6 right after "off", else 0.75; "off" right after "low" keeps 0.6;
    the new value moves fast when rising (0.90625) and slower when falling (0.75); values below
    1/64 snap to 0 and the result is capped at 0.99609375.
    """
    target = np.asarray(_NEW_BW)[invf_mode]
    target = np.where((invf_mode == 0) & (prev_mode == 1), _BW_OFF_AFTER_LOW, target)
    target = np.where((invf_mode == 1) & (prev_mode != 0), _BW_LOW, target)
    target = np.where((invf_mode == 1) & (prev_mode == 0), _BW_LOW_AFTER_OFF, target)
    bw = np.where(
        target < prev_bw, 0.75 * target + 0.25 * prev_bw, 0.90625 * target + 0.09375 * prev_bw
    )
    bw = np.where(bw < 0.015625, 0.0, bw)
    return np.minimum(bw, 0.99609375)


@dataclass
class HfGenerator:
    """Streaming HF generator for one channel; state = last chirp factors and invf modes.

    Attributes:
        tables: band tables.
        prev_mode: inverse-filtering modes ``[NQ]`` of the last frame.
        prev_bw: chirp factors ``[NQ]`` of the last frame.
    """

    tables: BandTables
    prev_mode: np.ndarray = field(init=False)
    prev_bw: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        num_noise = len(self.tables.noise) - 1
        self.prev_mode = np.zeros(num_noise, np.int64)
        self.prev_bw = np.zeros(num_noise)

    def chirp_per_band(self, bw: np.ndarray) -> np.ndarray:
        """Map noise-band chirps ``[NQ]`` to the SBR QMF bands ``[M]``."""
        t = self.tables
        idx = np.searchsorted(np.asarray(t.noise), np.arange(t.kx, t.k2), side="right") - 1
        return bw[idx]

    def generate(
        self, x_low: np.ndarray, invf_mode: np.ndarray, *, commit: bool = True
    ) -> np.ndarray:
        """Patch one frame.

        Args:
            x_low: core QMF slots ``[LOOKBACK + S, >= k0]`` complex (two past slots first).
            invf_mode: inverse-filtering levels ``[NQ]`` (0 off .. 3 strong).
            commit: update the chirp state (the encoder's trial runs pass ``False``).

        Returns:
            Patched high band ``[S, M]`` complex for QMF bands ``kx .. k2 - 1`` (zero in bands
            no patch reaches).
        """
        t = self.tables
        invf_mode = np.asarray(invf_mode, np.int64)
        bw = next_chirp(invf_mode, self.prev_mode, self.prev_bw)
        if commit:
            self.prev_mode, self.prev_bw = invf_mode.copy(), bw
        bw_band = self.chirp_per_band(bw)
        alpha0, alpha1 = lpc_coefficients(x_low[:, : t.k0])
        num_slots = x_low.shape[0] - LOOKBACK
        out = np.zeros((num_slots, t.num_sbr_bands), np.complex128)
        for source, target, width in t.patches:
            src = np.arange(source, source + width)
            dst = np.arange(target, target + width) - t.kx
            b = bw_band[dst]
            out[:, dst] = (
                x_low[2:, src]
                + (b * alpha0[src]) * x_low[1:-1, src]
                + (b * b * alpha1[src]) * x_low[:-2, src]
            )
        return out
