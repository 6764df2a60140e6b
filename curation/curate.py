"""The curate pipeline as pure row logic: page rows (as ``pages`` holds them) → ``documents`` rows.

Stages, in pipeline order (FineWeb's, with toxicity last)::

    decode → url_filter → extract → langid → gopher_repetition → gopher_quality → c4 → fineweb → toxicity

Every stage runs on every document it can (a document blocked by its URL is still extracted and scored), so each
signal is stored and any threshold can be changed later without re-extracting; a document's ``drop_reason`` is the
first failing rule in this order and ``drop_reasons`` lists all of them. Only documents without text (decoding or
extraction failed) skip the text stages: their signals are null, and a null signal never fails a rule.

Text: ``text`` is stored as extracted. The C4 stage only annotates (``c4_lines_removed_frac``); the FineWeb signals
are computed on the text C4's line rules leave, as in FineWeb, where the C4 step rewrites the text before the FineWeb
filter. ``curation.filters.c4.c4_clean_lines(text)`` gives that cleaned text to a later stage that wants it.

Scripts: the text signals tokenize per :mod:`curation.filters.text` with the language fastText found: for languages
written without spaces (zh, ja, th, lo, km, my, bo) every character is a word and n-grams are joined without
separators; Gopher's stop-word count is English-only (null elsewhere, so that rule never fails a non-English page);
terminal punctuation is Unicode's ``Sentence_Terminal`` class (。！？। ۔ … count). The thresholds are FineWeb's
English ones for every language; per-language thresholds are a config change away.

:class:`Curator` holds the heavy objects (the extraction sandbox, the fastText model, the word lists), builds them on
first use, and is meant to live once per worker process (:func:`curator_for`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from curation.classify.rules import ClassifierRule, classifier_rules
from curation.classify.rules import build as build_classifiers
from curation.config import IngestConfig
from curation.dedup.rules import dedup_rules
from curation.extract import ExtractConfig, decode_html
from curation.filters.c4 import C4QualityConfig, c4_clean_lines, c4_quality_rules, c4_quality_signals
from curation.filters.fineweb import FineWebQualityConfig, fineweb_quality_rules, fineweb_quality_signals
from curation.filters.gopher import (
    GopherQualityConfig,
    GopherRepetitionConfig,
    gopher_quality_rules,
    gopher_quality_signals,
    gopher_repetition_rules,
    gopher_repetition_signals,
)
from curation.filters.toxicity import ToxicityConfig, WordLists, toxicity_rules, toxicity_signals, wordlists_for
from curation.filters.url import UrlFilterConfig, url_filter_rules, url_filter_signals
from curation.funnel import CURATE_STAGES
from curation.langid import LangIdConfig, LanguageIdentifier, langid_rules, langid_signals
from schemas.documents import DOCUMENTS, LINEAGE_COLUMNS

STAGES = CURATE_STAGES
"""Stages a document goes through in ``curate`` / ``extract``, in order (:data:`curation.funnel.CURATE_STAGES`)."""
DECODE_REASONS = ("binary_content", "undecodable", "empty_payload")
"""``extraction_error`` values set by the decode stage (they come before the URL filter in pipeline order)."""
EXTRACT_REASONS = ("extraction_timeout", "extraction_failed", "extraction_empty")
ERROR_REASONS = frozenset({"binary_content", "undecodable", "extraction_timeout", "extraction_failed"})
"""Reasons that mean the document could not be processed (funnel outcome ``errored``); the others are ``dropped``."""

SIGNAL_SETTINGS: dict[str, tuple[str, ...]] = {
    "read": (),
    "extract": (),
    "url_filter": (),
    "langid": ("model_path", "max_chars"),
    "gopher_quality": ("stop_words", "bullet_chars"),
    "c4": (
        "remove_citations",
        "filter_no_terminal_punct",
        "min_words_per_line",
        "max_word_length",
        "filter_javascript",
        "filter_policy",
        "policy_substrings",
    ),
    "fineweb": ("short_line_length",),
    "toxicity": ("wordlist_dir", "languages"),
}
"""Settings that shape the stored signals rather than move a threshold (an empty tuple: the whole section).
``lakeforge filter`` cannot apply a change to these; it warns and names them."""


@dataclass(frozen=True)
class CurateConfig:
    """Every setting of the curate stages; one YAML section per stage (``conf/curate.yaml``)."""

    read: IngestConfig = field(default_factory=IngestConfig)
    """How WARC files are read (limits, HTML content types, ``warc.paths`` base)."""
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    url_filter: UrlFilterConfig = field(default_factory=UrlFilterConfig)
    langid: LangIdConfig = field(default_factory=LangIdConfig)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4QualityConfig = field(default_factory=C4QualityConfig)
    fineweb: FineWebQualityConfig = field(default_factory=FineWebQualityConfig)
    toxicity: ToxicityConfig = field(default_factory=ToxicityConfig)
    classifiers: dict[str, ClassifierRule] = field(default_factory=dict)
    """Trained classifiers (``lakeforge train-classifier``) scoring ``documents``, by name: each adds the columns
    ``<name>_score`` and ``<name>_model`` and one drop rule (see :mod:`curation.classify.rules`)."""
    batch_size: int = 64
    """Documents a task hands to the stages at once (language ID predicts a batch in one call)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "classifiers", build_classifiers(self.classifiers))
        taken = set(DOCUMENTS.names)
        for name in self.classifiers:
            if f"{name}_score" in taken or f"{name}_model" in taken:
                raise ValueError(f"classifiers.{name}: its columns would collide with a documents column")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        have = set(DOCUMENTS.names)
        for stage, names in signal_columns(self).items():
            missing = [n for n in names if n not in have]
            if missing:
                raise ValueError(
                    f"{stage}: signals {missing} have no column in the documents schema (the n-gram sizes of "
                    "gopher_repetition are fixed by the schema; only their thresholds can change)"
                )


