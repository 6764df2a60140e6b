"""Word-list toxicity signal: matches of the LDNOOBW lists ("List of Dirty, Naughty, Obscene, and Otherwise Bad
Words", as used by C4's ``badwords`` filter), per language. Columns are prefixed ``toxic_``.

The lists live in a folder with one UTF-8 file per language, named by its language code (``en``, ``de``, ``ja``,
``fr-CA-u-sd-caqc``, …), one term per line; other files there (``README.md``, ``LICENSE``) are ignored. The library
never hard-codes where that folder is: :class:`ToxicityConfig` names it, and without it every signal is None.

Matching (one precompiled ``regex`` pattern per language, built on first use):

* Terms are NFC-normalised, stripped and de-duplicated case-insensitively; at each position the **longest** term
  wins (``2 girls 1 cup`` over any shorter term starting there). Matches are counted **non-overlapping**, scanning
  left to right (the scan resumes after a match's end).
* **Case-insensitive** with full Unicode case folding: terms and text are compared in their :func:`fold`-ed form
  (NFC, then ``str.casefold``), so ``SCHEISSE`` matches ``scheiße``.
* Inside a term, a space matches **any run of whitespace** (newlines included), an apostrophe matches ``'`` or ``’``
  and a hyphen matches ``-``, U+2010 or U+2011; everything else is literal.
* **Space-delimited languages**: a term edge that is a letter, mark or digit must not touch another letter, mark or
  digit (``(?<![\\p{L}\\p{M}\\p{N}])`` / ``(?![\\p{L}\\p{M}\\p{N}])``; unlike ``\\b`` this is right for accented
  and non-Latin letters), so ``ass`` matches in ``ass-hat`` and ``ass's`` but not in ``class`` or ``assistant``.
  Edges that are symbols (``🖕``) need no boundary.
* **Languages written without spaces** (``no_space(lang)``: zh, ja, th, …): terms match as **substrings**, with one
  refinement: an edge that is a letter or digit of a *spaced* script (Latin ``sm`` or ``xx`` in the ja list, ``13.``
  in the zh list) must not touch another such character, mirroring :func:`~curation.filters.text.words`, where a run
  of Latin letters or digits inside Chinese or Japanese text is one word. Without it ``sm`` would match inside every
  ``SMTP`` and ``13.`` inside every ``2013.`` of a Chinese page.
* The pattern is a trie of the folded terms (see :func:`compile_terms`), not a flat alternation: same matches, each
  attempt costs the length of a term rather than the size of the list (the 403-term English list runs ~5x faster).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import regex

from curation.filters.rules import Rule
from curation.filters.text import base_lang, no_space, words

# --------------------------------------------------------------------------------------------------------------------
# Config and signal types
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToxicityConfig:
    """Word-list toxicity: where the lists are and the thresholds over their matches. ``None`` disables a rule."""

    wordlist_dir: str | None = None
    """Signal-time: the folder with one word-list file per language (e.g. a checkout of LDNOOBW). None: no lists,
    every toxicity signal is None and no rule fails."""
    languages: tuple[str, ...] | None = None
    """Signal-time: the list files to use (file names, e.g. ``("en", "de")``); None: every list in the folder. Text in
    any other language gets None signals."""
    max_toxic_words: int | None = 0
    """``toxic_word_count`` above this: ``toxic_words``. The default 0 is C4's: any listed word drops the page."""
    max_toxic_fraction: float | None = None
    """``toxic_word_fraction`` above this: ``toxic_words_fraction`` (off by default)."""

    def __post_init__(self) -> None:
        if self.languages is not None and isinstance(self.languages, str):
            raise ValueError(f"languages must be a tuple of codes, not a string: {self.languages!r}")


TOXICITY_SIGNALS: dict[str, type] = {
    "toxic_word_count": int,
    "toxic_word_fraction": float,
    "toxic_wordlist_lang": str,
}
"""Column → Python type of :func:`toxicity_signals` (every value may also be None)."""

# --------------------------------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------------------------------

_LIST_FILE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z")
"""A language-tag file name (``en``, ``fil``, ``fr-CA-u-sd-caqc``); ``README.md``, ``LICENSE`` are not lists."""

_NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_WORD_CHAR = r"[\p{L}\p{M}\p{N}]"
"""A character that continues a word in space-delimited text."""
_SPACED_WORD_CHAR = rf"(?:(?![{_NO_SPACE_SCRIPTS}])[\p{{L}}\p{{M}}\p{{N}}])"
"""In text without spaces: a letter/mark/digit of a spaced script (Latin, digits, …), i.e. one that continues a word."""
_TOKEN = regex.compile(r"\s+|['’]|[-\u2010\u2011]|.", regex.DOTALL)
_TOKEN_PATTERNS = {" ": r"\s+", "'": "['’]", "-": "[-\u2010\u2011]"}


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """What the matchers see: ``text`` NFC-normalised and case-folded (full folding: ``ß`` → ``ss``; a Turkish
    ``İ``, which folds to ``i`` plus a combining dot, becomes a plain ``i``)."""
    folded = _nfc(text).casefold()
    return folded.replace("i\u0307", "i") if "\u0307" in folded else folded


