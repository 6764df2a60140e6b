"""LSH banding: choosing bands × rows for a threshold, and hashing each band of a signature to one 64-bit key.

Two documents whose true Jaccard similarity is ``s`` agree on one signature value with probability ``s``, on a whole
band of ``r`` rows with ``s**r``, and share at least one of ``b`` bands with ``P(s) = 1 - (1 - s**r)**b``. For a
threshold ``t``, the false-positive mass is ``∫₀ᵗ P(s) ds`` and the false-negative mass ``∫ₜ¹ (1 - P(s)) ds``;
:func:`optimal_bands` picks the ``(b, r)`` with ``b·r ≤ num_perm`` minimizing their weighted sum, as datasketch's
``MinHashLSH`` does. The integrands are polynomials of degree ``b·r ≤ num_perm``, so Gauss–Legendre quadrature with
``num_perm // 2 + 1`` nodes integrates them exactly (datasketch uses adaptive quadrature; the chosen pair is the same,
which a test checks).

Band keys: band ``j`` of a signature (values ``j·r .. j·r + r - 1``) is folded into one int64 by a fixed mixing
function; documents land in the same bucket of band ``j`` when their keys are equal. A key collision between two
different bands has probability about 2⁻⁶⁴ per pair, so it never matters at crawl scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Banding:
    """A choice of bands × rows and what it implies at the threshold."""

    bands: int
    rows: int
    threshold: float
    false_positive: float
    """∫₀ᵗ P(s) ds: chance mass of pairs below the threshold becoming candidates."""
    false_negative: float
    """∫ₜ¹ (1 − P(s)) ds: chance mass of pairs above the threshold never becoming candidates."""

    def probability(self, similarity: float) -> float:
        """Probability that two documents of this Jaccard similarity share at least one band."""
        return detection_probability(similarity, self.bands, self.rows)

    def describe(self) -> str:
        p = self.probability
        t = self.threshold
        return (
            f"LSH {self.bands} bands × {self.rows} rows: P(candidate) = {p(t):.3f} at J={t:g}, "
            f"{p(min(1.0, t + 0.05)):.3f} at J={min(1.0, t + 0.05):g}, {p(min(1.0, t + 0.1)):.3f} at "
            f"J={min(1.0, t + 0.1):g}, {p(max(0.0, t - 0.1)):.3f} at J={max(0.0, t - 0.1):g} "
            f"(false-positive mass {self.false_positive:.4f}, false-negative mass {self.false_negative:.4f})"
        )


def detection_probability(similarity: float, bands: int, rows: int) -> float:
    """``1 - (1 - s**rows)**bands``."""
    return 1.0 - (1.0 - similarity**rows) ** bands


@lru_cache(maxsize=64)
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _masses(threshold: float, b: np.ndarray, r: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = _nodes(degree // 2 + 1)
    # nodes mapped from [-1, 1] to [0, t] and [t, 1]; shape (pairs, nodes)
    lo = threshold * (x + 1) / 2
    hi = threshold + (1 - threshold) * (x + 1) / 2
    p_lo = 1 - (1 - lo[None, :] ** r[:, None]) ** b[:, None]
    p_hi = 1 - (1 - hi[None, :] ** r[:, None]) ** b[:, None]
    fp = (p_lo * w).sum(axis=1) * threshold / 2
    fn = ((1 - p_hi) * w).sum(axis=1) * (1 - threshold) / 2
    return fp, fn


def optimal_bands(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> Banding:
    """The ``(bands, rows)`` with ``bands * rows <= num_perm`` minimizing the weighted false-positive plus
    false-negative mass at ``threshold`` (first such pair in datasketch's search order on ties)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    if false_positive_weight < 0 or false_negative_weight < 0:
        raise ValueError("false_positive_weight and false_negative_weight must not be negative")
    if abs(false_positive_weight + false_negative_weight - 1.0) > 1e-9:
        raise ValueError(
            f"false_positive_weight + false_negative_weight must be 1, got "
            f"{false_positive_weight} + {false_negative_weight}"
        )
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], np.float64)
    r = np.array([p[1] for p in pairs], np.float64)
    fp, fn = _masses(threshold, b, r, num_perm)
    error = fp * false_positive_weight + fn * false_negative_weight
    i = int(np.argmin(error))
    return Banding(pairs[i][0], pairs[i][1], threshold, float(fp[i]), float(fn[i]))


def banding(threshold: float, num_perm: int, bands: int, rows: int) -> Banding:
    """An explicit ``bands × rows`` choice, with its masses at ``threshold``."""
    if bands < 1 or rows < 1:
        raise ValueError(f"bands and rows must be at least 1, got {bands} × {rows}")
    if bands * rows > num_perm:
        raise ValueError(f"bands × rows = {bands * rows} exceeds num_perm = {num_perm}")
    fp, fn = _masses(threshold, np.array([float(bands)]), np.array([float(rows)]), bands * rows)
    return Banding(bands, rows, threshold, float(fp[0]), float(fn[0]))


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_PRIME = np.uint64(0x100000001B3)
_BASIS = np.uint64(0xCBF29CE484222325)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) int64 keys: band ``j`` of each signature folded into 64 bits.

    Each value is mixed (splitmix64) into an FNV-style running hash seeded with the band index, so equal keys mean
    equal bands (up to 2⁻⁶⁴ collisions) and the same rows in different bands never share a key."""
    sig = np.asarray(signatures)
    if sig.ndim != 2:
        raise ValueError(f"signatures must be a 2-d array, got shape {sig.shape}")
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands × rows = {bands * rows} exceeds the signature length {sig.shape[1]}")
    with np.errstate(over="ignore"):
        values = sig[:, : bands * rows].astype(np.uint64).reshape(sig.shape[0], bands, rows)
        h = np.broadcast_to(_splitmix(np.arange(bands, dtype=np.uint64) + _BASIS), (sig.shape[0], bands)).copy()
        for k in range(rows):
            h = (h ^ _splitmix(values[:, :, k] + np.uint64(k))) * _PRIME
        h = _splitmix(h)
    return h.view(np.int64)
