"""Spark adapters for the curate stages: WARC files → ``documents`` (``curate``), a ``pages`` version →
``documents`` (``extract``), and new thresholds over stored signals → a new ``documents`` version (``filter``).

``curate`` reads each WARC once, one file per task, and hands its HTML responses straight to the stages
(:class:`curation.curate.Curator`, one per Python worker): no HTML is stored. Tasks emit documents, quarantined
errors, one summary per file and per-stage timings; the driver persists that output once, writes each kind to its
table, and derives the funnel (``stats``) from the written data, never from accumulators (retried tasks would count
twice).
"""

from __future__ import annotations

import json
from collections import Counter

from curation.curate import ERROR_REASONS, STAGES, CurateConfig, curator_for, reason_stages
from curation.filters.toxicity import WordLists, wordlists_for
from curation.provenance import RunInfo
from curation.spark.documents import (
    apply_verdict,
    classifier_version_warnings,
    ensure_curate_tables,
    model_versions,
    scored,
)
from curation.spark.ingest import count_file_rows, files_to_skip, new_by_key
from curation.spark.stage import FileProgress, write_funnel
from curation.stage import JobReport
from curation.storage import S3Settings
from curation.warc import read_file
from curation.warc.sources import Source
from schemas import CURATE_FILES, DOCUMENTS, INGEST_ERRORS, PAGES

ALREADY_CURATED = "already_curated"
FLUSH_ROWS = 256

_TIMING_FIELDS = (("stage", "string"), ("seconds", "double"), ("docs", "long"))


def _out_arrow_schema():
    import pyarrow as pa

    timing = pa.struct(
        [pa.field("stage", pa.string()), pa.field("seconds", pa.float64()), pa.field("docs", pa.int64())]
    )
    return pa.schema(
        [pa.field("kind", pa.string(), False)]
        + [f.with_nullable(True) for f in DOCUMENTS.to_arrow()]
        + [
            pa.field("error", pa.struct(list(INGEST_ERRORS.to_arrow())), True),
            pa.field("file", pa.struct(list(CURATE_FILES.to_arrow())), True),
            pa.field("timing", timing, True),
        ]
    )


def _out_spark_schema():
    from pyspark.sql import types as T

    timing = T.StructType(
        [
            T.StructField("stage", T.StringType()),
            T.StructField("seconds", T.DoubleType()),
            T.StructField("docs", T.LongType()),
        ]
    )
    return T.StructType(
        [T.StructField("kind", T.StringType(), False)]
        + [T.StructField(f.name, f.dataType, True) for f in DOCUMENTS.to_spark().fields]
        + [
            T.StructField("error", INGEST_ERRORS.to_spark(), True),
            T.StructField("file", CURATE_FILES.to_spark(), True),
            T.StructField("timing", timing, True),
        ]
    )


def shipped_wordlists(cfg: CurateConfig) -> WordLists | None:
    """The toxicity word lists read on the driver, to travel to executors inside the task (they may run on machines
    that do not see ``toxicity.wordlist_dir``)."""
    lists = wordlists_for(cfg.toxicity)
    return None if lists is None else lists.loaded()


class _Emitter:
    """Buffers event rows and hands them out as Arrow batches; runs pages through the curator in batches."""

    def __init__(self, cfg: CurateConfig, run_id: str, wordlists: WordLists | None):
        import pyarrow as pa

        self.pa = pa
        self.schema = _out_arrow_schema()
        self.curator = curator_for(cfg, run_id, wordlists)
        self.batch_size = cfg.batch_size
        self.pages: list[dict] = []
        self.rows: list[dict] = []

    def page(self, row: dict):
        self.pages.append(row)
        if len(self.pages) >= self.batch_size:
            yield from self.flush_pages()

    def flush_pages(self):
        if self.pages:
            docs = self.curator.process(self.pages)
            self.pages = []
            self.rows += [{"kind": "document", **d} for d in docs]
            if len(self.rows) >= FLUSH_ROWS:
                yield from self.flush()

    def other(self, kind: str, row: dict):
        self.rows.append({"kind": kind, kind: row})

    def flush(self):
        if self.rows:
            yield self.pa.RecordBatch.from_pylist(self.rows, schema=self.schema)
            self.rows = []

    def finish(self):
        yield from self.flush_pages()
        seconds, docs = self.curator.take_timings()
        for stage in STAGES:
            if stage in seconds:
                self.other("timing", {"stage": stage, "seconds": seconds[stage], "docs": docs.get(stage, 0)})
        yield from self.flush()


