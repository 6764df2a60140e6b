"""The dedup stage's rules: a document that duplicates a kept survivor fails one of them (filters annotate; what
is kept is ``drop_reason IS NULL``). They read ``dup_exact``, which only ``lakeforge dedup`` sets, so they never
fail before dedup has run, and ``lakeforge filter`` keeps them when it recomputes verdicts."""

from __future__ import annotations

from curation.filters.rules import Rule

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
DUPLICATE_REASONS = (EXACT_DUPLICATE, NEAR_DUPLICATE)


def dedup_rules() -> list[Rule]:
    """``exact_duplicate``: same normalized text as the survivor; ``near_duplicate``: shingle Jaccard ≥ threshold."""
    return [Rule("dup_exact", "==", True, EXACT_DUPLICATE), Rule("dup_exact", "==", False, NEAR_DUPLICATE)]
