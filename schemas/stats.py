"""``stats``: the funnel of every curate / extract / filter run, one row per run, stage, reason and outcome.

For every run the rows reconcile: the ``input`` row's count equals the sum of its ``skipped``, ``errored``,
``dropped`` and ``kept`` rows (``records_in = kept + dropped + skipped + errored``).
"""

from dataclasses import replace

from schemas.base import Field, TableSchema
from schemas.ingest import INGEST_FILES

STATS = TableSchema(
    name="stats",
    doc="Funnel per run: records in, then per stage the documents it saw, its time, and what it dropped by reason.",
    key=("run_id", "stage", "reason", "outcome"),
    fields=(
        Field("run_id", "string", False, "The run"),
        Field("job", "string", False, "curate | extract | filter | dedup"),
        Field("stage_order", "int", False, "Position of the stage in the pipeline (0 = input)"),
        Field("stage", "string", False, "input | read | decode | url_filter | extract | langid | ... | output"),
        Field("reason", "string", False, "Reason (drop reason, skip reason, error reason); '' for stage totals"),
        Field(
            "outcome",
            "string",
            False,
            "in (records or documents entering) | skipped | errored | dropped (first failing rule) | "
            "failed (any failing rule) | kept",
        ),
        Field("count", "long", False, "Records or documents"),
        Field("seconds", "double", True, "Task time the stage spent, summed over tasks (stage totals only)"),
        Field("docs_per_s", "double", True, "Documents per second of task time (stage totals only)"),
        Field("documents_version", "long", True, "Version of documents this run wrote"),
        Field("created_at", "timestamp", False, "When the row was written (UTC)"),
    ),
)

CURATE_FILES = replace(
    INGEST_FILES,
    name="curate_files",
    doc="One row per input WARC file per curate run: records_in = written + skipped + errored.",
)