class CurateFiles:
    """``mapInArrow``: batches of (source_file, file_size) → documents / error / file / timing rows."""

    def __init__(self, cfg: CurateConfig, run_id: str, progress=None, s3: S3Settings | None = None):
        self.cfg = cfg
        self.run_id = run_id
        self.progress = progress
        self.s3 = s3  # how executors reach s3:// inputs: the driver's settings
        self.wordlists = shipped_wordlists(cfg)

    def __call__(self, batches):
        out = _Emitter(self.cfg, self.run_id, self.wordlists)
        for batch in batches:
            for item in batch.to_pylist():
                for kind, row in read_file(item["source_file"], self.cfg.read, self.run_id, item["file_size"], self.s3):
                    if kind == "page":
                        yield from out.page(row)
                        continue
                    if kind == "file":
                        yield from out.flush_pages()  # the file's documents before its summary
                        if self.progress is not None:
                            self.progress.add(row["records_in"])
                    out.other(kind, row)
        yield from out.finish()


class CuratePages:
    """``mapInArrow``: batches of ``pages`` rows → documents / timing rows."""

    def __init__(self, cfg: CurateConfig, run_id: str):
        self.cfg = cfg
        self.run_id = run_id
        self.wordlists = shipped_wordlists(cfg)

    def __call__(self, batches):
        out = _Emitter(self.cfg, self.run_id, self.wordlists)
        for batch in batches:
            for row in batch.to_pylist():
                yield from out.page(row)
        yield from out.finish()


def run_curate(spark, lake, sources: list[Source], cfg: CurateConfig, run: RunInfo, progress=None) -> JobReport:
    """WARC files → ``documents`` / ``ingest_errors`` / ``curate_files`` / ``stats``, one commit per table."""
    from pyspark import StorageLevel
    from pyspark.sql import types as T

    report = JobReport(run.run_id, "curate")
    step = report.step
    step("prepare")
    schema = ensure_curate_tables(lake, cfg)
    docs_version = lake.version(DOCUMENTS.name)
    run.input_tables = {lake.fq(DOCUMENTS.name): docs_version} | model_versions(lake, cfg)
    meta = run.commit_metadata()

    skip = set() if cfg.read.reingest else files_to_skip(lake, sources, CURATE_FILES.name)
    todo = [s for s in sources if s.uri not in skip]
    file_rows = [_skipped_file(run.run_id, s) for s in sources if s.uri in skip]
    if todo:
        sc = spark.sparkContext
        acc = sc.accumulator(0)
        in_schema = T.StructType(
            [T.StructField("source_file", T.StringType(), False), T.StructField("file_size", T.LongType(), True)]
        )
        files_rdd = sc.parallelize([(s.uri, s.size) for s in todo], len(todo))  # one task per file
        out = (
            spark.createDataFrame(files_rdd, in_schema)
            .mapInArrow(CurateFiles(cfg, run.run_id, acc, lake.s3_settings), _out_spark_schema())
            .persist(StorageLevel.MEMORY_AND_DISK)  # why: four tables are written from this one pass
        )
        step("process")
        with FileProgress(sc, len(todo), acc, progress):
            out.count()
        step("dedupe")
        docs = scored(spark, out.where("kind = 'document'").select(*DOCUMENTS.names), cfg, schema)
        new_docs, per_file, keys = new_by_key(lake, DOCUMENTS.name, docs, docs_version, ("drop_reason", "drop_reasons"))
        verdicts = keys.where("NOT _drop")  # the written documents' verdicts, for the funnel
        step("write_documents")
        _write_documents(lake, schema, new_docs, per_file, meta, docs_version, report)
        step("write_errors")
        small = out.where("kind <> 'document'").select("kind", "error", "file", "timing").collect()
        errors = [r["error"].asDict() for r in small if r["kind"] == "error"]
        if errors:
            lake.merge_new(INGEST_ERRORS, spark.createDataFrame(errors, INGEST_ERRORS.to_spark()), meta)
        timings = [r["timing"].asDict() for r in small if r["kind"] == "timing"]
        for r in small:
            if r["kind"] == "file":
                file_rows.append(
                    count_file_rows(r["file"].asDict(), per_file.get(r["file"]["source_file"]), ALREADY_CURATED)
                )
    else:
        errors, timings, verdicts = [], [], None

    step("write_files")
    order = {s.uri: i for i, s in enumerate(sources)}
    file_rows.sort(key=lambda r: order.get(r["source_file"], len(order)))
    if file_rows:
        lake.append(CURATE_FILES, spark.createDataFrame(file_rows, CURATE_FILES.to_spark()), meta)
    report.files = file_rows

    step("write_stats")
    records_in = sum(f["records_in"] for f in file_rows)
    skipped = Counter()
    for f in file_rows:
        skipped.update(f["skipped"])
    errored = Counter(e["reason"] for e in errors)
    head = [("input", "", "in", records_in)]
    head += [("read", reason, "skipped", n) for reason, n in sorted(skipped.items())]
    head += [("read", reason, "errored", n) for reason, n in sorted(errored.items())]
    _write_funnel(lake, report, cfg, verdicts, head, meta, timings)
    if todo:
        out.unpersist()
        keys.unpersist()
    report.finish()
    return report


