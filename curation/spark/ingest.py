"""Spark adapter for ingest: one WARC file per task, streamed through :func:`curation.warc.read_file`.

The task emits three kinds of rows in one pass (pages, quarantined errors, one summary per file); the
driver persists that output once and writes each kind to its table. Counts come from aggregations over
the written data, never from accumulators (retried tasks would count twice); the accumulator here only
feeds the progress line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from curation import funnel
from curation.config import IngestConfig
from curation.provenance import RunInfo
from curation.spark.stage import FileProgress
from curation.stage import JobReport
from curation.storage import S3Settings
from curation.warc import read_file
from curation.warc.sources import Source
from schemas import INGEST_ERRORS, INGEST_FILES, PAGES

FLUSH_ROWS = 512
FLUSH_BYTES = 16 << 20

# Skip reasons the driver adds once it knows what the table already holds.
ALREADY_INGESTED = "already_ingested"
DUPLICATE_IN_RUN = "duplicate_in_run"


# What a read task emits: ``kind`` ("page" | "error" | "file"), the page columns at the top level (so the
# driver's key-only queries never touch payloads in the cache: nested fields are not pruned there), and
# the rare error / file rows as structs.
def _out_arrow_schema():
    import pyarrow as pa

    return pa.schema(
        [pa.field("kind", pa.string(), False)]
        + [f.with_nullable(True) for f in PAGES.to_arrow()]
        + [
            pa.field("error", pa.struct(list(INGEST_ERRORS.to_arrow())), True),
            pa.field("file", pa.struct(list(INGEST_FILES.to_arrow())), True),
        ]
    )


def _out_spark_schema():
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField("kind", T.StringType(), False)]
        + [T.StructField(f.name, f.dataType, True) for f in PAGES.to_spark().fields]
        + [
            T.StructField("error", INGEST_ERRORS.to_spark(), True),
            T.StructField("file", INGEST_FILES.to_spark(), True),
        ]
    )


class ReadFiles:
    """The ``mapInArrow`` function: input batches of (source_file, file_size) → event rows as Arrow."""

    def __init__(self, cfg: IngestConfig, run_id: str, progress=None, s3: S3Settings | None = None):
        self.cfg = cfg
        self.run_id = run_id
        self.progress = progress
        self.s3 = (
            s3  # how executors reach s3:// inputs: the driver's settings  # a Spark accumulator (display only) or None
        )

    def __call__(self, batches):
        import pyarrow as pa

        schema = _out_arrow_schema()
        rows: list[dict] = []
        size = 0
        for batch in batches:
            for item in batch.to_pylist():
                for kind, row in read_file(item["source_file"], self.cfg, self.run_id, item["file_size"], self.s3):
                    rows.append({"kind": kind, **row} if kind == "page" else {"kind": kind, kind: row})
                    if kind == "page":
                        size += len(row["payload"] or b"")
                    elif kind == "file" and self.progress is not None:
                        self.progress.add(row["records_in"])
                    if len(rows) >= FLUSH_ROWS or size >= FLUSH_BYTES:
                        yield pa.RecordBatch.from_pylist(rows, schema=schema)
                        rows, size = [], 0
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)


def files_to_skip(lake, sources: list[Source], table: str = INGEST_FILES.name) -> set[str]:
    """Files an earlier run read completely or partially (same size when known), according to the per-file
    table ``table`` (``ingest_files`` / ``curate_files``): reading them again would give the same rows.
    Files that failed are read again."""
    if not lake.version(table):  # missing, or only its empty version 0
        return set()
    done = (
        lake.spark.table(lake.fq(table))
        .where("status IN ('complete', 'partial')")
        .select("source_file", "file_size")
        .distinct()
        .collect()
    )
    seen = {(r["source_file"], r["file_size"]) for r in done}
    seen_any_size = {r["source_file"] for r in done}
    return {s.uri for s in sources if (s.uri, s.size) in seen or (s.size is None and s.uri in seen_any_size)}


def new_by_key(lake, table: str, rows, version: int | None, carry: Sequence[str] = ()):
    """(rows whose ``doc_id`` is new, per-file counts, every row's key with its ``carry`` columns): the
    first occurrence of a doc_id in this run (by file, offset) wins, and ids already in ``table`` at ``version`` are
    not written again. Decided on the keys alone, so payloads never shuffle: the rows to drop are usually few, and
    Spark broadcasts them into an anti-join. Per-file counts: ``emitted``, ``dup_in_run``, ``already``.

    The keys (the third value; ``_drop`` marks the rows not written) are cached, and the caller unpersists them when
    done: the counts, the anti-join and what the caller counts of the written rows (curate: their verdicts, the
    ``carry`` columns) read them once computed, instead of computing the rows again for each (with classifiers
    configured, that is scoring every document again)."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = ["source_file", "record_offset", "doc_id"]
    first = Window.partitionBy("doc_id").orderBy("source_file", F.col("record_offset").asc_nulls_last())
    existing = lake.read(table, version).select("doc_id").withColumn("_exists", F.lit(True))
    keys = (
        rows.select(*key, *carry)
        .withColumn("_rank", F.row_number().over(first))
        .join(existing, "doc_id", "left")
        .withColumn("_drop", (F.col("_rank") > 1) | F.col("_exists").isNotNull())
        .persist(StorageLevel.MEMORY_AND_DISK)  # why: counted here, then the anti-join and the caller's counts
    )
    per_file = {
        r["source_file"]: r
        for r in keys.groupBy("source_file")
        .agg(
            F.count(F.lit(1)).alias("emitted"),
            F.sum(F.when(F.col("_rank") > 1, 1).otherwise(0)).alias("dup_in_run"),
            F.sum(F.when((F.col("_rank") == 1) & F.col("_exists").isNotNull(), 1).otherwise(0)).alias("already"),
        )
        .collect()
    }
    drop = keys.where("_drop").select(*key)
    cond = [rows[c].eqNullSafe(drop[c]) for c in key]
    return rows.join(drop, cond, "left_anti"), per_file, keys


def count_file_rows(file_row: dict, counts, already_reason: str) -> dict:
    """A task's file summary with the driver's dedupe decisions added: ``written`` and the skip reasons."""
    row = dict(file_row)
    row["skipped"] = dict(row["skipped"] or {})
    if counts is not None:
        row["written"] = counts["emitted"] - counts["dup_in_run"] - counts["already"]
        for reason, n in ((DUPLICATE_IN_RUN, counts["dup_in_run"]), (already_reason, counts["already"])):
            if n:
                row["skipped"][reason] = row["skipped"].get(reason, 0) + n
    return row


def run_ingest(spark, lake, sources: list[Source], cfg: IngestConfig, run: RunInfo, progress=None) -> JobReport:
    """Read ``sources`` into ``pages`` / ``ingest_errors`` / ``ingest_files``, one commit per table.

    ``progress``, if given, is called as ``progress(files_done, files_total, records_so_far)`` from a
    background thread while files are read. The report's funnel (records in, skipped and errored by reason, pages
    written as ``kept``) is built from the file rows and kept in the report (ingest writes no ``stats`` rows);
    ``details``: ``read_seconds`` and ``errors_by_reason``.
    """
    from pyspark import StorageLevel
    from pyspark.sql import types as T

    report = JobReport(run.run_id, "ingest")
    step = report.step
    errors_by_reason: Counter = Counter()
    step("prepare")
    for schema in (PAGES, INGEST_ERRORS, INGEST_FILES):
        lake.ensure(schema)
    pages_version = lake.version(PAGES.name)
    run.input_tables = {lake.fq(PAGES.name): pages_version}
    meta = run.commit_metadata()

    skip = set() if cfg.reingest else files_to_skip(lake, sources)
    todo = [s for s in sources if s.uri not in skip]
    file_rows = [
        {
            "run_id": run.run_id,
            "source_file": s.uri,
            "file_size": s.size,
            "bytes_read": 0,
            "status": ALREADY_INGESTED,
            "records_in": 0,
            "written": 0,
            "skipped": {},
            "errored": 0,
            "seconds": 0.0,
        }
        for s in sources
        if s.uri in skip
    ]

    if todo:
        sc = spark.sparkContext
        acc = sc.accumulator(0)
        in_schema = T.StructType(
            [T.StructField("source_file", T.StringType(), False), T.StructField("file_size", T.LongType(), True)]
        )
        # One partition per file, so one task streams one file (parallelize splits a list evenly).
        files_rdd = sc.parallelize([(s.uri, s.size) for s in todo], len(todo))
        out = (
            spark.createDataFrame(files_rdd, in_schema)
            .mapInArrow(ReadFiles(cfg, run.run_id, acc, lake.s3_settings), _out_spark_schema())
            # why persist: three tables are written from this one pass; without it every write would
            # read every WARC again.
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        step("read")
        with FileProgress(sc, len(todo), acc, progress):
            out.count()
        report.details["read_seconds"] = round(step("dedupe"), 3)

        pages = out.where("kind = 'page'").select(*PAGES.names)
        new_pages, per_file, page_keys = new_by_key(lake, PAGES.name, pages, pages_version)
        expected_new = sum(r["emitted"] - r["dup_in_run"] - r["already"] for r in per_file.values())
        step("write_pages")
        if expected_new:
            # An append, not a MERGE: the anti-join above already ran against the version read at the
            # start. A concurrent writer in between is detected below, not silently merged.
            lake.append(PAGES, new_pages, meta)
            written = lake.version(PAGES.name)
            if written != (pages_version or 0) + 1:
                report.warnings.append(
                    f"pages: another writer committed between version {pages_version} and this run's commit "
                    f"(v{written}); check for duplicate doc_ids"
                )
        step("write_errors")
        # Errors and file summaries are a few rows per file: one scan fetches both.
        small = out.where("kind <> 'page'").select("kind", "error", "file").collect()
        error_rows = [r["error"].asDict() for r in small if r["kind"] == "error"]
        errors_by_reason.update(e["reason"] for e in error_rows)
        if error_rows:
            lake.merge_new(INGEST_ERRORS, spark.createDataFrame(error_rows, INGEST_ERRORS.to_spark()), meta)

        for r in small:
            if r["kind"] == "file":
                file_rows.append(
                    count_file_rows(r["file"].asDict(), per_file.get(r["file"]["source_file"]), ALREADY_INGESTED)
                )
        out.unpersist()
        page_keys.unpersist()

    step("write_files")
    order = {s.uri: i for i, s in enumerate(sources)}
    file_rows.sort(key=lambda r: order.get(r["source_file"], len(order)))
    if file_rows:
        lake.append(INGEST_FILES, spark.createDataFrame(file_rows, INGEST_FILES.to_spark()), meta)
    report.files = file_rows
    report.details["errors_by_reason"] = dict(errors_by_reason)
    report.funnel = file_funnel(report, file_rows)
    report.versions = {name: lake.version(name) for name in (PAGES.name, INGEST_ERRORS.name, INGEST_FILES.name)}
    report.finish()
    return report


def file_funnel(report: JobReport, file_rows: list[dict]) -> list[dict]:
    """The funnel of a job that writes what it reads (no stages): records in, skipped and errored by reason in
    ``read``, the rows written as ``kept``."""
    skipped: Counter = Counter()
    for f in file_rows:
        skipped.update(f["skipped"])
    errored = report.details.get("errors_by_reason") or {}
    head = [("input", "", "in", sum(f["records_in"] for f in file_rows))]
    head += [("read", reason, "skipped", n) for reason, n in sorted(skipped.items())]
    head += [("read", reason, "errored", n) for reason, n in sorted(errored.items())]
    written = sum(f["written"] for f in file_rows)
    return funnel.funnel_rows(
        run_id=report.run_id, job=report.job, head=head, first={None: written}, failed={}, reason_stage={}, stages=()
    )
