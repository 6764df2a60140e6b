"""``runs``: the record of every ``lakeforge run pipeline.yaml``, one row per stage event.

A stage writes a ``running`` row when it starts and a ``succeeded`` / ``failed`` row when it ends; a stage whose
output for the same inputs and settings already exists writes one ``skipped`` row naming the run it reuses. A
``running`` row with no end row after it is a stage that was killed: the next run resumes it. The pinned table
versions a stage read are its ``inputs``; the versions it wrote are its ``outputs``, pinned into the next stage.
"""

from schemas.base import Field, TableSchema

RUNS = TableSchema(
    name="runs",
    doc="Pipeline runs: per stage its inputs, outputs, table versions, config hash, timings, counts and status.",
    key=("pipeline_run_id", "stage", "status"),
    fields=(
        Field("pipeline_run_id", "string", False, "One `lakeforge run` invocation"),
        Field("pipeline", "string", False, "The pipeline's name (pipeline.yaml `name`)"),
        Field("pipeline_hash", "string", False, "sha256 of the resolved pipeline settings"),
        Field("stage_order", "int", False, "Position of the stage in the pipeline"),
        Field(
            "stage",
            "string",
            False,
            "curate | import_text:<name> | dedup | train_classifier:<name> | classify | tokenize:<name> | mix | train",
        ),
        Field("status", "string", False, "running | succeeded | skipped | failed"),
        Field("stage_key", "string", False, "sha256 of the stage, its config hash and its inputs' content/versions"),
        Field(
            "job_run_id",
            "string",
            True,
            "run_id of the job (as in the Delta commit metadata and `stats`); for a skipped stage, the job run "
            "that produced the reused outputs",
        ),
        Field("command", "string", True, "The equivalent `lakeforge ...` command line"),
        Field("config_path", "string", True, "The stage's config file"),
        Field("config_hash", "string", True, "sha256 of the stage's resolved config"),
        Field("inputs", "string", True, "JSON: pinned table versions and input files (with sha256) the stage read"),
        Field("outputs", "string", True, "JSON: table versions, shard sets, blends, checkpoints the stage wrote"),
        Field("counts", "string", True, "JSON: records in / kept / rejected / errored and the stage's own figures"),
        Field("reused_run_id", "string", True, "For a skipped stage: the pipeline run whose output it reuses"),
        Field("error", "string", True, "For a failed stage: the one-line error"),
        Field("code_version", "string", True, "lakeforge version and git commit"),
        Field("started_at", "timestamp", False, "When the stage started (UTC)"),
        Field("ended_at", "timestamp", True, "When it ended (UTC); null on the running row"),
        Field("seconds", "double", True, "Wall-clock seconds of the stage"),
    ),
)
