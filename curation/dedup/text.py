"""Text normalization and word shingles: the one definition exact and near-duplicate detection share.

``normalize(text)``:

1. Unicode NFKC, then ``str.casefold`` (full-width and compatibility forms fold together; ``Straße`` = ``strasse``).
2. Every run of characters that is not a letter, combining mark or digit (``[^\\p{L}\\p{M}\\p{N}]``: punctuation,
   symbols, whitespace, control characters, ``_``) becomes one space.
3. In scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan) every character
   (with its combining marks) is a word of its own, as in the Gopher/FineWeb word counts.
4. Words are joined by single spaces; no leading or trailing space.

So ``"Hello,   World!"`` and ``"hello world"`` normalize alike, and so do two pages that differ only in
punctuation, case or spacing. Digits are kept: numbers often carry what makes two pages different.

The exact-duplicate key is :func:`text_hash` of the normalized text. Shingles are word ``n``-grams of the normalized
text: shingle ``i`` is words ``i .. i+n-1`` joined by single spaces, UTF-8 encoded. Because the normalized text has
exactly one space between words, every shingle is a byte slice of the encoded text, so the MinHash kernel hashes
slices of one buffer (:func:`shingle_spans`) and never builds the strings. A text of fewer than ``n`` words has one
shingle (the whole text); an empty normalized text has none.

The result depends on the Unicode database of the running Python (:data:`UNICODE_VERSION`); it is part of the
signature key, so signatures from a Python with other Unicode tables are never mixed with these.
"""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np
import regex

UNICODE_VERSION = unicodedata.unidata_version
"""Unicode tables the normalization used (recorded with every stored signature)."""

NORMALIZATION_VERSION = 1
"""Bumped whenever :func:`normalize` changes meaning; stored signatures of another version are recomputed."""

_NOT_WORD = regex.compile(r"[^\p{L}\p{M}\p{N}]+")
_NO_SPACE_CHAR = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}]\p{M}*")
_FIRST_NO_SPACE = "\u0e00"
"""The lowest code point of any script above (Thai): a text whose largest character is below it has none."""


def normalize(text: str | None) -> str:
    """The normalized form of ``text`` (see the module docstring); ``""`` for ``None``."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _NOT_WORD.sub(" ", t)
    if not t.isascii() and max(t) >= _FIRST_NO_SPACE:
        t = _NO_SPACE_CHAR.sub(r" \g<0> ", t)
    return " ".join(t.split())


def words(normalized: str) -> list[str]:
    """The words of a normalized text."""
    return normalized.split(" ") if normalized else []


def text_hash(normalized: str) -> str:
    """Exact-duplicate key: hex SHA-1 of the UTF-8 normalized text (40 characters)."""
    return hashlib.sha1(normalized.encode("utf-8")).hexdigest()


def shingle_spans(encoded: bytes, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte ``(starts, ends)`` of the word ``n``-gram shingles of a UTF-8 normalized text, as int64 arrays."""
    if n < 1:
        raise ValueError(f"shingle size must be at least 1, got {n}")
    if not encoded:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    spaces = np.flatnonzero(np.frombuffer(encoded, np.uint8) == 0x20)
    starts = np.concatenate(([0], spaces + 1)).astype(np.int64)
    ends = np.concatenate((spaces, [len(encoded)])).astype(np.int64)
    k = len(starts) - n + 1
    if k <= 0:
        return np.zeros(1, np.int64), np.array([len(encoded)], np.int64)
    return starts[:k], ends[n - 1 :]


def shingles(normalized: str, n: int) -> list[bytes]:
    """The shingles of a normalized text, in order, duplicates included (what ``MinHash.update`` is fed)."""
    encoded = normalized.encode("utf-8")
    starts, ends = shingle_spans(encoded, n)
    return [encoded[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def shingle_set(text: str | None, n: int) -> set[bytes]:
    """Distinct shingles of a raw text (normalized first)."""
    return set(shingles(normalize(text), n))


def jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)
