"""MinHash signatures identical to ``datasketch.MinHash(num_perm, seed)`` (its default ``affine32`` scheme), computed
for a batch of documents at once.

datasketch, per shingle: ``h = fmix32(sha1(shingle)[:4] as little-endian uint32)``, then for each permutation ``i``
``(a[i] * h + b[i]) mod 2**32``, and the signature keeps the minimum per permutation. ``a`` (odd) and ``b`` come from
``numpy.random.RandomState(seed)``. An empty document keeps the initial value ``2**32 - 1`` everywhere.

Here the same arithmetic runs in two small compiled kernels (numba) over all shingles of a batch: SHA-1 over byte
slices of the normalized texts (no Python object per shingle), then the fused permute-and-min loop. The Python side
only normalizes texts and finds word boundaries. ``tests/curation/dedup/test_dedup_lib.py`` checks equality with
datasketch's ``hashvalues`` on real texts; ``bench/dedup.py`` measures the speed against datasketch's own loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from curation.dedup.text import normalize, shingle_spans

EMPTY = np.uint32(0xFFFFFFFF)
"""Signature value of a permutation no shingle reached (datasketch's initial hash value)."""

_M32 = 0xFFFFFFFF


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's ``affine32`` permutation parameters ``(a, b)`` as uint32 arrays."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@numba.njit(cache=True, nogil=True)
def _sha1_prefix32(buf, starts, ends, out):  # pragma: no cover - compiled
    """out[i] = first 4 bytes of SHA-1(buf[starts[i]:ends[i]]) read little-endian (datasketch's sha1_hash32).

    int64 arithmetic masked to 32 bits: values stay non-negative and numba never promotes to float."""
    longest = 0
    for i in range(starts.shape[0]):
        longest = max(longest, ends[i] - starts[i])
    block = np.zeros(((longest + 8) // 64 + 1) * 64, np.int64)
    w = np.zeros(80, np.int64)
    for i in range(starts.shape[0]):
        s = starts[i]
        n = ends[i] - s
        total = ((n + 8) // 64 + 1) * 64
        for j in range(n):
            block[j] = buf[s + j]
        block[n] = 0x80
        for j in range(n + 1, total - 8):
            block[j] = 0
        bits = n * 8
        for j in range(8):
            block[total - 1 - j] = (bits >> (8 * j)) & 0xFF
        h0 = 0x67452301
        h1 = 0xEFCDAB89
        h2 = 0x98BADCFE
        h3 = 0x10325476
        h4 = 0xC3D2E1F0
        for base in range(0, total, 64):
            for t in range(16):
                o = base + 4 * t
                w[t] = (block[o] << 24) | (block[o + 1] << 16) | (block[o + 2] << 8) | block[o + 3]
            for t in range(16, 80):
                x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = ((x << 1) | (x >> 31)) & _M32
            a, b, c, d, e = h0, h1, h2, h3, h4
            for t in range(80):
                if t < 20:
                    f = (b & c) | ((b ^ _M32) & d)
                    k = 0x5A827999
                elif t < 40:
                    f = b ^ c ^ d
                    k = 0x6ED9EBA1
                elif t < 60:
                    f = (b & c) | (b & d) | (c & d)
                    k = 0x8F1BBCDC
                else:
                    f = b ^ c ^ d
                    k = 0xCA62C1D6
                tmp = ((((a << 5) | (a >> 27)) & _M32) + f + e + k + w[t]) & _M32
                e = d
                d = c
                c = ((b << 30) | (b >> 2)) & _M32
                b = a
                a = tmp
            h0 = (h0 + a) & _M32
            h1 = (h1 + b) & _M32
            h2 = (h2 + c) & _M32
            h3 = (h3 + d) & _M32
            h4 = (h4 + e) & _M32
        # the digest's first 4 bytes are h0 big-endian; datasketch reads them little-endian
        out[i] = ((h0 & 0xFF) << 24) | ((h0 & 0xFF00) << 8) | ((h0 >> 8) & 0xFF00) | (h0 >> 24)


@numba.njit(cache=True, nogil=True)
def _permute_min(hashes, offsets, a, b, sig):  # pragma: no cover - compiled
    """sig[d, i] = min over doc d's shingle hashes h of (a[i] * fmix32(h) + b[i]) mod 2**32."""
    num_perm = a.shape[0]
    for d in range(offsets.shape[0] - 1):
        row = sig[d]
        for i in range(num_perm):
            row[i] = 0xFFFFFFFF
        for s in range(offsets[d], offsets[d + 1]):
            # murmur3 fmix32, masked int64 arithmetic (numba would widen uint32 products to 64 bits)
            h = hashes[s]
            h ^= h >> 16
            h = (h * 0x85EBCA6B) & _M32
            h ^= h >> 13
            h = (h * 0xC2B2AE35) & _M32
            h ^= h >> 16
            for i in range(num_perm):
                v = (a[i] * h + b[i]) & _M32  # a, h < 2**32: the low 32 bits survive int64 wrap-around
                if v < row[i]:
                    row[i] = v


def sha1_hash32(encoded: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """datasketch's ``sha1_hash32`` of each byte slice ``encoded[starts[i]:ends[i]]``, as uint32."""
    return _sha1_int64(encoded, starts, ends).astype(np.uint32)


def _sha1_int64(encoded: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    out = np.zeros(len(starts), np.int64)
    _sha1_prefix32(np.frombuffer(encoded, np.uint8), starts.astype(np.int64), ends.astype(np.int64), out)
    return out


class MinHasher:
    """Signatures of many documents at once, equal to datasketch's ``MinHash(num_perm, seed)`` fed the same shingles.

    ``signatures(texts)`` normalizes each raw text and shingles it into word ``ngram``-grams
    (:mod:`curation.dedup.text`); ``signatures_of_normalized`` skips the normalization."""

    def __init__(self, num_perm: int = 128, seed: int = 1, ngram: int = 5):
        if ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {ngram}")
        self.num_perm, self.seed, self.ngram = num_perm, seed, ngram
        self.a, self.b = permutations(num_perm, seed)
        self._a64, self._b64 = self.a.astype(np.int64), self.b.astype(np.int64)

    def signatures(self, texts: Sequence[str | None]) -> np.ndarray:
        """(len(texts), num_perm) uint32 signatures of raw texts."""
        return self.signatures_of_normalized([normalize(t) for t in texts])

    def signatures_of_normalized(self, normalized: Sequence[str]) -> np.ndarray:
        """(len(normalized), num_perm) uint32 signatures of already normalized texts."""
        encoded = [t.encode("utf-8") for t in normalized]
        # one buffer for the whole batch; each text's spans shift by where it starts in it
        text_starts = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=text_starts[1:])
        spans = [shingle_spans(e, self.ngram) for e in encoded]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(s) for s, _ in spans], out=offsets[1:])
        starts = np.zeros(offsets[-1], np.int64)
        ends = np.zeros(offsets[-1], np.int64)
        for i, (s, e) in enumerate(spans):
            starts[offsets[i] : offsets[i + 1]] = s + text_starts[i]
            ends[offsets[i] : offsets[i + 1]] = e + text_starts[i]
        hashes = _sha1_int64(b"".join(encoded), starts, ends)
        sig = np.empty((len(encoded), self.num_perm), np.int64)
        _permute_min(hashes, offsets, self._a64, self._b64, sig)
        return sig.astype(np.uint32)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal signature values (datasketch's ``MinHash.jaccard``)."""
    if a.shape != b.shape:
        raise ValueError(f"signatures of different lengths: {a.shape} vs {b.shape}")
    return float(np.count_nonzero(a == b)) / a.shape[-1]
