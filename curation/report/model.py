"""The report's data: plain dataclasses that :func:`curation.spark.report.collect` fills from a lakehouse and a
training folder, and that the figures and the HTML renderer read. Nothing here imports pyspark or matplotlib.

Every section is optional. A section whose data is absent is ``None`` and :attr:`ReportData.missing` says why, in
one line that names the command that would produce it; the renderer prints that line in the section's place.
Counts are documents unless a field says otherwise; versions are Delta table versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SECTIONS: dict[str, str] = {
    "funnel": "Curation funnel",
    "languages": "Languages",
    "signals": "Quality signals",
    "classifiers": "Classifier scores",
    "duplicates": "Duplicates",
    "tokens": "Tokens and mixture",
    "training": "Training",
    "lineage": "Versions and lineage",
}
"""Section id (the HTML ``id``) → heading, in page order."""

MISSING: dict[str, str] = {
    "funnel": "no stats table: run `lakeforge curate` (or extract / filter / classify / dedup) first",
    "languages": "no documents table: run `lakeforge curate` first",
    "signals": "no documents with quality signals: run `lakeforge curate` on WARC files",
    "classifiers": "no <name>_score columns in documents: `lakeforge train-classifier`, then `lakeforge classify`",
    "duplicates": "no duplicate clusters: run `lakeforge dedup` (none found, or dedup has not run)",
    "tokens": "no mixtures table: run `lakeforge tokenize`, then `lakeforge mix mixture.yaml`",
    "training": "no training run given: pass --train-dir DIR (the out_dir of `lakeforge train`, with log.jsonl)",
    "lineage": "no tables in the lakehouse",
}
"""Default "not available" lines, used when :attr:`ReportData.missing` has no more specific one."""


@dataclass(frozen=True)
class Threshold:
    """One drop rule drawn on a figure: a document fails when ``signal <op> value``."""

    signal: str
    op: str
    value: float
    reason: str
    stage: str = ""

    @property
    def label(self) -> str:
        return f"{self.reason} ({self.op} {format_number(self.value)})"


@dataclass
class FunnelStage:
    """One stage of a run's funnel: documents entering, and what it dropped (first failing rule) or errored on."""

    stage: str
    entered: int
    dropped: int = 0
    errored: int = 0
    seconds: float | None = None
    docs_per_s: float | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    """Reason → documents whose *first* failing rule it is (dropped, or errored for decode/extract failures)."""
    failed: dict[str, int] = field(default_factory=dict)
    """Reason → documents failing the rule at all (a rule later in the order may fail documents dropped earlier)."""


@dataclass
class FunnelRun:
    """The funnel of one run from ``stats`` (``curate``, ``extract``, ``filter``, ``classify``, ``dedup``, …)."""

    run_id: str
    job: str
    created_at: str
    documents_version: int | None
    records_in: int
    kept: int
    dropped: int
    skipped: int
    errored: int
    stages: list[FunnelStage]
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    read_errors: dict[str, int] = field(default_factory=dict)
    note: str = ""
    """Why this run was chosen (e.g. later runs of the same job wrote nothing)."""

    @property
    def reconciles(self) -> bool:
        return self.records_in == self.kept + self.dropped + self.skipped + self.errored


@dataclass
class LanguageCount:
    language: str | None
    documents: int
    kept: int


@dataclass
class Histogram:
    """Counts of a numeric column over bins; ``counts`` for every document with a value, ``kept`` for those the
    current verdict keeps. Values outside the bins are counted in the first / last bin."""

    column: str
    edges: list[float]
    counts: list[int]
    kept: list[int]
    log: bool = False
    """Bins are even in log10(1 + x): drawn on a symlog axis."""
    thresholds: list[Threshold] = field(default_factory=list)
    nulls: int = 0
    """Documents with no value (no text, another script, not scored)."""
    description: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class RuleCount:
    """A drop rule of the config and how many documents of the version read fail it."""

    stage: str
    signal: str
    op: str
    threshold: Any
    reason: str
    failing: int
    first: int
    """Documents whose drop_reason (first failing rule) it is."""


@dataclass
class Signals:
    """Histograms of the quality signals by group, the thresholds' source, and every rule with its counts."""

    groups: dict[str, list[Histogram]]
    """Group title → histograms (one panel each)."""
    rules: list[RuleCount]
    config_source: str
    """Where the thresholds come from, e.g. ``classify run … (documents v8)`` or the defaults."""
    config_is_default: bool = False
    documents: int = 0
    """Documents with signals (the curated web pages)."""


@dataclass
class ClassifierInfo:
    """One trained classifier's scores in ``documents`` and its registry figures."""

    name: str
    histogram: Histogram
    scored: int
    models: dict[str, int] = field(default_factory=dict)
    """``<name>_model`` value (name@vN) → documents it scored."""
    positive_label: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    """From ``models`` for the newest model that scored: threshold (operating), test_macro_f1, test_roc_auc, …"""
    threshold_source: str = ""


