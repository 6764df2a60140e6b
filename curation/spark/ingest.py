"""Spark adapter for ingest: one WARC file per task, streamed through :func:`curation.warc.read_file`.

The task emits three kinds of rows in one pass (pages, quarantined errors, one summary per file); the
driver persists that output once and writes each kind to its table. Counts come from aggregations over
the written data, never from accumulators (retried tasks would count twice); the accumulator here only
feeds the progress line.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from curation.config import IngestConfig
from curation.provenance import RunInfo
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

    def __init__(self, cfg: IngestConfig, run_id: str, progress=None):
        self.cfg = cfg
        self.run_id = run_id
        self.progress = progress  # a Spark accumulator (display only) or None

    def __call__(self, batches):
        import pyarrow as pa

        schema = _out_arrow_schema()
        rows: list[dict] = []
        size = 0
        for batch in batches:
            for item in batch.to_pylist():
                for kind, row in read_file(item["source_file"], self.cfg, self.run_id, item["file_size"]):
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


@dataclass
class IngestReport:
    """What one ingest run did; ``files`` are the ``ingest_files`` rows it wrote."""

    run_id: str
    files: list[dict] = field(default_factory=list)
    versions: dict[str, int | None] = field(default_factory=dict)
    seconds: float = 0.0
    read_seconds: float = 0.0
    errors_by_reason: Counter = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (prepare, read, dedupe, write_pages, write_errors, write_files)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict:
        skipped: Counter = Counter()
        for f in self.files:
            skipped.update(f["skipped"])
        return {
            "files": len(self.files),
            "records_in": sum(f["records_in"] for f in self.files),
            "written": sum(f["written"] for f in self.files),
            "skipped": dict(skipped),
            "errored": sum(f["errored"] for f in self.files),
        }

    def unreconciled(self) -> list[str]:
        """Files whose counts do not add up (should always be empty)."""
        return [
            f["source_file"]
            for f in self.files
            if f["records_in"] != f["written"] + sum(f["skipped"].values()) + f["errored"]
        ]


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


def new_by_key(lake, table: str, rows, version: int | None):
    """(rows whose ``doc_id`` is new, per-file counts): the first occurrence of a doc_id in this run (by file,
    offset) wins, and ids already in ``table`` at ``version`` are not written again. Decided on the keys alone, so
    payloads never shuffle: the rows to drop are usually few, and Spark broadcasts them into an anti-join.
    Per-file counts: ``emitted``, ``dup_in_run``, ``already``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = ["source_file", "record_offset", "doc_id"]
    first = Window.partitionBy("doc_id").orderBy("source_file", F.col("record_offset").asc_nulls_last())
    existing = lake.read(table, version).select("doc_id").withColumn("_exists", F.lit(True))
    keys = (
        rows.select(*key)
        .withColumn("_rank", F.row_number().over(first))
        .join(existing, "doc_id", "left")
        .withColumn("_drop", (F.col("_rank") > 1) | F.col("_exists").isNotNull())
    )  # not persisted: keys only, recomputed from the caller's persisted rows for the second use
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
    return rows.join(drop, cond, "left_anti"), per_file


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


def run_ingest(spark, lake, sources: list[Source], cfg: IngestConfig, run: RunInfo, progress=None) -> IngestReport:
    """Read ``sources`` into ``pages`` / ``ingest_errors`` / ``ingest_files``, one commit per table.

    ``progress``, if given, is called as ``progress(files_done, files_total, records_so_far)`` from a
    background thread while files are read.
    """
    from pyspark import StorageLevel
    from pyspark.sql import types as T

    t0 = time.perf_counter()
    report = IngestReport(run.run_id)
    step = _Steps(report.timings)
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
            .mapInArrow(ReadFiles(cfg, run.run_id, acc), _out_spark_schema())
            # why persist: three tables are written from this one pass; without it every write would
            # read every WARC again.
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        step("read")
        with _Progress(sc, len(todo), acc, progress):
            out.count()
        report.read_seconds = step("dedupe")

        pages = out.where("kind = 'page'").select(*PAGES.names)
        new_pages, per_file = new_by_key(lake, PAGES.name, pages, pages_version)
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
        report.errors_by_reason = Counter(e["reason"] for e in error_rows)
        if error_rows:
            lake.merge_new(INGEST_ERRORS, spark.createDataFrame(error_rows, INGEST_ERRORS.to_spark()), meta)

        for r in small:
            if r["kind"] == "file":
                file_rows.append(
                    count_file_rows(r["file"].asDict(), per_file.get(r["file"]["source_file"]), ALREADY_INGESTED)
                )
        out.unpersist()

    step("write_files")
    order = {s.uri: i for i, s in enumerate(sources)}
    file_rows.sort(key=lambda r: order.get(r["source_file"], len(order)))
    if file_rows:
        lake.append(INGEST_FILES, spark.createDataFrame(file_rows, INGEST_FILES.to_spark()), meta)
    report.files = file_rows
    report.versions = {name: lake.version(name) for name in (PAGES.name, INGEST_ERRORS.name, INGEST_FILES.name)}
    step(None)
    report.seconds = time.perf_counter() - t0
    return report


class _Steps:
    """``step("name")`` ends the previous step (returning its seconds) and starts the next."""

    def __init__(self, into: dict[str, float]):
        self.into = into
        self.name: str | None = None
        self.t = time.perf_counter()

    def __call__(self, name: str | None) -> float:
        now = time.perf_counter()
        spent = now - self.t
        if self.name is not None:
            self.into[self.name] = round(self.into.get(self.name, 0.0) + spent, 3)
        self.name, self.t = name, now
        return spent


class _Progress:
    """Polls Spark's status tracker while the read stage runs and reports files done / total."""

    def __init__(self, sc, total: int, acc, callback, every_s: float = 2.0):
        self.sc = sc
        self.total = total
        self.acc = acc
        self.callback = callback
        self.every_s = every_s
        self._stop = None
        self._thread = None

    def __enter__(self):
        import threading

        if self.callback is None:
            return self
        self._stop = threading.Event()
        group = f"lakeforge-ingest-{id(self)}"
        self.sc.setJobGroup(group, "lakeforge ingest: reading WARC files")
        self._group = group

        def loop():
            while not self._stop.wait(self.every_s):
                self.callback(self._files_done(), self.total, self.acc.value)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def _files_done(self) -> int:
        tracker = self.sc.statusTracker()
        done = 0
        for job_id in tracker.getJobIdsForGroup(self._group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else []:
                stage = tracker.getStageInfo(stage_id)
                if stage and stage.numTasks == self.total:
                    done = max(done, stage.numCompletedTasks)
        return done

    def __exit__(self, *exc):
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            self.callback(self.total if exc[0] is None else self._files_done(), self.total, self.acc.value)
            self.sc.setLocalProperty("spark.jobGroup.id", None)
        return False
