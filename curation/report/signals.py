"""Which quality signals the report draws, the bins it counts them in, and the thresholds drawn on them.

Bins are decided here and counted by the Spark adapter with :func:`bin_sql` (a SQL expression giving each value's
bin index), so a histogram costs one aggregation and no rows reach the driver. The thresholds are the rules of the
curate config that produced the verdict being reported (recorded in the Delta commit of that run,
:func:`verdict_config`), or ``CurateConfig()``'s defaults when no commit recorded one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from curation.report.model import Threshold

SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "Gopher quality": (
        "gopher_word_count",
        "gopher_avg_word_length",
        "gopher_hash_word_ratio",
        "gopher_ellipsis_word_ratio",
        "gopher_bullet_lines_ratio",
        "gopher_ellipsis_lines_ratio",
        "gopher_alpha_words_ratio",
        "gopher_stop_words",
    ),
    "Gopher repetition": (
        "gopher_dup_line_frac",
        "gopher_dup_para_frac",
        "gopher_dup_line_char_frac",
        "gopher_top_2gram_frac",
        "gopher_dup_5gram_frac",
        "gopher_dup_10gram_frac",
    ),
    "C4 and FineWeb": (
        "c4_sentences",
        "c4_lines_removed_frac",
        "fineweb_line_punct_ratio",
        "fineweb_short_line_ratio",
        "fineweb_char_dup_ratio",
        "fineweb_newline_ratio",
    ),
    "Text, language and toxicity": (
        "text_length",
        "language_score",
        "toxic_word_count",
    ),
}
"""Group title → signal columns of ``documents`` (schemas/documents.py) drawn as one figure of small multiples.
The important Gopher / C4 / FineWeb signals: the others (3- and 4-gram, 6- to 9-gram fractions) follow their
neighbours closely and are in the rules table."""

LOG_COLUMNS = frozenset({"gopher_word_count", "c4_sentences", "text_length", "toxic_word_count"})
"""Counts spanning orders of magnitude: binned evenly in log10(1 + x)."""
INTEGER_COLUMNS = frozenset({"gopher_stop_words", "c4_sentences", "fineweb_line_count"})
"""Small whole numbers on a linear axis: one bin per value when the range allows it."""
UNIT_COLUMNS = frozenset({"language_score"})
"""Scores in [0, 1]: always the whole range."""
VERDICT_JOBS = ("curate", "extract", "filter", "classify")
"""Jobs whose Delta commits record a curate config and (re)compute the verdict of ``documents``."""


@dataclass(frozen=True)
class BinSpec:
    """``bins`` equal bins over [lo, hi] (in log10(1 + x) when ``log``)."""

    lo: float
    hi: float
    bins: int = 30
    log: bool = False

    def edges(self) -> list[float]:
        """Bin edges in value space (``bins + 1`` of them)."""
        step = (self.hi - self.lo) / self.bins
        raw = [self.lo + i * step for i in range(self.bins + 1)]
        return [10**x - 1 for x in raw] if self.log else raw

    def contains(self, value: float) -> bool:
        x = _forward(value, self.log)
        return self.lo <= x <= self.hi


def _forward(value: float, log: bool) -> float:
    return math.log10(1 + max(value, 0.0)) if log else value


def bin_spec(
    column: str, lo: float | None, hi: float | None, thresholds: list[Threshold] = (), bins: int = 30
) -> BinSpec:
    """Bins covering the data's [lo, hi] and the thresholds near it. A threshold far outside the data (the
    100,000-word maximum over pages of a few hundred words) does not stretch the axis; the figure names it at the
    edge instead. ``lo``/``hi`` None (no values): the thresholds' range, or [0, 1]."""
    log = column in LOG_COLUMNS
    if column in UNIT_COLUMNS:
        return BinSpec(0.0, 1.0, bins, False)
    values = [v for v in (lo, hi) if v is not None and math.isfinite(v)]
    if not values:
        values = [t.value for t in thresholds] or [0.0, 1.0]
    a, b = _forward(min(values), log), _forward(max(values), log)
    if column.endswith(("_ratio", "_frac")) or log:
        a = min(a, 0.0)
    span = max(b - a, 1e-9)
    for t in thresholds:
        x = _forward(t.value, log)
        if a - span <= x <= b + span:  # near the data: make room for it, with a margin past it
            a, b = min(a, x), max(b, x + 0.04 * span if x >= b else b)
    if b <= a:
        b = a + 1.0
    if column in INTEGER_COLUMNS and not log and math.ceil(b) - math.floor(a) + 1 <= bins:
        return BinSpec(math.floor(a) - 0.5, math.ceil(b) + 0.5, math.ceil(b) - math.floor(a) + 1, False)
    if column.endswith(("_ratio", "_frac")) and not log:
        b = min(b * 1.02, max(1.0, b)) if b > 0 else 1.0
    return BinSpec(a, b, bins, log)


