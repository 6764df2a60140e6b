"""Settings of the dedup stage (``conf/dedup.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from curation.dedup.lsh import Banding, banding, optimal_bands

_ORDER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?(?:\s+NULLS\s+(FIRST|LAST))?\s*\Z", re.IGNORECASE)


@dataclass(frozen=True)
class OrderKey:
    """One ``column [ASC|DESC] [NULLS FIRST|LAST]`` term of the survivor order."""

    column: str
    descending: bool = False
    nulls_first: bool | None = None
    """None: SQL's default (nulls first ascending, last descending)."""

    @classmethod
    def parse(cls, term: str) -> OrderKey:
        m = _ORDER.match(term)
        if not m:
            raise ValueError(f"survivor_order term {term!r} is not of the form 'column [ASC|DESC] [NULLS FIRST|LAST]'")
        column, direction, nulls = m.groups()
        first = None if nulls is None else nulls.upper() == "FIRST"
        return cls(column, (direction or "ASC").upper() == "DESC", first)

    @property
    def nulls_go_first(self) -> bool:
        """Where nulls sort: as set, else SQL's default (first ascending, last descending)."""
        return self.nulls_first if self.nulls_first is not None else not self.descending

    def sql(self) -> str:
        nulls = "" if self.nulls_first is None else (" NULLS FIRST" if self.nulls_first else " NULLS LAST")
        return f"{self.column} {'DESC' if self.descending else 'ASC'}{nulls}"


@dataclass(frozen=True)
class DedupConfig:
    """How ``lakeforge dedup`` finds exact and near duplicates among kept documents and picks survivors."""

    ngram: int = 5
    """Words per shingle (word n-grams of the normalized text, :mod:`curation.dedup.text`)."""
    num_perm: int = 128
    """MinHash permutations (signature length)."""
    seed: int = 1
    """Seed of the permutations (datasketch's ``MinHash(seed=...)``)."""
    threshold: float = 0.8
    """Jaccard similarity of shingle sets at or above which two documents are near duplicates."""
    bands: int | None = None
    """LSH bands; with ``rows`` overrides the choice from ``threshold`` and the weights."""
    rows: int | None = None
    """Signature values per band."""
    false_positive_weight: float = 0.02
    """Weight of false-positive mass when bands × rows are chosen (weights sum to 1). Verification removes false
    positives at the cost of one Jaccard computation each, so the default leans towards recall."""
    false_negative_weight: float = 0.98
    """Weight of false-negative mass (pairs above the threshold that never share a band)."""
    verify: bool = True
    """Check every candidate pair's true Jaccard on shingles before it joins a cluster."""
    exact: bool = True
    """Find exact duplicates (equal normalized text) first; only one copy of each goes through LSH."""
    near: bool = True
    """Find near duplicates with MinHash LSH (off: exact duplicates only)."""
    survivor_order: tuple[str, ...] = ("warc_date ASC NULLS LAST",)
    """Which member of a cluster survives: ``documents`` columns in SQL ``ORDER BY`` form, best first. Survivors of
    earlier runs always come first and ``doc_id ASC`` always breaks the last tie, so the choice is total."""
    batch_size: int = 512
    """Documents per signature batch inside a task."""
    checkpoint_every: int = 2
    """Connected-components rounds between lineage cuts."""
    max_iterations: int = 64
    """Connected-components rounds before the job gives up (it converges in O(log² n))."""
    partition_mb: float = 64.0
    """Text (MB) per shuffle partition: the job runs with the larger of ``spark.sql.shuffle.partitions`` and the
    members' text over this, so a task's share of the cached documents and of the verified pairs' texts stays the
    same as the corpus grows (a fixed count of partitions fills each one until a task runs out of heap)."""
    survivor_task_mb: float = 32.0
    """Most distinct text (MB, plus ~64 bytes a member) of one component that the survivor step hands to one task.
    A larger component is resolved round by round across tasks (a few Spark jobs a round, until what is left of it
    fits), so no task holds a component of 100,000 near-identical pages whole. The result is the same either way."""

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if self.num_perm < 2:
            raise ValueError(f"num_perm must be at least 2, got {self.num_perm}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {self.threshold}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then they are chosen from the threshold)")
        if self.partition_mb <= 0:
            raise ValueError(f"partition_mb must be positive, got {self.partition_mb}")
        if self.survivor_task_mb < 0:
            raise ValueError(f"survivor_task_mb must not be negative, got {self.survivor_task_mb}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not self.exact and not self.near:
            raise ValueError("exact and near are both off: nothing to deduplicate")
        _ = self.banding  # validates bands/rows/weights
        for term in self.survivor_order:
            OrderKey.parse(term)

    @property
    def banding(self) -> Banding:
        if self.bands is not None and self.rows is not None:
            return banding(self.threshold, self.num_perm, self.bands, self.rows)
        return optimal_bands(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)

    @property
    def order(self) -> tuple[OrderKey, ...]:
        return tuple(OrderKey.parse(t) for t in self.survivor_order)

    @property
    def signature_key(self) -> str:
        """What a stored signature depends on; signatures with another key are recomputed, never mixed."""
        from curation.dedup.text import NORMALIZATION_VERSION, UNICODE_VERSION

        versions = f"norm{NORMALIZATION_VERSION}:u{UNICODE_VERSION}"
        return f"minhash-affine32:n{self.ngram}:p{self.num_perm}:s{self.seed}:{versions}"