def read_terms(path: str | Path) -> list[str]:
    """The terms of one list file: NFC, stripped, inner whitespace collapsed to one space, blank lines dropped,
    case-insensitive duplicates dropped (the first spelling kept), in file order."""
    seen: set[str] = set()
    terms: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        term = " ".join(_nfc(line).split())
        key = fold(term)
        if term and key not in seen:
            seen.add(key)
            terms.append(term)
    return terms


def _tokens(term: str) -> list[str]:
    """``term`` (folded) as trie keys: a whitespace run is ``" "``, any apostrophe ``'``, any hyphen ``-``."""
    out = []
    for piece in _TOKEN.findall(term):
        out.append(" " if piece.isspace() else "'" if piece in "'’" else "-" if piece in "-\u2010\u2011" else piece)
    return out


def compile_terms(terms: Iterable[str], lang: str | None) -> regex.Pattern[str] | None:
    """One pattern matching any of ``terms`` in :func:`fold`-ed text, as described in the module docstring; None for
    an empty list.

    The terms are folded and merged into a trie, emitted as nested alternations (``ass(?:hole(?!W)|(?!W))``) in which
    a longer continuation is always tried before the term that ends earlier, so the longest term wins at each start.
    A trie keeps each match attempt proportional to the term length rather than to the list size (a flat alternation
    of 400 terms is several times slower). The lookbehind is shared by every term that starts with a word character;
    terms starting with a symbol go without it (the two groups can never start at the same character).
    """
    word_char = _SPACED_WORD_CHAR if no_space(lang) else _WORD_CHAR
    root: dict = {}
    for term in terms:
        toks = _tokens(fold(" ".join(term.split())))
        if not toks:
            continue
        node = root
        for tok in toks:
            node = node.setdefault(tok, {})
        node[None] = True  # a term ends here
    if not root:
        return None

    def is_word(tok: str) -> bool:
        return regex.match(word_char, tok) is not None

    def emit(node: dict, last: str) -> str:
        alts = [_TOKEN_PATTERNS.get(k, regex.escape(k)) + emit(v, k) for k, v in _children(node)]
        if None not in node:
            return alts[0] if len(alts) == 1 else f"(?:{'|'.join(alts)})"
        guard = f"(?!{word_char})" if is_word(last) else ""
        if not alts:
            return guard
        if not guard:
            return f"(?:{'|'.join(alts)})?"
        return f"(?:{'|'.join([*alts, guard])})"

    starts = _children(root)
    guarded = [_TOKEN_PATTERNS.get(k, regex.escape(k)) + emit(v, k) for k, v in starts if is_word(k)]
    free = [_TOKEN_PATTERNS.get(k, regex.escape(k)) + emit(v, k) for k, v in starts if not is_word(k)]
    parts = [f"(?<!{word_char})(?:{'|'.join(guarded)})"] if guarded else []
    return regex.compile("|".join(parts + free))


def _children(node: dict) -> list[tuple[str, dict]]:
    """A trie node's (token, child) pairs in a fixed order (tokens are distinct, so the order changes no match)."""
    return sorted((k, v) for k, v in node.items() if k is not None)


