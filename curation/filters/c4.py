"""C4 quality heuristics (Raffel et al. 2020) as signals, after datatrove's ``C4QualityFilter``.

C4 removes *lines* (too few words, an overlong word, "javascript", cookie/terms-of-use boilerplate, optionally no
terminal punctuation) and drops *documents* (lorem ipsum, a curly bracket, too few sentences left). Here the line
removal only shapes the signals: the text itself is left alone, and :func:`c4_clean_lines` gives the kept text to a
later stage that wants it. (In FineWeb the C4 step rewrites the text before the FineWeb quality filter runs; pass
``c4_clean_lines(text)`` to :func:`curation.filters.fineweb.fineweb_quality_signals` for that exact order.)
The bad-words list of C4 is not part of this family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from curation.filters.rules import Rule
from curation.filters.text import lines, sentences, words

POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
"""C4's terminal punctuation for its (optional) line rule; English-centric, as in C4 and datatrove."""


@dataclass(frozen=True)
class C4QualityConfig:
    """C4 settings (datatrove defaults as FineWeb uses them: the terminal-punctuation line rule off)."""

    remove_citations: bool = True
    """Signal-time: strip Wikipedia-style ``[1]``, ``[edit]``, ``[citation needed]`` from lines."""
    filter_no_terminal_punct: bool = False
    """Signal-time: remove lines not ending in ``. ? ! " '`` (or ending in ``...``). Off, as in FineWeb."""
    min_words_per_line: int | None = 3
    """Signal-time: remove lines with fewer words (:func:`~curation.filters.text.words`, so a CJK character is a
    word; C4 splits on whitespace). None keeps short lines."""
    max_word_length: int | None = 1000
    """Signal-time: remove lines with a whitespace-delimited token longer than this. None disables."""
    filter_javascript: bool = True
    """Signal-time: remove lines mentioning "javascript" (any case)."""
    filter_policy: bool = True
    """Signal-time: remove lines containing any of ``policy_substrings`` (any case)."""
    policy_substrings: tuple[str, ...] = POLICY_SUBSTRINGS
    """Signal-time: the cookie / terms-of-use phrases (lower case)."""
    filter_lorem_ipsum: bool = True
    """Rule-time: ``c4_has_lorem_ipsum``: ``c4_lorem_ipsum``."""
    filter_curly_bracket: bool = True
    """Rule-time: ``c4_has_curly_bracket``: ``c4_curly_bracket``."""
    min_num_sentences: int | None = 5
    """Rule-time: ``c4_sentences`` below this: ``c4_too_few_sentences``. None disables."""


C4_QUALITY_SIGNALS: dict[str, type] = {
    "c4_lines_removed_frac": float,
    "c4_has_lorem_ipsum": bool,
    "c4_has_curly_bracket": bool,
    "c4_sentences": int,
}
"""Column → Python type of :func:`c4_quality_signals` (every value may also be None)."""


def _scan(text: str, lang: str | None, cfg: C4QualityConfig) -> tuple[list[str], int, bool, bool]:
    """(kept lines, non-blank lines, lorem ipsum seen, curly bracket seen), checks in datatrove's order."""
    kept: list[str] = []
    all_lines = lines(text)
    lorem = curly = False
    for line in all_lines:
        if cfg.max_word_length is not None and any(len(token) > cfg.max_word_length for token in line.split()):
            continue
        if cfg.remove_citations:
            line = CITATION.sub("", line).strip()
        if cfg.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
            continue
        if cfg.min_words_per_line is not None and len(words(line, lang)) < cfg.min_words_per_line:
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            lorem = True
        if cfg.filter_javascript and "javascript" in lower:
            continue
        if "{" in line:
            curly = True
        if cfg.filter_policy and any(p in lower for p in cfg.policy_substrings):
            continue
        kept.append(line)
    return kept, len(all_lines), lorem, curly


def c4_quality_signals(
    text: str | None, lang: str | None = "en", cfg: C4QualityConfig | None = None
) -> dict[str, float | bool | int | None]:
    """C4 signals of one document. Lines are the non-blank, stripped lines of the text; each goes through datatrove's
    checks in datatrove's order (long token, citations, terminal punctuation, word count, lorem ipsum, javascript,
    curly bracket, policy), so lorem ipsum / ``{`` only count on a line that survived the line checks before them.

    * ``c4_lines_removed_frac``: removed lines / non-blank lines; None without lines.
    * ``c4_has_lorem_ipsum``: "lorem ipsum" (any case) on a line that passed the long-token, terminal-punctuation
      and word-count checks.
    * ``c4_has_curly_bracket``: ``{`` on a line that also passed the javascript check.
    * ``c4_sentences``: sentences (:func:`~curation.filters.text.sentences`, a punkt-like splitter) summed over the
      kept lines; a kept line without terminal punctuation is one sentence.

    ``text=None`` gives all None; an empty text has 0 sentences.
    """
    cfg = cfg or C4QualityConfig()
    if text is None:
        return dict.fromkeys(C4_QUALITY_SIGNALS)
    kept, total, lorem, curly = _scan(text, lang, cfg)
    return {
        "c4_lines_removed_frac": (total - len(kept)) / total if total else None,
        "c4_has_lorem_ipsum": lorem,
        "c4_has_curly_bracket": curly,
        "c4_sentences": sum(len(sentences(line)) for line in kept),
    }


def c4_clean_lines(text: str, lang: str | None = "en", cfg: C4QualityConfig | None = None) -> str:
    """The text C4 keeps: the surviving lines (stripped, citations removed) joined by ``\\n``."""
    return "\n".join(_scan(text, lang, cfg or C4QualityConfig())[0])


def c4_quality_rules(cfg: C4QualityConfig | None = None) -> list[Rule]:
    """The C4 document rules; reasons are datatrove's prefixed with ``c4_``."""
    cfg = cfg or C4QualityConfig()
    rules = []
    if cfg.filter_lorem_ipsum:
        rules.append(Rule("c4_has_lorem_ipsum", "==", True, "c4_lorem_ipsum"))
    if cfg.filter_curly_bracket:
        rules.append(Rule("c4_has_curly_bracket", "==", True, "c4_curly_bracket"))
    if cfg.min_num_sentences is not None:
        rules.append(Rule("c4_sentences", "<", cfg.min_num_sentences, "c4_too_few_sentences"))
    return rules
