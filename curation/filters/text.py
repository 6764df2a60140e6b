"""Shared tokenization for the quality signals: words, lines, paragraphs, sentences (pure Python, ``regex``).

Choices (datatrove tokenizes words with NLTK / spaCy per language; we use one dependency-free definition):

* **Words**, space-delimited scripts: maximal runs of letters, combining marks and digits (``\\p{L}\\p{M}\\p{N}``);
  an apostrophe between two such runs joins them (``don't``, ``l'homme`` are one word). Everything else — whitespace,
  punctuation, symbols — is a boundary and is *not* a token (NLTK would emit ``.`` or ``,`` as tokens of their own).
* **Words**, languages written without spaces (zh, ja, th, lo, km, my, bo): every character of a no-space script (Han,
  Hiragana, Katakana, Thai, Lao, Khmer, Myanmar, Tibetan), with its combining marks, counts as one word; runs of other
  letters/digits inside such text (``iPhone``, ``2024``) are still one word each. A character is a crude unit — no
  segmenter is involved — so length-like signals (average word length) are reported as None for these languages.
* **Lines**: ``str.splitlines()`` (all Unicode line boundaries), each stripped, blank ones dropped.
* **Paragraphs**: runs of non-blank lines separated by one or more blank (whitespace-only) lines, lines stripped.
* **Sentences**: split after sentence-terminal punctuation (Unicode ``Sentence_Terminal``) that is followed by
  whitespace or the end, or after a CJK full stop / question / exclamation mark even without a space. No boundary
  where the next word starts with a lowercase letter, nor at a ``.`` after a single letter (initials) or a known
  English abbreviation.
  Segments without a letter or digit are not sentences. (datatrove uses NLTK punkt; this is a punkt-like heuristic.)
"""

from __future__ import annotations

import regex

NO_SPACE_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
"""Languages written without spaces between words (base ISO 639-1 codes)."""

_LANG_ALIASES = {
    "eng": "en",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "yue": "zh",
    "wuu": "zh",
    "nan": "zh",
    "hak": "zh",
    "gan": "zh",
    "lzh": "zh",
    "jpn": "ja",
    "tha": "th",
    "lao": "lo",
    "khm": "km",
    "mya": "my",
    "bur": "my",
    "bod": "bo",
    "tib": "bo",
}

_NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_RUN = r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*"
_WORD = regex.compile(_RUN)
_OTHER = rf"(?:(?![{_NO_SPACE_SCRIPTS}])[\p{{L}}\p{{M}}\p{{N}}])"
_WORD_NO_SPACE = regex.compile(rf"[{_NO_SPACE_SCRIPTS}]\p{{M}}*|{_OTHER}+(?:['’]{_OTHER}+)*")
_LETTER = regex.compile(r"\p{L}")
_LETTER_OR_DIGIT = regex.compile(r"[\p{L}\p{N}]")

TERMINAL_PUNCTUATION = regex.compile(r"[\p{Sentence_Terminal}\u17d6\u17d9\u17da]")
"""One sentence-terminal character: Unicode ``Sentence_Terminal`` plus three Khmer signs — the set datatrove calls
``TERMINAL_PUNCTUATION`` (FineWeb's ``stop_chars``), derived from the Unicode property instead of listed by hand."""
_ENDS_TERMINAL = regex.compile(r"[\p{Sentence_Terminal}\u17d6\u17d9\u17da]\Z")

# Sentence boundaries: CJK terminators need no following space; others need whitespace or the end of the text.
_WIDE_TERMINATORS = "。！？｡︒﹒﹖﹗"
_BOUNDARY = regex.compile(
    rf"(?P<wide>[{_WIDE_TERMINATORS}][\p{{Sentence_Terminal}}…]*[\p{{Pe}}\p{{Pf}}\"'」』]*)"
    r"|(?P<term>(?P<stop>[\p{Sentence_Terminal}…]+)[\p{Pe}\p{Pf}\"']*)(?=\s|\Z)"
)
_PREV_TOKEN = regex.compile(r"[\p{L}.]*\Z")
_NEXT_LOWER = regex.compile(r"\s*\p{Ll}")
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al fig figs no nos vol vols p pp ch sec ed eds approx "
    "inc ltd co corp dept est gen gov lt col sgt capt rev jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
"""Lower-cased tokens (without their final period) after which a ``.`` does not end an English sentence."""


def base_lang(lang: str | None) -> str | None:
    """``"zh-Hans"``, ``"zh_CN"``, ``"cmn_Hani"``, ``"ZH"`` → ``"zh"``; ISO 639-3 codes of no-space languages and
    English map to their 639-1 code; None stays None."""
    if not lang:
        return None
    code = regex.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return _LANG_ALIASES.get(code, code)


def no_space(lang: str | None) -> bool:
    """Whether ``lang`` is written without spaces between words (see :data:`NO_SPACE_LANGS`)."""
    return base_lang(lang) in NO_SPACE_LANGS


def words(text: str, lang: str | None = "en") -> list[str]:
    """The words of ``text`` (see the module docstring); ``lang=None`` means unknown: space-delimited rules."""
    return (_WORD_NO_SPACE if no_space(lang) else _WORD).findall(text)


def has_letter(word: str) -> bool:
    return _LETTER.search(word) is not None


def lines(text: str) -> list[str]:
    """Non-blank lines, stripped of surrounding whitespace."""
    return [s for line in text.splitlines() if (s := line.strip())]


def paragraphs(text: str) -> list[str]:
    """Paragraphs: groups of non-blank lines separated by blank lines; each is its stripped lines joined by ``\\n``."""
    out: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s:
            current.append(s)
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items equal to an earlier item, their total characters): first occurrences are not counted."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def ends_with_terminal_punctuation(line: str) -> bool:
    """Whether ``line`` (already stripped) ends with a sentence-terminal character (FineWeb's ``stop_chars``)."""
    return _ENDS_TERMINAL.search(line) is not None


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (see the module docstring), stripped; segments without a letter or digit are dropped."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group("term") is not None:
            if _NEXT_LOWER.match(text, m.end()):
                continue
            if m.group("stop") == ".":
                prev = _PREV_TOKEN.search(text, start, m.start()).group().lower()
                if (len(prev) == 1 and prev.isalpha()) or prev in ABBREVIATIONS:
                    continue
        out.append(text[start : m.end()])
        start = m.end()
    out.append(text[start:])
    return [s for seg in out if (s := seg.strip()) and _LETTER_OR_DIGIT.search(s)]
