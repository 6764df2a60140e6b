"""FineWeb's own quality heuristics (Penedo et al. 2024), after datatrove's ``FineWebQualityFilter``.

Lines are the non-blank lines of the text, stripped (datatrove keeps trailing whitespace, so there a line ``"end. "``
does not end in punctuation and its length counts the spaces). In FineWeb this filter runs on the text the C4 step
kept; see :func:`curation.filters.c4.c4_clean_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.filters.rules import Rule
from curation.filters.text import duplicates, ends_with_terminal_punctuation, lines, words


@dataclass(frozen=True)
class FineWebQualityConfig:
    """FineWeb quality thresholds (datatrove defaults). ``None`` disables a rule."""

    line_punct_thr: float | None = 0.12
    """``fineweb_line_punct_ratio`` below this: ``fineweb_line_punct_ratio``. (datatrove's
    ``line_punct_exclude_zero`` option is not offered: one rule is one comparison.)"""
    short_line_thr: float | None = 0.67
    """``fineweb_short_line_ratio`` above this: ``fineweb_short_line_ratio``."""
    short_line_length: int = 30
    """Signal-time: a line of at most this many characters is short."""
    char_duplicates_ratio: float | None = 0.01
    """``fineweb_char_dup_ratio`` above this: ``fineweb_char_dup_ratio``."""
    new_line_ratio: float | None = 0.3
    """``fineweb_newline_ratio`` above this: ``fineweb_list_ratio``."""
    drop_empty: bool = True
    """``fineweb_line_count`` of 0 (no non-blank line): ``fineweb_empty``, as datatrove does."""


FINEWEB_QUALITY_SIGNALS: dict[str, type] = {
    "fineweb_line_count": int,
    "fineweb_line_punct_ratio": float,
    "fineweb_short_line_ratio": float,
    "fineweb_char_dup_ratio": float,
    "fineweb_newline_ratio": float,
}
"""Column → Python type of :func:`fineweb_quality_signals` (every value may also be None)."""


def fineweb_quality_signals(
    text: str | None, lang: str | None = "en", cfg: FineWebQualityConfig | None = None
) -> dict[str, int | float | None]:
    """FineWeb quality signals of one document.

    * ``fineweb_line_count``: non-blank lines.
    * ``fineweb_line_punct_ratio``: fraction of lines ending with a sentence-terminal character (Unicode
      ``Sentence_Terminal`` plus three Khmer signs: datatrove's ``TERMINAL_PUNCTUATION``; a line ending in ``."`` or
      ``…`` does not count, as in datatrove). None without lines.
    * ``fineweb_short_line_ratio``: fraction of lines of at most ``cfg.short_line_length`` characters. None without
      lines.
    * ``fineweb_char_dup_ratio``: characters of lines equal to an earlier line / characters of the text other than
      ``\\n``. None without lines.
    * ``fineweb_newline_ratio``: ``\\n`` characters in the text (blank lines included, as in datatrove) / words
      (:func:`~curation.filters.text.words`; datatrove's NLTK tokens include punctuation, so its ratio is a little
      lower). None without words (datatrove divides by zero there).

    ``text=None`` gives all None.
    """
    cfg = cfg or FineWebQualityConfig()
    if text is None:
        return dict.fromkeys(FINEWEB_QUALITY_SIGNALS)
    ls = lines(text)
    n = len(ls)
    n_words = len(words(text, lang))
    chars = len(text) - text.count("\n")
    return {
        "fineweb_line_count": n,
        "fineweb_line_punct_ratio": sum(map(ends_with_terminal_punctuation, ls)) / n if n else None,
        "fineweb_short_line_ratio": sum(len(line) <= cfg.short_line_length for line in ls) / n if n else None,
        "fineweb_char_dup_ratio": duplicates(ls)[1] / chars if n else None,
        "fineweb_newline_ratio": text.count("\n") / n_words if n_words else None,
    }


def fineweb_quality_rules(cfg: FineWebQualityConfig | None = None) -> list[Rule]:
    """The FineWeb quality rules, in datatrove's order; reasons are datatrove's prefixed with ``fineweb_``."""
    cfg = cfg or FineWebQualityConfig()
    candidates = [
        ("fineweb_line_count", "<", 1 if cfg.drop_empty else None, "fineweb_empty"),
        ("fineweb_line_punct_ratio", "<", cfg.line_punct_thr, "fineweb_line_punct_ratio"),
        ("fineweb_short_line_ratio", ">", cfg.short_line_thr, "fineweb_short_line_ratio"),
        ("fineweb_char_dup_ratio", ">", cfg.char_duplicates_ratio, "fineweb_char_dup_ratio"),
        ("fineweb_newline_ratio", ">", cfg.new_line_ratio, "fineweb_list_ratio"),
    ]
    return [Rule(signal, op, limit, reason) for signal, op, limit, reason in candidates if limit is not None]