@dataclass
class DuplicateCluster:
    cluster_id: str
    size: int
    exact: int
    near: int
    min_similarity: float | None
    survivor_url: str | None
    urls: list[str]
    """Example URLs of members that are duplicates (not the survivor)."""


@dataclass
class Duplicates:
    clusters: int
    documents: int
    """Documents in a cluster, survivors included."""
    duplicates: int
    """Documents with a dup_of (dropped as exact_duplicate / near_duplicate unless an earlier rule dropped them)."""
    exact: int
    near: int
    size_counts: dict[int, int]
    """Cluster size → clusters of that size."""
    largest: list[DuplicateCluster]
    similarity: Histogram | None = None
    """dup_similarity of near duplicates, with the dedup threshold."""
    dedup_config: str = ""


@dataclass
class MixtureComponent:
    name: str
    weight: float
    tokens: int
    documents: int | None = None
    shard_set_id: str = ""
    shard_set_name: str = ""
    source: str = ""
    """``documents v5 where language = 'en'``."""
    epochs: float | None = None
    realized: float | None = None
    """Share of the training samples Megatron's blended index drew from this component (None: no index)."""


@dataclass
class Mixture:
    mixture_id: str
    name: str
    components: list[MixtureComponent]
    path: str = ""
    created_at: str = ""
    seq_length: int | None = None
    tokens_budget: int | None = None
    warnings: list[str] = field(default_factory=list)
    realized_note: str = ""
    """Where the realized shares come from, or why there are none."""
    chosen_because: str = ""

    @property
    def total_tokens(self) -> int:
        return sum(c.tokens for c in self.components)


@dataclass
class ShardSet:
    shard_set_id: str
    name: str
    source: str
    documents: int
    tokens: int
    num_shards: int
    created_at: str


@dataclass
class Tokens:
    mixture: Mixture | None
    shard_sets: list[ShardSet]
    note: str = ""


@dataclass
class Training:
    """A training run from ``<out_dir>/log.jsonl``: per step and per evaluation."""

    out_dir: str
    steps: list[dict]
    """``{"iteration", "loss", "lr", "tokens_per_s", "step_s", …}`` per optimizer step (the last one kept for an
    iteration that a resumed run repeated)."""
    evals: list[dict]
    """``{"iteration", "val_loss"}``."""
    start: dict = field(default_factory=dict)
    """The (last) ``start`` event: world size, device, params, mixture_id, …"""
    checkpoints: list[dict] = field(default_factory=list)
    resumed: int = 0


@dataclass
class TableVersion:
    """A table as the report read it: its version and the commit that made that version."""

    table: str
    version: int | None
    rows: int | None = None
    operation: str = ""
    job: str = ""
    run_id: str = ""
    timestamp: str = ""
    config_hash: str = ""


@dataclass
class PipelineStage:
    """A stage of a ``lakeforge run`` from the ``runs`` table: its final status row."""

    stage_order: int
    stage: str
    status: str
    seconds: float | None = None
    job_run_id: str | None = None
    started_at: str = ""
    ended_at: str = ""
    start_offset: float | None = None
    """Seconds from the pipeline run's first start to this stage's start."""
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    reused_run_id: str | None = None
    """Skipped stages: the pipeline run whose output was reused."""
    built_seconds: float | None = None
    """Skipped stages: how long the reused run's stage took (None when that row is gone)."""
    error: str | None = None
    command: str | None = None


@dataclass
class Lineage:
    tables: list[TableVersion]
    history: list[TableVersion] = field(default_factory=list)
    """``documents`` versions up to the one read, newest first."""
    pipeline_run_id: str | None = None
    pipeline: str = ""
    stages: list[PipelineStage] = field(default_factory=list)
    runs_note: str = ""
    """Why there are no pipeline stages (no runs table, no such run)."""
    others: list[TableVersion] = field(default_factory=list)
    """Tables of the lakehouse the report does not read, with their latest version."""


@dataclass
class ReportData:
    """Everything the report shows. Sections are None when absent; ``missing[section]`` says why."""

    title: str
    generated_at: str
    lakehouse: str
    funnel: list[FunnelRun] | None = None
    languages: list[LanguageCount] | None = None
    signals: Signals | None = None
    classifiers: list[ClassifierInfo] | None = None
    duplicates: Duplicates | None = None
    tokens: Tokens | None = None
    training: Training | None = None
    lineage: Lineage | None = None
    missing: dict[str, str] = field(default_factory=dict)
    documents_version: int | None = None
    documents: int | None = None
    kept: int | None = None
    stats_runs: list[dict] = field(default_factory=list)
    """Every run in ``stats``: run_id, job, created_at, records (in), kept, decided (kept + dropped)."""

    def why_missing(self, section: str) -> str:
        return self.missing.get(section) or MISSING[section]


def format_number(x: Any) -> str:
    """A compact, exact-enough label: 50, 0.12, 1e-05, 1,234,567."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:.4g}"
    return str(x)
