"""``documents``: one row per HTML response that went through the curate stages, kept or not.

Nothing is dropped from this table: a document that fails a rule keeps its row with ``drop_reason`` (the first
failing rule in pipeline order) and ``drop_reasons`` (every failing rule). What is kept is a query
(``drop_reason IS NULL``, the ``kept`` view). Every signal a rule reads is a column, so ``lakeforge filter`` can
re-apply new thresholds as a new table version without re-extracting.
"""

from schemas.base import Field, TableSchema
from schemas.pages import PAGES

_LINEAGE = tuple(
    PAGES.field(name)
    for name in (
        "doc_id",
        "url",
        "host",
        "warc_date",
        "crawl_id",
        "source_file",
        "record_offset",
        "record_length",
        "payload_digest",
        "http_status",
        "content_type",
        "payload_length",
        "payload_truncated",
    )
)
"""Lineage back to the raw WARC record: the same columns, meaning and types as in ``pages``."""
LINEAGE_COLUMNS = tuple(f.name for f in _LINEAGE)

_EXTRACTION = (
    Field("charset", "string", True, "Codec the HTML was decoded with (e.g. utf-8, cp1252)"),
    Field("charset_source", "string", True, "Where the charset came from: bom | header | meta | detected | fallback"),
    Field("extraction_error", "string", True, "Why no text came out (decode or extraction reason); null when it did"),
    Field("extraction_seconds", "double", True, "Time spent extracting this document"),
    Field("title", "string", True, "Title found by the extractor"),
    Field("text", "string", True, "Extracted main text (paragraphs separated by newlines)"),
    Field("text_length", "int", True, "Characters of text"),
)

_LANGUAGE = (
    Field("language", "string", True, "fastText lid.176 label (ISO 639 code, e.g. en, de, zh)"),
    Field("language_score", "double", True, "fastText probability of that label"),
)

_URL = (
    Field("url_blocked", "boolean", True, "The URL matched a domain/URL blocklist or a banned word"),
    Field("url_block_match", "string", True, "What matched, e.g. domain:example.com, url, word:xxx"),
)

_GOPHER_QUALITY = (
    Field("gopher_word_count", "long", True, "Words (script-aware: one per CJK/Thai/... character)"),
    Field("gopher_avg_word_length", "double", True, "Mean characters per word"),
    Field("gopher_hash_word_ratio", "double", True, "'#' per word"),
    Field("gopher_ellipsis_word_ratio", "double", True, "Ellipses ('...', '…') per word"),
    Field("gopher_bullet_lines_ratio", "double", True, "Fraction of lines starting with a bullet"),
    Field("gopher_ellipsis_lines_ratio", "double", True, "Fraction of lines ending with an ellipsis"),
    Field("gopher_alpha_words_ratio", "double", True, "Fraction of words containing a letter"),
    Field("gopher_stop_words", "long", True, "English stop words present (null for other languages)"),
)

_GOPHER_REPETITION = (
    Field("gopher_dup_para_frac", "double", True, "Fraction of paragraphs repeating an earlier one"),
    Field("gopher_dup_para_char_frac", "double", True, "Characters in repeated paragraphs / characters"),
    Field("gopher_dup_line_frac", "double", True, "Fraction of lines repeating an earlier one"),
    Field("gopher_dup_line_char_frac", "double", True, "Characters in repeated lines / characters"),
    *(
        Field(f"gopher_top_{n}gram_frac", "double", True, f"Characters covered by the most frequent word {n}-gram")
        for n in (2, 3, 4)
    ),
    *(
        Field(f"gopher_dup_{n}gram_frac", "double", True, f"Characters in repeated word {n}-grams / characters")
        for n in (5, 6, 7, 8, 9, 10)
    ),
)

_C4 = (
    Field("c4_lines_removed_frac", "double", True, "Fraction of lines C4's line rules remove"),
    Field("c4_has_lorem_ipsum", "boolean", True, "'lorem ipsum' on a kept line"),
    Field("c4_has_curly_bracket", "boolean", True, "'{' on a kept line"),
    Field("c4_sentences", "long", True, "Sentences in the lines C4 keeps"),
)

_FINEWEB = (
    Field("fineweb_line_count", "long", True, "Non-blank lines"),
    Field("fineweb_line_punct_ratio", "double", True, "Fraction of lines ending in terminal punctuation"),
    Field("fineweb_short_line_ratio", "double", True, "Fraction of lines of at most 30 characters"),
    Field("fineweb_char_dup_ratio", "double", True, "Characters of repeated lines / characters"),
    Field("fineweb_newline_ratio", "double", True, "Newlines per word"),
)