class WordLists:
    """Per-language word lists read from a folder, each read and compiled once, on first use, then cached.

    Cheap to build and to pickle (the compiled patterns are dropped and rebuilt lazily on the other side), so one
    instance can be shipped to Spark workers; :func:`wordlists_for` gives one cached instance per process.
    """

    def __init__(self, files: Mapping[str, str | Path], terms: Mapping[str, list[str]] | None = None) -> None:
        """``files``: list name (language code) → list file; ``terms``: the lists already read (see :meth:`loaded`)."""
        self._files = {name: Path(path) for name, path in files.items()}
        self._terms = dict(terms) if terms is not None else None
        self._by_lower = {name.lower(): name for name in self._files}
        self._patterns: dict[str, regex.Pattern[str] | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, path: str | Path, languages: Iterable[str] | None = None) -> WordLists:
        """The lists in folder ``path``: every file named like a language code, or only ``languages`` (file names,
        case-insensitive; a name without a file raises ``FileNotFoundError``)."""
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"word-list folder not found: {folder}")
        files = {p.name: p for p in sorted(folder.iterdir()) if _LIST_FILE.match(p.name) and p.is_file()}
        if languages is not None:
            by_lower = {name.lower(): name for name in files}
            missing = [lang for lang in languages if lang.lower() not in by_lower]
            if missing:
                raise FileNotFoundError(f"no word list for {missing} in {folder}")
            files = {by_lower[lang.lower()]: files[by_lower[lang.lower()]] for lang in languages}
        return cls(files)

    @property
    def languages(self) -> list[str]:
        """The list names available (file names), sorted."""
        return sorted(self._files)

    def resolve(self, lang: str | None) -> str | None:
        """The list to use for ``lang``: the list named exactly ``lang`` (case-insensitive, ``_`` read as ``-``), else
        the list of its base language (``pt-BR`` → ``pt``, ``zh-Hans`` → ``zh``, ``jpn`` → ``ja``), else None."""
        if not lang:
            return None
        exact = self._by_lower.get(lang.strip().replace("_", "-").lower())
        return exact if exact is not None else self._by_lower.get(base_lang(lang) or "")

    def terms(self, name: str) -> list[str]:
        """The terms of list ``name`` (see :func:`read_terms`)."""
        if self._terms is not None:
            return self._terms[name]
        return read_terms(self._files[name])

    def loaded(self) -> WordLists:
        """The same lists with every file read now: what the driver ships to executors, which may not see the folder
        (another machine); they then never open a file."""
        return WordLists(self._files, {name: self.terms(name) for name in self._files})

    def pattern(self, name: str) -> regex.Pattern[str] | None:
        """The compiled matcher of list ``name`` (built once; None for an empty list)."""
        try:
            return self._patterns[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._patterns:
                self._patterns[name] = compile_terms(self.terms(name), name)
            return self._patterns[name]

    def find(self, text: str, lang: str | None) -> list[str] | None:
        """The non-overlapping matches in ``text``, as they appear in its :func:`fold`-ed form (lower case), or None
        when ``lang`` has no list."""
        name = self.resolve(lang)
        if name is None:
            return None
        pattern = self.pattern(name)
        return pattern.findall(fold(text)) if pattern is not None else []

    def __getstate__(self) -> dict:
        return {"files": self._files, "terms": self._terms}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["files"], state.get("terms"))

    def __repr__(self) -> str:
        return f"WordLists({self.languages})"


@functools.lru_cache(maxsize=8)
def _cached_wordlists(wordlist_dir: str, languages: tuple[str, ...] | None) -> WordLists:
    return WordLists.from_dir(wordlist_dir, languages)


def wordlists_for(cfg: ToxicityConfig | None) -> WordLists | None:
    """The word lists ``cfg`` names, one cached instance per process (so per Spark worker); None without a folder."""
    if cfg is None or cfg.wordlist_dir is None:
        return None
    return _cached_wordlists(str(cfg.wordlist_dir), None if cfg.languages is None else tuple(cfg.languages))


# --------------------------------------------------------------------------------------------------------------------
# Signals and rules
# --------------------------------------------------------------------------------------------------------------------


def toxicity_signals(
    text: str | None, lang: str | None, lists: WordLists | None, cfg: ToxicityConfig | None = None
) -> dict[str, int | float | str | None]:
    """Word-list toxicity signals of one document.

    * ``toxic_word_count``: non-overlapping matches of the language's list (a multi-word phrase counts once).
    * ``toxic_word_fraction``: ``toxic_word_count`` / number of :func:`~curation.filters.text.words` (for zh/ja/th/…
      each character is a word, so fractions there are much smaller); 0.0 for text without words.
    * ``toxic_wordlist_lang``: the list used (its file name, e.g. ``en`` for ``en-GB``).

    All three are None when ``text`` or ``lists`` is None, or when the language has no list (or is not among
    ``cfg.languages``), so no rule fails on them.
    """
    name = lists.resolve(lang) if lists is not None and text is not None else None
    if cfg is not None and cfg.languages is not None and name is not None:
        name = name if any(name.lower() == code.lower() for code in cfg.languages) else None
    if name is None:
        return dict.fromkeys(TOXICITY_SIGNALS)
    pattern = lists.pattern(name)
    count = len(pattern.findall(fold(text))) if pattern is not None else 0
    n_words = len(words(text, name))
    return {
        "toxic_word_count": count,
        "toxic_word_fraction": count / n_words if n_words else 0.0,
        "toxic_wordlist_lang": name,
    }


def toxicity_rules(cfg: ToxicityConfig | None = None) -> list[Rule]:
    """``toxic_words`` (count above ``max_toxic_words``) and, when set, ``toxic_words_fraction``."""
    cfg = cfg or ToxicityConfig()
    candidates = [
        ("toxic_word_count", cfg.max_toxic_words, "toxic_words"),
        ("toxic_word_fraction", cfg.max_toxic_fraction, "toxic_words_fraction"),
    ]
    return [Rule(signal, ">", limit, reason) for signal, limit, reason in candidates if limit is not None]