def bin_sql(column: str, spec: BinSpec) -> str:
    """A SQL expression: the bin index (0 … bins-1) of ``column``'s value, clamped; NULL for a null value."""
    x = f"log10(1 + greatest(`{column}`, 0))" if spec.log else f"`{column}`"
    width = (spec.hi - spec.lo) / spec.bins
    return (
        f"CASE WHEN `{column}` IS NULL THEN NULL ELSE "
        f"least(greatest(CAST(floor(({x} - {spec.lo!r}) / {width!r}) AS INT), 0), {spec.bins - 1}) END"
    )


def rule_thresholds(cfg) -> list[Threshold]:
    """Every numeric threshold of a :class:`~curation.curate.CurateConfig`'s rules (boolean rules have none to
    draw), in pipeline order."""
    from curation.curate import stage_rules

    out = []
    for stage, rules in stage_rules(cfg):
        for rule in rules:
            value = getattr(rule, "threshold", getattr(rule, "default", None))
            op = getattr(rule, "op", "<")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            out.append(Threshold(rule.signal, op, float(value), rule.reason, stage))
    return out


def rules_of(cfg) -> list[tuple[str, Any]]:
    """``(stage, rule)`` pairs of the config, in pipeline order (each rule has ``signal``, ``reason``, ``sql()``)."""
    from curation.curate import stage_rules

    return [(stage, rule) for stage, rules in stage_rules(cfg) for rule in rules]


def describe_rule(rule) -> tuple[str, Any]:
    """``(op, threshold)`` for the rules table: ``('<', 0.65)``, ``('==', True)``, ``('not in', 'en, de')``."""
    if hasattr(rule, "op"):
        return rule.op, rule.threshold
    if hasattr(rule, "default"):  # language score: one minimum, optionally per language
        extra = ", ".join(f"{k}: {v}" for k, v in getattr(rule, "by_language", ()))
        return "<", rule.default if not extra else f"{rule.default} ({extra})"
    if hasattr(rule, "keep"):
        return "not in", ", ".join(rule.keep)
    return "", ""


def verdict_config(commits: list[tuple[int, str | None]]) -> tuple[Any, str, bool]:
    """The curate config behind the verdict of a ``documents`` version: from the newest commit (``(version,
    userMetadata)`` pairs, any order) of a curate / extract / filter / classify run whose recorded config loads.

    Returns ``(config, where it came from, is_default)``; ``CurateConfig()`` and ``is_default`` True when no
    commit recorded a usable config.
    """
    from curation.config import load
    from curation.curate import CurateConfig

    skipped = []
    for version, raw in sorted(commits, key=lambda c: -c[0]):
        try:
            meta = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            continue
        if (
            not isinstance(meta, dict)
            or meta.get("job") not in VERDICT_JOBS
            or not isinstance(meta.get("config"), dict)
        ):
            continue
        try:
            cfg = load(CurateConfig, meta["config"])
        except (ValueError, TypeError) as e:  # recorded by another lakeforge version
            skipped.append(f"v{version}: {e}")
            continue
        source = f"the config of {meta['job']} run {meta.get('run_id', '?')} (documents v{version}"
        source += f", config {meta['config_hash']})" if meta.get("config_hash") else ")"
        return cfg, source, False
    why = "no curate/extract/filter/classify commit of documents recorded a config"
    if skipped:
        why = "the recorded configs do not load here (" + "; ".join(skipped[:2]) + ")"
    return CurateConfig(), f"CurateConfig() defaults: {why}", True