_TOXICITY = (
    Field("toxic_word_count", "long", True, "Matches of the language's LDNOOBW list (null: no list)"),
    Field("toxic_word_fraction", "double", True, "toxic_word_count / words"),
    Field("toxic_wordlist_lang", "string", True, "The word list used (its file name)"),
)

_DEDUP = (
    Field("text_hash", "string", True, "SHA-1 of the normalized text: the exact-duplicate key (set by dedup)"),
    Field(
        "dup_cluster_id",
        "string",
        True,
        "Duplicate cluster (its survivor's doc_id), on every member including the survivor; null: no duplicate",
    ),
    Field("dup_of", "string", True, "doc_id of the cluster's survivor this document duplicates; null: not a duplicate"),
    Field("dup_similarity", "double", True, "Jaccard similarity of this document's shingles to dup_of's"),
    Field("dup_exact", "boolean", True, "true: same normalized text as dup_of; false: a near duplicate"),
    Field("dedup_run_id", "string", True, "Run that last deduplicated this document; null: not deduplicated yet"),
)

_VERDICT = (
    Field("drop_reason", "string", True, "First failing rule in pipeline order; null when the document is kept"),
    Field("drop_reasons", "array<string>", False, "Every failing rule, in pipeline order (empty when kept)"),
    Field("run_id", "string", False, "Run that extracted the document and computed its signals"),
    Field("verdict_run_id", "string", False, "Run that last computed drop_reason (curate, extract or filter)"),
)

SIGNAL_GROUPS: dict[str, tuple[Field, ...]] = {
    "url_filter": _URL,
    "langid": _LANGUAGE,
    "gopher_quality": _GOPHER_QUALITY,
    "gopher_repetition": _GOPHER_REPETITION,
    "c4": _C4,
    "fineweb": _FINEWEB,
    "toxicity": _TOXICITY,
    "dedup": _DEDUP,
}
"""Signal columns by the stage that computes them."""

DOCUMENTS = TableSchema(
    name="documents",
    doc="One row per HTML response through the curate stages: lineage to the WARC record, extracted text, every "
    "filter signal, and the verdict (drop_reason null = kept). Filters annotate; kept is a query.",
    key=("doc_id",),
    fields=(
        *_LINEAGE,
        *_EXTRACTION,
        *_LANGUAGE,
        *_URL,
        *_GOPHER_QUALITY,
        *_GOPHER_REPETITION,
        *_C4,
        *_FINEWEB,
        *_TOXICITY,
        *_DEDUP,
        *_VERDICT,
    ),
)


def classifier_fields(name: str) -> tuple[Field, Field]:
    """The two columns a classifier named ``name`` adds to ``documents`` (see ``curation.classify.rules``)."""
    return (
        Field(
            f"{name}_score",
            "double",
            True,
            f"Probability of the {name} classifier's positive label; null: not scored (no text, another language)",
        ),
        Field(f"{name}_model", "string", True, f"The {name} model (name@vN) that scored this document; null: not run"),
    )


def classifier_names(columns) -> list[str]:
    """Classifier names whose two columns are among ``columns`` (a documents table's column names)."""
    have = set(columns)
    base = set(DOCUMENTS.names)
    return sorted(
        c[: -len("_score")]
        for c in have
        if c.endswith("_score") and c not in base and c[: -len("_score")] + "_model" in have
    )


def documents_schema(classifiers=()) -> TableSchema:
    """``documents`` with the columns of the given classifiers (after the toxicity signals, before dedup's)."""
    names = sorted(set(classifiers))
    if not names:
        return DOCUMENTS
    extra = tuple(f for n in names for f in classifier_fields(n))
    at = DOCUMENTS.names.index(_TOXICITY[-1].name) + 1
    return TableSchema(
        DOCUMENTS.name, DOCUMENTS.fields[:at] + extra + DOCUMENTS.fields[at:], DOCUMENTS.doc, DOCUMENTS.key
    )


KEPT_VIEW = "kept"
"""The view over ``documents`` that holds what the current verdict keeps."""

VIEWS: dict[str, tuple[str, str]] = {KEPT_VIEW: ("documents", "SELECT * FROM {documents} WHERE drop_reason IS NULL")}
"""View name → (the table it reads, its query with that table's qualified name as a format field)."""