def signal_columns(cfg: CurateConfig) -> dict[str, list[str]]:
    """Signal column names per text stage for this config."""
    from curation.filters.c4 import C4_QUALITY_SIGNALS
    from curation.filters.fineweb import FINEWEB_QUALITY_SIGNALS
    from curation.filters.gopher import GOPHER_QUALITY_SIGNALS, gopher_repetition_signal_types
    from curation.filters.toxicity import TOXICITY_SIGNALS

    return {
        "gopher_repetition": list(gopher_repetition_signal_types(cfg.gopher_repetition)),
        "gopher_quality": list(GOPHER_QUALITY_SIGNALS),
        "c4": list(C4_QUALITY_SIGNALS),
        "fineweb": list(FINEWEB_QUALITY_SIGNALS),
        "toxicity": list(TOXICITY_SIGNALS),
    }


# ----------------------------------------------------------------------------------------------------------------
# Rules and the verdict (Python and SQL forms agree row for row)
# ----------------------------------------------------------------------------------------------------------------


def stage_rules(cfg: CurateConfig) -> list[tuple[str, list]]:
    """(stage, rules) in pipeline order; decode/extract failures are not threshold rules (see :func:`verdict`)."""
    return [
        ("url_filter", url_filter_rules(cfg.url_filter)),
        ("langid", langid_rules(cfg.langid)),
        ("gopher_repetition", gopher_repetition_rules(cfg.gopher_repetition)),
        ("gopher_quality", gopher_quality_rules(cfg.gopher_quality)),
        ("c4", c4_quality_rules(cfg.c4)),
        ("fineweb", fineweb_quality_rules(cfg.fineweb)),
        ("toxicity", toxicity_rules(cfg.toxicity)),
        ("classifiers", classifier_rules(cfg.classifiers)),
        ("dedup", dedup_rules()),
    ]


def reason_stages(cfg: CurateConfig) -> dict[str, str]:
    """Every reason this config can give → the stage that gives it."""
    out = dict.fromkeys(DECODE_REASONS, "decode") | dict.fromkeys(EXTRACT_REASONS, "extract")
    for stage, rules in stage_rules(cfg):
        for rule in rules:
            out.setdefault(rule.reason, stage)
    return out


def verdict(row: dict[str, Any], cfg: CurateConfig, rules_by_stage: list[tuple[str, list]] | None = None) -> list[str]:
    """Every failing reason of a document, in pipeline order. ``rules_by_stage``: :func:`stage_rules` of ``cfg``,
    when the caller has it already (the curator builds it once, not once per document)."""
    error = row.get("extraction_error")
    reasons = [error] if error in DECODE_REASONS else []
    for stage, rules in rules_by_stage or stage_rules(cfg):
        if stage == "langid" and error is not None and error not in DECODE_REASONS:
            reasons.append(error)  # extraction failures sit between the URL filter and language ID
        reasons += [rule.reason for rule in rules if rule.failed(row)]
    return reasons


def verdict_sql(cfg: CurateConfig) -> str:
    """Spark SQL ``array<string>`` expression equal to :func:`verdict` over the stored columns."""
    decode = ", ".join(f"'{r}'" for r in DECODE_REASONS)
    parts = [f"CASE WHEN extraction_error IN ({decode}) THEN extraction_error END"]
    for stage, rules in stage_rules(cfg):
        if stage == "langid":
            parts.append(f"CASE WHEN extraction_error NOT IN ({decode}) THEN extraction_error END")
        parts += [f"CASE WHEN {rule.sql()} THEN '{rule.reason}' END" for rule in rules]
    return f"filter(array({', '.join(parts)}), r -> r IS NOT NULL)"


# ----------------------------------------------------------------------------------------------------------------
# The curator
# ----------------------------------------------------------------------------------------------------------------


