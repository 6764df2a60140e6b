"""The text a classifier sees: one function, used when training and when scoring, so the two never drift apart.

:func:`normalize` is versioned (:data:`NORMALIZATION`): a model records the version it was trained with, and scoring
with another version is refused. fastText reads one example per line and splits on whitespace, so the normal form is
a single line of space-separated tokens: HTML entities decoded, NFKC, case-folded, URLs and @-mentions replaced by
placeholder words, runs of one character cut to two, punctuation split off words (apostrophes and hashtags stay in
their word).
"""

from __future__ import annotations

import html
import re
import unicodedata

NORMALIZATION = "lakeforge-text-v1"
"""Bumped whenever :func:`normalize` changes what it returns for some text."""

URL_TOKEN = "xxurl"
USER_TOKEN = "xxuser"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")
_PUNCT = re.compile(r"([^\w\s'@#])")
_SPACE = re.compile(r"\s+")


def normalize(text: str | None, max_chars: int | None = None) -> str:
    """``text`` as a classifier sees it (``""`` for None). ``max_chars``: only the first that many characters of
    ``text`` are used (long web pages cost time, and their opening says enough)."""
    if not text:
        return ""
    if max_chars is not None:
        text = text[:max_chars]
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URL.sub(f" {URL_TOKEN} ", text)
    text = _MENTION.sub(f" {USER_TOKEN} ", text)
    text = _REPEAT.sub(r"\1\1", text)
    text = _PUNCT.sub(r" \1 ", text)
    return _SPACE.sub(" ", text).strip()


def chunk_words(text: str, words: int) -> list[str]:
    """``text`` (normalized) cut into pieces of at most ``words`` tokens, for training on long documents when there
    are few of them; the last piece keeps what is left."""
    if words < 1:
        raise ValueError(f"chunk size must be at least one word, got {words}")
    tokens = text.split(" ") if text else []
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
