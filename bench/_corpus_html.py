"""Page and text variation for the scale corpus (:mod:`bench.corpus`): pure functions, no I/O.

* :func:`vary_html` / :func:`vary_text`: a new *variant* of a page or text. In every text node of at least
  :data:`MIN_NODE_WORDS` words (outside script/style/textarea/comments), each word's core (the word without its
  leading and trailing ASCII punctuation) is replaced, with probability ``rate``, by a core drawn from the same
  page's words (so the language, word lengths and stop-word share stay those of the page; punctuation, line ends and
  markup stay as they were; a capitalized word gets a capitalized replacement). At the default rate (0.3) a
  shingle of varied text survives in two variants with probability 0.7¹⁰ ≈ 3%; with the short nodes left as they
  are (menus, labels), two variants' text nodes have a word-5-gram Jaccard of ~0.06 (≤ 0.15 over 40 pages).
* :func:`edit_html` (texts: ``bench._corpus_text.TextMaker.edit``): a *near-duplicate* of a variant, edited as a
  re-crawl of the same page is: a changed date or number, a few words substituted, inserted or deleted, a
  boilerplate line added.
* :func:`page_text`: the text nodes of a page joined, a cheap stand-in for extraction (tests and checks).

HTML is handled as bytes: every inserted or substituted byte string comes from the page's own text nodes or is
ASCII put right after a ``>``, which is safe in UTF-8 and in the single-byte and CJK multi-byte encodings the pages
use (their trail bytes are never ASCII whitespace, ``<`` or ``>``).
"""

from __future__ import annotations

import random
import re

MIN_NODE_WORDS = 2
"""Text nodes with fewer words (menu items, labels) are left as they are in every variant."""

_PROTECTED = re.compile(rb"(?is)<(script|style|textarea|noscript)\b.*?</\1\s*>|<!--.*?-->")
_NODE = re.compile(rb">([^<>]+)")
_WORD = re.compile(rb"\S+")
_SPACE_B = re.compile(rb"(\s+)")
_PUNCT = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_DIGITS = re.compile(rb"\d+")
_BODY = re.compile(rb"(?i)<body\b[^>]*>")
_BODY_END = re.compile(rb"(?i)</body\s*>")

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
BOILERPLATE = (
    "We use cookies to improve your experience on our website. By continuing to browse, you agree to our use of "
    "cookies.",
    "Subscribe to our newsletter to get the latest updates delivered straight to your inbox.",
    "This page was last reviewed by our editorial team. Report an error or suggest an improvement.",
    "Share this article on social media. Follow us for more stories like this one.",
    "Advertisement. Content continues below. Support independent publishing by disabling your ad blocker.",
)
"""Lines a re-crawl finds added to a page (cookie banners, newsletter boxes, notices)."""


# ------------------------------------------------------------------------------------------------------- HTML


def text_node_spans(body: bytes) -> list[tuple[int, int]]:
    """Byte ``(start, end)`` of every text node of at least :data:`MIN_NODE_WORDS` words outside the protected
    elements (script, style, textarea, noscript, comments)."""
    spans: list[tuple[int, int]] = []

    def scan(lo: int, hi: int) -> None:
        for m in _NODE.finditer(body, lo, hi):
            s, e = m.span(1)
            if len(body[s:e].split(None, MIN_NODE_WORDS)) >= MIN_NODE_WORDS:
                spans.append((s, e))

    pos = 0
    for m in _PROTECTED.finditer(body):
        scan(pos, m.start())
        pos = m.end()
    scan(pos, len(body))
    return spans


def _core(word: bytes) -> tuple[int, int]:
    """``(start, end)`` of a word's core: the word without leading and trailing ASCII punctuation."""
    s, e = 0, len(word)
    while s < e and word[s] in _PUNCT:
        s += 1
    while e > s and word[e - 1] in _PUNCT:
        e -= 1
    return s, e


def vocabulary(body: bytes, spans: list[tuple[int, int]]) -> list[bytes]:
    """The cores of the words of the given text nodes, repeats kept (frequent words stay frequent)."""
    out = []
    for s, e in spans:
        for w in body[s:e].split():
            core = w.strip(_PUNCT)
            if core:
                out.append(core)
    return out


def _replace_core(word: bytes, new: bytes) -> bytes:
    s, e = _core(word)
    if s == e:
        return word
    if word[s : s + 1].isupper() and new[:1].islower():
        new = new[:1].upper() + new[1:]
    return word[:s] + new + word[e:]


def _map_nodes(body: bytes, spans: list[tuple[int, int]], fn) -> bytes:
    """``body`` with each span's bytes replaced by ``fn(node_bytes)``."""
    out, pos = [], 0
    for s, e in spans:
        out += [body[pos:s], fn(body[s:e])]
        pos = e
    out.append(body[pos:])
    return b"".join(out)


