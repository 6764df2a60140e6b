"""Main text and title of one HTML document with trafilatura, in process (no time limit: see :mod:`.sandbox`).

Settings follow datatrove's ``Trafilatura`` extractor, the one FineWeb used: ``favor_precision=True``,
``include_comments=False``, ``deduplicate=True``, 1 s per document; plus a recall fallback for pages the precise
mode leaves (nearly) empty, measured on trafilatura's own benchmark (see :class:`ExtractConfig`).

Deduplication is per document. trafilatura's ``deduplicate=True`` counts text segments in one process-wide LRU cache
(``trafilatura.deduplication.LRU_TEST``), so a paragraph seen in earlier documents of the same process is dropped
and a page's text depends on which pages the process extracted before it, i.e. on Spark's partitioning. trafilatura
also accepts a ``LRUCache`` *instance* as ``deduplicate``, a scoped cache that replaces the global one; every
extraction here gets a fresh one, so repeated segments are still removed within a page and the output depends on
the page alone. The global cache is never touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from curation.extract.decode import looks_binary_text

STATUSES = ("ok", "empty", "timeout", "failed")
REASONS = {"empty": "extraction_empty", "timeout": "extraction_timeout", "failed": "extraction_failed"}
"""Status → the ``extraction_error`` reason stored for it (``ok`` has none)."""

MIN_EXTRACTED_SIZE = 250
"""trafilatura's ``MIN_EXTRACTED_SIZE`` (settings.cfg): below this many characters its cascade considers an
extraction under-delivered and tries a rescue, a rescue it skips in precision mode."""


@dataclass(frozen=True)
class ExtractConfig:
    """How HTML becomes text. Defaults: datatrove's / FineWeb's trafilatura settings plus a recall fallback.

    Measured on trafilatura's benchmark (990 pages; 2,951 fragments that must appear, 2,966 that must not;
    ``python -m eval.extraction``). The first three rows are direct ``trafilatura.extract`` calls on the raw bytes,
    the last is :func:`~curation.extract.decode.decode_html` plus :class:`~curation.extract.sandbox.Extractor`:

    ================================================  =========  ======  ======  ========
    settings                                          precision  recall  F1      accuracy
    ================================================  =========  ======  ======  ========
    trafilatura defaults (balanced, comments kept)    0.8972     0.9468  0.9214  0.9194
    ``favor_precision=True``                          0.9153     0.9224  0.9188  0.9187
    precision, no comments, per-page dedup            0.9234     0.9187  0.9210  0.9214
    the same + balanced fallback below 250 chars      0.9219     0.9234  0.9226  0.9228
    ================================================  =========  ======  ======  ========

    The datatrove settings (third row) lose 0.0004 F1 to trafilatura's defaults: precision mode turns off
    trafilatura's own rescue of short extractions, and on 4 pages it finds nothing at all. Extracting again in the
    balanced mode when the precise text is shorter than trafilatura's own ``MIN_EXTRACTED_SIZE`` (250 characters;
    13 of the 990 pages, ~1 % more time) beats the defaults on precision (+0.025), F1 (+0.0012) and accuracy
    (+0.0034); it loses recall (-0.023), mostly to precision mode's stricter pruning (the balanced mode without
    comments has 0.9397). The F1 margin is small: on halves of the benchmark it goes either way, while the precision
    gain holds on every subset tried (halves to fifths, the first 200-500 pages). A threshold
    tuned on this set (200) or a ratio to an always-computed balanced extraction (F1 0.9252, but twice the cost)
    would fit the benchmark rather than a principle, so neither is the default.
    """

    favor_precision: bool = True
    """trafilatura's ``favor_precision``: stricter boilerplate removal, less text but less noise (datatrove)."""
    favor_recall: bool = False
    """trafilatura's ``favor_recall``: keep more text when unsure. Exclusive with ``favor_precision``."""
    include_comments: bool = False
    """Keep reader comments after the main text (datatrove: off)."""
    include_tables: bool = True
    """Keep the text of ``<table>`` elements (trafilatura's default)."""
    deduplicate: bool = True
    """Drop text segments repeated more than twice *within the document* (trafilatura's ``deduplicate``, scoped to
    one document so the output never depends on other documents; see the module docstring)."""
    fallback_below_chars: int | None = MIN_EXTRACTED_SIZE
    """With ``favor_precision``: when the precise text is shorter than this (or absent), extract again in
    trafilatura's balanced mode and keep the longer text. None turns the fallback off (pure datatrove settings)."""
    timeout_s: float = 1.0
    """Hard limit on one document's extraction (both passes), enforced by killing the sandbox's child process;
    datatrove's default (FineWeb ran with its earlier 0.1 s). Only :class:`~curation.extract.sandbox.Extractor`
    enforces it. The benchmark's slowest page takes 0.7-1.0 s on a loaded 2-core machine (0 or 1 of 990 time out)."""
    max_html_chars: int = 4 << 20
    """Longer HTML is cut to this many characters before parsing (not refused): lxml's recovering parser closes what
    the cut leaves open, and main text sits near the top far more often than past the first megabytes, so a cut
    page still yields text where a refusal would yield nothing. Ingested bodies are capped at 1 MiB of bytes already
    (as Common Crawl caps them), so they are never cut; the cap bounds parse time and memory for other inputs. Not
    1 MiB: 5 of the 990 benchmark pages are 1.0-1.6 M characters, and 3 of them lose main text to a 1 MiB cut."""
    max_memory_mb: int | None = 2048
    """Address-space limit (``RLIMIT_AS``) of the sandbox's child process, in MiB: an extraction that needs more
    gets a MemoryError (``extraction_failed``) instead of pushing the machine into the OOM killer. None: no limit."""

    def __post_init__(self) -> None:
        if self.favor_precision and self.favor_recall:
            raise ValueError("favor_precision and favor_recall are exclusive: set at most one")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.max_html_chars < 1:
            raise ValueError(f"max_html_chars must be positive, not {self.max_html_chars}")
        if self.fallback_below_chars is not None and self.fallback_below_chars < 0:
            raise ValueError("fallback_below_chars must be None or at least 0")
        if self.max_memory_mb is not None and self.max_memory_mb < 256:
            raise ValueError(
                f"max_memory_mb must be None or at least 256 (the interpreter needs it), not {self.max_memory_mb}"
            )