def run_extract(spark, lake, cfg: CurateConfig, run: RunInfo, pages_version: int | None = None) -> JobReport:
    """The curate stages over a ``pages`` version: documents not in ``documents`` yet are extracted."""
    from pyspark import StorageLevel

    report = JobReport(run.run_id, "extract")
    step = report.step
    step("prepare")
    if not lake.exists(PAGES.name):
        raise ValueError(f"no {lake.fq(PAGES.name)} table in {lake.root}: run `lakeforge ingest` first")
    schema = ensure_curate_tables(lake, cfg)
    pages_version = lake.version(PAGES.name) if pages_version is None else pages_version
    docs_version = lake.version(DOCUMENTS.name)
    run.input_tables = {lake.fq(PAGES.name): pages_version, lake.fq(DOCUMENTS.name): docs_version}
    run.input_tables |= model_versions(lake, cfg)
    meta = run.commit_metadata()

    pages = lake.read(PAGES.name, pages_version)
    existing = lake.read(DOCUMENTS.name, docs_version).select("doc_id")
    records_in = pages.count()
    todo = pages.join(existing, "doc_id", "left_anti")
    parallelism = max(spark.sparkContext.defaultParallelism, 1)
    out = (
        todo.repartition(parallelism * 2, "doc_id")
        .mapInArrow(CuratePages(cfg, run.run_id), _out_spark_schema())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    step("process")
    out.count()
    step("write_documents")
    docs = scored(spark, out.where("kind = 'document'").select(*DOCUMENTS.names), cfg, schema)
    written = docs.count()
    if written:
        lake.append(schema, docs, meta)
    timings = [r["timing"].asDict() for r in out.where("kind = 'timing'").select("timing").collect()]
    head = [("input", "", "in", records_in)]
    if records_in - written:
        head.append(("read", ALREADY_CURATED, "skipped", records_in - written))
    _write_funnel(lake, report, cfg, docs if written else None, head, meta, timings)
    out.unpersist()
    report.finish()
    return report


def run_filter(spark, lake, cfg: CurateConfig, run: RunInfo) -> JobReport:
    """Re-apply ``cfg``'s thresholds to the stored signals: one UPDATE of ``drop_reason`` / ``drop_reasons`` /
    ``verdict_run_id`` on the documents whose verdict changes (a new version; nothing else is touched)."""
    report = JobReport(run.run_id, "filter")
    step = report.step
    step("prepare")
    if not lake.version(DOCUMENTS.name):
        raise ValueError(f"{lake.fq(DOCUMENTS.name)} is empty or missing in {lake.root}: run `lakeforge curate` first")
    lake.create_views()
    docs_version = lake.version(DOCUMENTS.name)
    run.input_tables = {lake.fq(DOCUMENTS.name): docs_version}
    meta = run.commit_metadata()
    report.warnings += signal_setting_changes(lake, cfg)
    if cfg.classifiers:
        missing = [n for n in cfg.classifiers if f"{n}_score" not in lake.read(DOCUMENTS.name).columns]
        if missing:
            raise ValueError(f"documents has no scores of {', '.join(missing)} yet: run `lakeforge classify` first")
        report.warnings += classifier_version_warnings(lake, cfg)

    step("update")
    report.changed = apply_verdict(spark, lake, cfg, run)
    docs = lake.read(DOCUMENTS.name)
    head = [("input", "", "in", docs.count())]
    _write_funnel(lake, report, cfg, docs, head, meta)
    report.finish()
    return report


def signal_setting_changes(lake, cfg: CurateConfig) -> list[str]:
    """Settings that shape the stored signals (not thresholds) and differ from those of the runs that computed them:
    ``filter`` cannot apply them (they need ``curate`` / ``extract`` again), so it says so."""
    from curation.config import to_dict
    from curation.curate import SIGNAL_SETTINGS

    new = to_dict(cfg)
    rows = (
        lake.history(DOCUMENTS.name)
        .where("operation = 'WRITE' AND userMetadata IS NOT NULL")
        .select("version", "userMetadata")
        .collect()
    )
    seen: set[str] = set()
    out = []
    for r in rows:
        try:
            meta = json.loads(r["userMetadata"])
        except (TypeError, ValueError):
            continue
        old = meta.get("config") or {}
        if meta.get("job") not in ("curate", "extract") or not isinstance(old, dict):
            continue
        for section, names in SIGNAL_SETTINGS.items():
            for name in names or new.get(section, {}).keys():
                before = (old.get(section) or {}).get(name)
                after = (new.get(section) or {}).get(name)
                label = f"{section}.{name}"
                if section in old and before != after and label not in seen:
                    seen.add(label)
                    out.append(
                        f"{label} is {after!r} here but the signals of version {r['version']} were computed with "
                        f"{before!r}: it shapes signals, not thresholds; run curate/extract again to apply it"
                    )
    return out


def _skipped_file(run_id: str, s: Source) -> dict:
    return {
        "run_id": run_id,
        "source_file": s.uri,
        "file_size": s.size,
        "bytes_read": 0,
        "status": ALREADY_CURATED,
        "records_in": 0,
        "written": 0,
        "skipped": {},
        "errored": 0,
        "seconds": 0.0,
    }


def _write_documents(lake, schema, new_docs, per_file, meta, docs_version, report) -> None:
    expected = sum(r["emitted"] - r["dup_in_run"] - r["already"] for r in per_file.values())
    if not expected:
        return
    lake.append(schema, new_docs, meta)
    written = lake.version(DOCUMENTS.name)
    if written != (docs_version or 0) + 1:
        report.warnings.append(
            f"documents: another writer committed between version {docs_version} and this run's commit (v{written})"
        )


def _write_funnel(lake, report: JobReport, cfg: CurateConfig, docs, head, meta: str, timings=()) -> None:
    """The curate-like jobs' funnel: every curate stage, then classifiers and dedup when they dropped something."""
    write_funnel(
        lake,
        report,
        docs,
        head,
        reason_stage=reason_stages(cfg),
        error_reasons=ERROR_REASONS,
        timings=timings,
        meta=meta,
    )
