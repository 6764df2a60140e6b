"""Gopher quality and repetition signals (Rae et al. 2021, table A1), as in datatrove's Gopher filters.

Definitions follow datatrove's ``GopherQualityFilter`` / ``GopherRepetitionFilter`` over the shared tokenization of
:mod:`curation.filters.text`; where they differ it is said at the signal. Columns are prefixed ``gopher_``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from curation.filters.rules import Rule
from curation.filters.text import base_lang, duplicates, has_letter, lines, no_space, paragraphs, words

# --------------------------------------------------------------------------------------------------------------------
# Quality
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GopherQualityConfig:
    """Gopher quality thresholds (datatrove defaults). ``None`` disables a rule."""

    RENAMED_SETTINGS: ClassVar[dict[str, str]] = {"max_non_alpha_words_ratio": "min_alpha_words_ratio"}
    """Old key → its name now: :func:`curation.config.load` reads the old one with a one-line deprecation warning."""

    min_doc_words: int | None = 50
    """``gopher_word_count`` below this: ``gopher_short_doc``."""
    max_doc_words: int | None = 100_000
    """``gopher_word_count`` above this: ``gopher_long_doc``."""
    min_avg_word_length: float | None = 3
    """``gopher_avg_word_length`` below this: ``gopher_below_avg_word_length``."""
    max_avg_word_length: float | None = 10
    """``gopher_avg_word_length`` above this: ``gopher_above_avg_word_length``."""
    max_symbol_word_ratio: float | None = 0.1
    """``gopher_hash_word_ratio`` or ``gopher_ellipsis_word_ratio`` above this: ``gopher_too_many_hashes`` /
    ``gopher_too_many_ellipsis``."""
    max_bullet_lines_ratio: float | None = 0.9
    """``gopher_bullet_lines_ratio`` above this: ``gopher_too_many_bullets``."""
    max_ellipsis_lines_ratio: float | None = 0.3
    """``gopher_ellipsis_lines_ratio`` above this: ``gopher_too_many_end_ellipsis``."""
    min_alpha_words_ratio: float | None = 0.8
    """At least this fraction of words must contain a letter: ``gopher_alpha_words_ratio`` below this:
    ``gopher_below_alpha_threshold``. (datatrove calls it ``max_non_alpha_words_ratio``; that key is still read,
    with a deprecation warning.)"""
    min_stop_words: int | None = 2
    """``gopher_stop_words`` below this: ``gopher_too_few_stop_words`` (English only, see the signal)."""
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
    """Signal-time: the English stop words counted by ``gopher_stop_words`` (lower case)."""
    bullet_chars: tuple[str, ...] = ("•", "-")
    """Signal-time: a line starting with one of these is a bullet line (datatrove's pair)."""


GOPHER_QUALITY_SIGNALS: dict[str, type] = {
    "gopher_word_count": int,
    "gopher_avg_word_length": float,
    "gopher_hash_word_ratio": float,
    "gopher_ellipsis_word_ratio": float,
    "gopher_bullet_lines_ratio": float,
    "gopher_ellipsis_lines_ratio": float,
    "gopher_alpha_words_ratio": float,
    "gopher_stop_words": int,
}
"""Column → Python type of :func:`gopher_quality_signals` (every value may also be None)."""


def gopher_quality_signals(
    text: str | None, lang: str | None = "en", cfg: GopherQualityConfig | None = None
) -> dict[str, int | float | None]:
    """Gopher quality signals of one document.

    * ``gopher_word_count``: number of :func:`~curation.filters.text.words` (datatrove counts NLTK tokens that are
      not pure punctuation; ours never are). For zh/ja/th/lo/km/my/bo each character is a word.
    * ``gopher_avg_word_length``: mean characters per word; None without words, and None for languages written
      without spaces, where a "word" is a single character and the mean is meaningless.
    * ``gopher_hash_word_ratio``: occurrences of ``#`` / word count (datatrove divides by all NLTK tokens,
      punctuation included, so its ratio is a little lower). None without words.
    * ``gopher_ellipsis_word_ratio``: occurrences of ``...`` plus ``…`` / word count. None without words.
    * ``gopher_bullet_lines_ratio``: fraction of non-blank lines starting with a bullet (``•`` or ``-``). datatrove
      counts blank lines in the denominator; we do not. None without lines.
    * ``gopher_ellipsis_lines_ratio``: fraction of non-blank lines ending with ``...`` or ``…``. None without lines.
    * ``gopher_alpha_words_ratio``: fraction of words containing at least one letter (``\\p{L}``); with our words
      only numbers can fail this (datatrove's NLTK tokens make punctuation count against it too). None without words.
    * ``gopher_stop_words``: how many *distinct* stop words of ``cfg.stop_words`` occur (case-insensitive; datatrove
      is case-sensitive). English only: None for every other language, and for an unknown (None) language, so the
      stop-word rule never fires on them.

    ``text=None`` gives all None.
    """
    cfg = cfg or GopherQualityConfig()
    if text is None:
        return dict.fromkeys(GOPHER_QUALITY_SIGNALS)
    ws = words(text, lang)
    n = len(ws)
    ls = lines(text)
    n_lines = len(ls)
    bullets = tuple(cfg.bullet_chars)
    stop_words: int | None = None
    if base_lang(lang) == "en":
        stop_words = len(set(cfg.stop_words).intersection(w.lower() for w in ws))
    return {
        "gopher_word_count": n,
        "gopher_avg_word_length": sum(map(len, ws)) / n if n and not no_space(lang) else None,
        "gopher_hash_word_ratio": text.count("#") / n if n else None,
        "gopher_ellipsis_word_ratio": (text.count("...") + text.count("…")) / n if n else None,
        "gopher_bullet_lines_ratio": sum(line.startswith(bullets) for line in ls) / n_lines if n_lines else None,
        "gopher_ellipsis_lines_ratio": (sum(line.endswith(("...", "…")) for line in ls) / n_lines if n_lines else None),
        "gopher_alpha_words_ratio": sum(map(has_letter, ws)) / n if n else None,
        "gopher_stop_words": stop_words,
    }


def gopher_quality_rules(cfg: GopherQualityConfig | None = None) -> list[Rule]:
    """The Gopher quality rules, in datatrove's order. Reasons mirror datatrove's, except
    ``gopher_below/above_avg_word_length`` (datatrove: ``gopher_below/above_avg_threshold``) and
    ``gopher_too_few_stop_words`` (datatrove: ``gopher_enough_stop_words``, which names the opposite)."""
    cfg = cfg or GopherQualityConfig()
    candidates = [
        ("gopher_word_count", "<", cfg.min_doc_words, "gopher_short_doc"),
        ("gopher_word_count", ">", cfg.max_doc_words, "gopher_long_doc"),
        ("gopher_avg_word_length", "<", cfg.min_avg_word_length, "gopher_below_avg_word_length"),
        ("gopher_avg_word_length", ">", cfg.max_avg_word_length, "gopher_above_avg_word_length"),
        ("gopher_hash_word_ratio", ">", cfg.max_symbol_word_ratio, "gopher_too_many_hashes"),
        ("gopher_ellipsis_word_ratio", ">", cfg.max_symbol_word_ratio, "gopher_too_many_ellipsis"),
        ("gopher_bullet_lines_ratio", ">", cfg.max_bullet_lines_ratio, "gopher_too_many_bullets"),
        ("gopher_ellipsis_lines_ratio", ">", cfg.max_ellipsis_lines_ratio, "gopher_too_many_end_ellipsis"),
        ("gopher_alpha_words_ratio", "<", cfg.min_alpha_words_ratio, "gopher_below_alpha_threshold"),
        ("gopher_stop_words", "<", cfg.min_stop_words, "gopher_too_few_stop_words"),
    ]
    return [Rule(signal, op, limit, reason) for signal, op, limit, reason in candidates if limit is not None]


# --------------------------------------------------------------------------------------------------------------------
# Repetition
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GopherRepetitionConfig:
    """Gopher repetition thresholds (Gopher table A1 / datatrove defaults). ``None`` disables a rule."""

    dup_line_frac: float | None = 0.30
    """``gopher_dup_line_frac`` above this: ``gopher_dup_line_frac``."""
    dup_para_frac: float | None = 0.30
    """``gopher_dup_para_frac`` above this: ``gopher_dup_para_frac``."""
    dup_line_char_frac: float | None = 0.20
    """``gopher_dup_line_char_frac`` above this: ``gopher_dup_line_char_frac``."""
    dup_para_char_frac: float | None = 0.20
    """``gopher_dup_para_char_frac`` above this: ``gopher_dup_para_char_frac``."""
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    """(n, max fraction): ``gopher_top_{n}gram_frac`` above it: ``gopher_top_{n}_gram``. The n are signal-time
    (they decide which columns exist), the fractions rule-time."""
    dup_n_grams: tuple[tuple[int, float], ...] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    """(n, max fraction): ``gopher_dup_{n}gram_frac`` above it: ``gopher_duplicated_{n}_n_grams``. The n are
    signal-time, the fractions rule-time."""

    def __post_init__(self) -> None:
        for name in ("top_n_grams", "dup_n_grams"):
            ns = [n for n, _ in getattr(self, name)]
            if any(not isinstance(n, int) or n < 1 for n in ns) or len(set(ns)) != len(ns):
                raise ValueError(f"{name}: n must be distinct positive integers, got {ns}")


def gopher_repetition_signal_types(cfg: GopherRepetitionConfig | None = None) -> dict[str, type]:
    """Column → Python type of :func:`gopher_repetition_signals` for ``cfg`` (every value may also be None)."""
    cfg = cfg or GopherRepetitionConfig()
    names = ["gopher_dup_para_frac", "gopher_dup_para_char_frac", "gopher_dup_line_frac", "gopher_dup_line_char_frac"]
    names += [f"gopher_top_{n}gram_frac" for n, _ in cfg.top_n_grams]
    names += [f"gopher_dup_{n}gram_frac" for n, _ in cfg.dup_n_grams]
    return dict.fromkeys(names, float)


def _ngrams(ws: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(ws[i:] for i in range(n)), strict=False))