@dataclass(frozen=True)
class Extraction:
    """The outcome of extracting one document."""

    title: str | None
    """The page title (meta tags, JSON-LD, a single ``<h1>``, ``<title>``...), also when no text was found."""
    text: str | None
    """Main text in trafilatura's plain-text form (one paragraph, heading or list item per line); None unless ok."""
    status: str
    """``ok`` | ``empty`` | ``timeout`` | ``failed``."""
    reason: str | None
    """None when ok, else ``extraction_empty`` | ``extraction_timeout`` | ``extraction_failed``."""
    detail: str | None
    """Human-readable detail for anything but ok: the exception, ``binary``, ``killed after 1 s``..."""
    seconds: float
    """Wall time spent on the document."""


def result(
    status: str, started: float, *, title: str | None = None, text: str | None = None, detail: str | None = None
) -> Extraction:
    """An :class:`Extraction` with ``reason`` derived from ``status`` and ``seconds`` since ``started``
    (a ``time.perf_counter()`` value)."""
    return Extraction(title, text, status, REASONS.get(status), detail, time.perf_counter() - started)


def precheck(html: str | None, started: float) -> Extraction | None:
    """The cheap verdicts that need no parser: empty input, or binary bytes decoded as text. None: go on.

    Raises TypeError for anything but a str or None (bytes must go through ``decode_html`` first)."""
    if html is not None and not isinstance(html, str):
        raise TypeError(f"html must be a str, not {type(html).__name__} (decode bytes with decode_html first)")
    if not html or html.isspace():
        return result("empty", started, detail="empty input")
    if looks_binary_text(html):
        return result("failed", started, detail="binary")
    return None


def extract_html(html: str, url: str | None, cfg: ExtractConfig) -> Extraction:
    """Title and main text of ``html`` (``url`` helps trafilatura resolve links). In process, with no time limit.
    Never raises on bad HTML: failures come back as ``status="failed"`` with the exception in ``detail``; a ``html``
    that is not a str (or None) is a TypeError."""
    started = time.perf_counter()
    verdict = precheck(html, started)
    if verdict is not None:
        return verdict
    html = html[: cfg.max_html_chars]
    try:
        from trafilatura.utils import load_html

        tree = load_html(html)
        if tree is None:
            return result("empty", started, detail="no HTML tree (lxml found no document)")
        text = _text(tree, url, cfg, cfg.favor_precision, cfg.favor_recall)
        if cfg.favor_precision and cfg.fallback_below_chars is not None and len(text or "") < cfg.fallback_below_chars:
            balanced = _text(tree, url, cfg, False, False)
            if balanced and len(balanced) > len(text or ""):
                text = balanced
        title = _title(tree)
    except Exception as err:  # whatever trafilatura or lxml raise, the document gets a row
        return result("failed", started, detail=f"{type(err).__name__}: {err}"[:500])
    if not text or text.isspace():
        return result("empty", started, title=title, detail="no main text found")
    return result("ok", started, title=title, text=text)


def _text(tree, url: str | None, cfg: ExtractConfig, precision: bool, recall: bool) -> str | None:
    """trafilatura's plain-text output, exactly as ``trafilatura.extract`` would return it for these settings."""
    from trafilatura import bare_extraction
    from trafilatura.deduplication import LRUCache
    from trafilatura.settings import LRU_SIZE
    from trafilatura.utils import normalize_unicode

    doc = bare_extraction(
        tree,  # bare_extraction works on a copy of a tree it is given, so the tree serves both passes
        url=url,
        fast=False,
        favor_precision=precision,
        favor_recall=recall,
        include_comments=cfg.include_comments,
        include_tables=cfg.include_tables,
        include_formatting=False,
        include_links=False,
        include_images=False,
        deduplicate=LRUCache(maxsize=LRU_SIZE) if cfg.deduplicate else False,
        output_format="python",
    )
    if doc is None or doc.text is None:
        return None
    # extract() appends the comments (an empty string when off) after a newline, then strips
    text = f"{doc.text}\n{doc.comments or ''}" if cfg.include_comments else doc.text
    return normalize_unicode(text.strip())


def _title(tree) -> str | None:
    """The title as ``trafilatura.extract_metadata`` finds it (meta tags, JSON-LD, then the page itself), without
    the rest of the metadata (dates, authors, categories): ``with_metadata=True`` took 5-45 % longer per page in our
    (noisy, shared-machine) measurements, mostly htmldate's date search."""
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_title
    from trafilatura.settings import Document

    try:
        meta = examine_meta(tree)
        try:
            meta = extract_meta_json(tree, meta)
        except Exception:  # trafilatura guards this call the same way: JSON-LD in the wild is often broken
            pass
        title = meta.title or extract_title(tree)
    except Exception:  # a title is a nicety: never lose the text over it
        return None
    if not title:
        return None
    doc = Document()
    doc.title = title
    doc.clean_and_trim()  # unescape, normalize spaces, cap the length, as extract_metadata does
    return doc.title or None