class Curator:
    """Runs the stages over batches of page rows. Heavy objects are built on first use, once."""

    def __init__(self, cfg: CurateConfig, run_id: str, wordlists: WordLists | None = None):
        """``wordlists``: the toxicity lists already read (the driver's, shipped to executors); None reads
        ``cfg.toxicity.wordlist_dir`` here, on first use."""
        self.cfg = cfg
        self.run_id = run_id
        self.seconds: Counter = Counter()
        """Seconds spent per stage since the last :meth:`take_timings`."""
        self.docs: Counter = Counter()
        """Documents each stage processed since the last :meth:`take_timings`."""
        self._extractor = None
        self._langid: LanguageIdentifier | None = None
        self._wordlists = wordlists
        self._rules = stage_rules(cfg)

    # -- heavy objects
    @property
    def extractor(self):
        if self._extractor is None:
            from curation.extract import Extractor

            self._extractor = Extractor(self.cfg.extract)
        return self._extractor

    @property
    def langid(self) -> LanguageIdentifier:
        if self._langid is None:
            self._langid = LanguageIdentifier(self.cfg.langid)
        return self._langid

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def take_timings(self) -> tuple[dict[str, float], dict[str, int]]:
        seconds, docs = dict(self.seconds), dict(self.docs)
        self.seconds.clear()
        self.docs.clear()
        return seconds, docs

    # -- the pass
    def process(self, pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``pages`` rows (with ``payload`` bytes and the declared ``charset``) → ``documents`` rows."""
        cfg = self.cfg
        clock = time.perf_counter
        rows = []
        htmls: list[str | None] = []

        t = clock()
        for page in pages:
            row = dict.fromkeys(DOCUMENTS.names)
            for name in LINEAGE_COLUMNS:
                row[name] = page.get(name)
            decoded = decode_html(page.get("payload") or b"", page.get("charset"))
            row["charset"], row["charset_source"] = decoded.charset, decoded.charset_source
            error = decoded.error
            if error is not None and error not in DECODE_REASONS:
                error = "empty_payload" if error == "empty" else "undecodable"
            row["extraction_error"] = error
            rows.append(row)
            htmls.append(decoded.text if error is None else None)
        self._charge("decode", t, len(pages))

        t = clock()
        for row in rows:
            row.update(url_filter_signals(row["url"], cfg.url_filter))
        self._charge("url_filter", t, len(rows))

        t = clock()
        extracted = 0
        for row, html in zip(rows, htmls, strict=True):
            if html is None:
                continue
            result = self.extractor.extract(html, row["url"])
            extracted += 1
            row["extraction_seconds"] = round(result.seconds, 6)
            row["title"] = result.title
            if result.status == "ok":
                row["text"] = result.text
                row["text_length"] = len(result.text)
            else:
                row["extraction_error"] = result.reason
        self._charge("extract", t, extracted)

        t = clock()
        texts = [row["text"] for row in rows]
        with_text = sum(text is not None for text in texts)
        for row, (lang, score) in zip(rows, self.langid.predict(texts), strict=True):
            row.update(langid_signals(lang, score))
        self._charge("langid", t, with_text)

        for stage, compute in self._text_stages():
            t = clock()
            for row in rows:
                row.update(compute(row["text"], row["language"]))
            self._charge(stage, t, with_text)

        for row in rows:
            reasons = verdict(row, cfg, self._rules)
            row["drop_reasons"] = reasons
            row["drop_reason"] = reasons[0] if reasons else None
            row["run_id"] = row["verdict_run_id"] = self.run_id
        return rows

    def _text_stages(self):
        cfg = self.cfg
        if self._wordlists is None and cfg.toxicity.wordlist_dir is not None:
            self._wordlists = wordlists_for(cfg.toxicity)
        lists = self._wordlists
        return (
            ("gopher_repetition", lambda text, lang: gopher_repetition_signals(text, lang, cfg.gopher_repetition)),
            ("gopher_quality", lambda text, lang: gopher_quality_signals(text, lang, cfg.gopher_quality)),
            ("c4", lambda text, lang: c4_quality_signals(text, lang, cfg.c4)),
            # FineWeb scores the text C4's line rules leave (in FineWeb the C4 step rewrites the text first).
            (
                "fineweb",
                lambda text, lang: fineweb_quality_signals(
                    None if text is None else c4_clean_lines(text, lang, cfg.c4), lang, cfg.fineweb
                ),
            ),
            ("toxicity", lambda text, lang: toxicity_signals(text, lang, lists, cfg.toxicity)),
        )

    def _charge(self, stage: str, start: float, docs: int) -> None:
        self.seconds[stage] += time.perf_counter() - start
        self.docs[stage] += docs


_CURATORS: dict[tuple[str, str], Curator] = {}


def curator_for(cfg: CurateConfig, run_id: str, wordlists: WordLists | None = None) -> Curator:
    """One :class:`Curator` per worker process and config (Spark reuses Python workers across tasks, so the
    extraction child and the fastText model outlive a task)."""
    from curation.config import config_hash

    key = (config_hash(cfg), run_id)
    cur = _CURATORS.get(key)
    if cur is None:
        for old in _CURATORS.values():
            old.close()
        _CURATORS.clear()
        cur = _CURATORS[key] = Curator(cfg, run_id, wordlists)
    return cur
