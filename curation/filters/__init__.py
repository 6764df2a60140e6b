"""Document quality signals and the rules over them: the pure row logic of the curate stage (no pyspark).

Filters ANNOTATE, they never drop. Every family has two halves:

* a *signals* function, ``text -> dict`` of numbers and booleans (the columns a curate stage stores), and
* a *rules* function, ``config -> list[Rule]``: (signal column, comparison, threshold, reason) built from a frozen
  config dataclass whose defaults are FineWeb's / datatrove's.

Thresholds can then be re-applied later as SQL over the stored signal columns (``Rule.sql``) without recomputing
anything. A signal that is ``None`` (no text, or a signal that is undefined for the document's script) never fails a
rule. Config fields marked *signal-time* change what the signals are; changing them means recomputing the signals.
All other fields are *rule-time*: they only move thresholds.

Families: :mod:`.gopher` (quality and repetition), :mod:`.c4`, :mod:`.fineweb`; shared tokenization in :mod:`.text`.
"""

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
from curation.filters.rules import Rule, any_failed_sql, failing, failing_sql
from curation.filters.toxicity import ToxicityConfig, WordLists, toxicity_rules, toxicity_signals

__all__ = [
    "C4QualityConfig",
    "FineWebQualityConfig",
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "Rule",
    "ToxicityConfig",
    "WordLists",
    "any_failed_sql",
    "c4_clean_lines",
    "c4_quality_rules",
    "c4_quality_signals",
    "failing",
    "failing_sql",
    "fineweb_quality_rules",
    "fineweb_quality_signals",
    "gopher_quality_rules",
    "gopher_quality_signals",
    "gopher_repetition_rules",
    "gopher_repetition_signals",
    "toxicity_rules",
    "toxicity_signals",
]