def _top_ngram_chars(ws: list[str], n: int, sep_len: int) -> int:
    """Characters covered by all occurrences of the most frequent n-gram; 0 when no n-gram occurs twice."""
    if len(ws) < n:
        return 0
    gram, count = Counter(_ngrams(ws, n)).most_common(1)[0]  # the first seen of the most frequent, as datatrove
    if count < 2:
        return 0
    return (sum(map(len, gram)) + (n - 1) * sep_len) * count


def _dup_ngram_chars(ws: list[str], n: int) -> int:
    """datatrove's greedy scan: an n-gram seen before adds its characters (words only, no separators) and the scan
    jumps past it; otherwise it is remembered and the scan moves one word on."""
    grams = _ngrams(ws, n)
    seen: set[tuple[str, ...]] = set()
    chars = idx = 0
    while idx < len(grams):
        gram = grams[idx]
        if gram in seen:
            chars += sum(map(len, gram))
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return chars


def gopher_repetition_signals(
    text: str | None, lang: str | None = "en", cfg: GopherRepetitionConfig | None = None
) -> dict[str, float | None]:
    """Gopher repetition signals of one document. Character fractions are over ``len(text)`` (as in datatrove).

    * ``gopher_dup_para_frac`` / ``gopher_dup_line_frac``: fraction of paragraphs / non-blank lines (both stripped,
      see :mod:`curation.filters.text`) that equal an earlier one. None without paragraphs / lines.
    * ``gopher_dup_para_char_frac`` / ``gopher_dup_line_char_frac``: characters of those repeated paragraphs / lines
      over ``len(text)``. None without paragraphs / lines.
    * ``gopher_top_{n}gram_frac``: characters covered by every occurrence of the most frequent word n-gram (its words
      plus the n-1 single spaces between them, as datatrove's ``" ".join``; no separators for languages written
      without spaces), over ``len(text)``. Overlapping occurrences all count, as in datatrove, so the value can
      exceed 1 for degenerate text. Unlike datatrove, 0.0 when no n-gram occurs twice (datatrove scores a document
      whose n-grams are all distinct by its first n-gram, so very short documents fail). None for empty text.
    * ``gopher_dup_{n}gram_frac``: datatrove's greedy count of characters (words only) in repeated n-grams over
      ``len(text)``. None for empty text. n-grams are compared as word tuples (datatrove joins words without a
      separator, so ``("ab", "c")`` and ``("a", "bc")`` collide there).
    """
    cfg = cfg or GopherRepetitionConfig()
    types = gopher_repetition_signal_types(cfg)
    if not text:
        return dict.fromkeys(types)
    size = len(text)
    paras = paragraphs(text)
    para_dups, para_dup_chars = duplicates(paras)
    ls = lines(text)
    line_dups, line_dup_chars = duplicates(ls)
    out: dict[str, float | None] = {
        "gopher_dup_para_frac": para_dups / len(paras) if paras else None,
        "gopher_dup_para_char_frac": para_dup_chars / size if paras else None,
        "gopher_dup_line_frac": line_dups / len(ls) if ls else None,
        "gopher_dup_line_char_frac": line_dup_chars / size if ls else None,
    }
    ws = words(text, lang)
    sep_len = 0 if no_space(lang) else 1
    for n, _ in cfg.top_n_grams:
        out[f"gopher_top_{n}gram_frac"] = _top_ngram_chars(ws, n, sep_len) / size
    for n, _ in cfg.dup_n_grams:
        out[f"gopher_dup_{n}gram_frac"] = _dup_ngram_chars(ws, n) / size
    return out


def gopher_repetition_rules(cfg: GopherRepetitionConfig | None = None) -> list[Rule]:
    """The Gopher repetition rules, in datatrove's order; reasons are datatrove's prefixed with ``gopher_``."""
    cfg = cfg or GopherRepetitionConfig()
    candidates = [
        ("gopher_dup_para_frac", cfg.dup_para_frac, "gopher_dup_para_frac"),
        ("gopher_dup_para_char_frac", cfg.dup_para_char_frac, "gopher_dup_para_char_frac"),
        ("gopher_dup_line_frac", cfg.dup_line_frac, "gopher_dup_line_frac"),
        ("gopher_dup_line_char_frac", cfg.dup_line_char_frac, "gopher_dup_line_char_frac"),
    ]
    candidates += [(f"gopher_top_{n}gram_frac", frac, f"gopher_top_{n}_gram") for n, frac in cfg.top_n_grams]
    candidates += [(f"gopher_dup_{n}gram_frac", frac, f"gopher_duplicated_{n}_n_grams") for n, frac in cfg.dup_n_grams]
    return [Rule(signal, ">", threshold, reason) for signal, threshold, reason in candidates if threshold is not None]