def _vary_words(parts: list, vocab: list, rng: random.Random, rate: float, punct) -> int:
    """Replace, with probability ``rate``, the core of each word of ``parts`` (``re.split`` on ``(\\s+)``: words at
    the even indices) by a core drawn from ``vocab``, in place. Works on str and on bytes. Returns how many changed."""
    changed = 0
    rand, choice = rng.random, rng.choice
    for i in range(0, len(parts), 2):
        if rand() >= rate:
            continue
        w = parts[i]
        core = w.strip(punct)
        if not core:
            continue
        new = choice(vocab)
        if core[:1].isupper() and new[:1].islower():
            new = new[:1].upper() + new[1:]
        if new != core:
            s = w.find(core)
            parts[i] = w[:s] + new + w[s + len(core) :]
            changed += 1
    return changed


def vary_html(body: bytes, rng: random.Random, rate: float) -> tuple[bytes, int]:
    """A variant of a page (see the module docstring). Returns (body, words replaced)."""
    spans = text_node_spans(body)
    vocab = vocabulary(body, spans)
    if not vocab:
        return body, 0
    changed = 0

    def node(text: bytes) -> bytes:
        nonlocal changed
        parts = _SPACE_B.split(text)
        changed += _vary_words(parts, vocab, rng, rate, _PUNCT)
        return b"".join(parts)

    return _map_nodes(body, spans, node), changed


def _date(rng: random.Random) -> str:
    return f"{MONTHS[rng.randrange(12)]} {rng.randint(1, 28)}, {rng.randint(2019, 2024)}"


def edit_html(body: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """A near-duplicate of ``body`` as a re-crawl finds it: one to three of

    * ``date``: an "Updated <date>" line put in after ``<body>``;
    * ``number``: up to three numbers in the text changed (a counter, a price, a date);
    * ``words@r``: a share ``r`` (0.3–2%) of the words substituted (from the page's words), deleted, or followed by an
      inserted word, a third each;
    * ``boilerplate``: a cookie/newsletter/notice line put in before ``</body>``.

    Returns (body, the edits made)."""
    ops = set(rng.sample(["date", "number", "words", "boilerplate"], rng.choice((1, 1, 2, 2, 3))))
    if "words" not in ops and rng.random() < 0.5:
        ops.add("words")  # most re-crawls change some words too
    spans = text_node_spans(body)
    numbered = [(s, e) for s, e in spans if _DIGITS.search(body, s, e)]
    if "number" in ops and not numbered:
        ops.discard("number")
        ops.add("date")
    edits: list[str] = []
    if "number" in ops:
        picked = set(rng.sample(numbered, min(3, len(numbered))))

        def number(m: re.Match) -> bytes:
            n = len(m.group(0))
            return str(rng.randrange(10**n)).zfill(n).encode()

        body = _map_nodes(body, [sp for sp in spans if sp in picked], lambda node: _DIGITS.sub(number, node, count=1))
        edits.append("number")
    vocab = vocabulary(body, text_node_spans(body))
    if "words" in ops and vocab:
        rate = round(rng.uniform(0.003, 0.02), 4)

        def word(m: re.Match) -> bytes:
            w = m.group(0)
            if rng.random() >= rate:
                return w
            kind = rng.randrange(3)
            if kind == 0:
                return _replace_core(w, rng.choice(vocab))
            return b"" if kind == 1 else w + b" " + rng.choice(vocab)

        body = _map_nodes(body, text_node_spans(body), lambda node: _WORD.sub(word, node))
        edits.append(f"words@{rate}")
    if "date" in ops or not edits and "boilerplate" not in ops:  # a re-crawl always differs in something
        line = f'<p class="updated">Updated {_date(rng)}</p>'.encode()
        m = _BODY.search(body)
        body = body[: m.end()] + line + body[m.end() :] if m else line + body
        edits.append("date")
    if "boilerplate" in ops:
        line = f'<div class="notice">{rng.choice(BOILERPLATE)}</div>'.encode()
        ends = list(_BODY_END.finditer(body))
        at = ends[-1].start() if ends else len(body)
        body = body[:at] + line + body[at:]
        edits.append("boilerplate")
    return body, edits


def page_text(body: bytes, encoding: str = "utf-8") -> str:
    """The text nodes outside the protected elements, one per line (all of them, short ones too)."""
    out = []
    pos = 0
    for m in [*_PROTECTED.finditer(body), None]:
        hi = m.start() if m else len(body)
        out += [n.group(1) for n in _NODE.finditer(body, pos, hi) if n.group(1).strip()]
        pos = m.end() if m else pos
    return b"\n".join(x.strip() for x in out).decode(encoding, errors="replace")


# ------------------------------------------------------------------------------------------------------- text

_SPACE = re.compile(r"(\s+)")
_STR_PUNCT = _PUNCT.decode()


def vary_text(text: str, rng: random.Random, rate: float) -> str:
    """A variant of a plain text: each word's core replaced with probability ``rate`` by a core of the same text
    (whitespace, line breaks and punctuation kept)."""
    parts = _SPACE.split(text)
    vocab = [c for c in (w.strip(_STR_PUNCT) for w in parts[::2]) if c]
    if not vocab:
        return text
    _vary_words(parts, vocab, rng, rate, _STR_PUNCT)
    return "".join(parts)
