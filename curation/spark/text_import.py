"""Plain text into ``documents``: corpora that never were WARC records (JSON Lines or text files) become documents
with lineage to their file, so dedup, tokenization and training treat them like crawled pages.

* ``*.jsonl`` / ``*.json`` (and ``.gz``): one document per line, read by Spark in parallel; the id, text and
  optional URL come from the fields the config names. A line that is not JSON, or lacks its id or text, goes to
  ``ingest_errors`` with the reason (``bad_json``, ``missing_id``, ``missing_text``).
* any other file: one document per file, its whole content as text, the file name as id.

``doc_id`` = the first 32 hex of sha256(``source_file`` + newline + id): stable, so importing the same file again
adds nothing. The signals are null (no rule fails on a missing signal); ``lakeforge curate``'s stages are not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.provenance import RunInfo
from curation.spark.stage import write_funnel
from curation.stage import JobReport
from schemas import DOCUMENTS, INGEST_ERRORS, STATS

JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")


@dataclass(frozen=True)
class TextImportConfig:
    """Which JSON fields hold the id, the text and the URL."""

    id_field: str = "id"
    text_field: str = "text"
    url_field: str | None = "url"
    """Optional: when the field is absent, the URL is ``<source_file>#<id>``."""
    split: str | None = None
    """Text files only: a Java regex (or a preset name of ``SPLITS``) at whose matches a file is cut into
    documents; the id of the n-th piece is ``<file name>:<n>`` (from 0). Blank pieces are separators, not
    documents. None: one document per file."""

    @property
    def split_regex(self) -> str | None:
        return SPLITS.get(self.split, self.split) if self.split else None


SPLITS = {
    "paragraphs": r"\n\s*\n",
    "wikitext": r"(?m)(?=^ = [^=\n][^\n]* = *$)",
}
"""Named splits: ``paragraphs`` (blank lines), ``wikitext`` (before each WikiText article title `` = Title = ``)."""


def _is_json(path: str) -> bool:
    return path.lower().endswith(JSON_SUFFIXES)


def run_import_text(spark, lake, inputs: list[str], cfg: TextImportConfig, run: RunInfo) -> JobReport:
    """Append the documents of ``inputs`` (files) that ``documents`` does not hold yet; quarantine bad lines."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    report = JobReport(run.run_id, "import")
    step = report.step
    step("prepare")
    missing = [p for p in inputs if not Path(p).exists()]
    if missing:
        raise ValueError(f"input not found: {', '.join(missing)}")
    for schema in (DOCUMENTS, INGEST_ERRORS, STATS):
        lake.ensure(schema)
    lake.create_views()
    run.input_tables = {lake.fq(DOCUMENTS.name): lake.version(DOCUMENTS.name)}
    meta = run.commit_metadata()

    parts = []
    json_files = [str(Path(p).resolve()) for p in inputs if _is_json(p)]
    text_files = [str(Path(p).resolve()) for p in inputs if not _is_json(p)]
    if json_files:
        fields = [cfg.id_field, cfg.text_field] + ([cfg.url_field] if cfg.url_field else [])
        schema = T.StructType(
            [T.StructField(f, T.StringType()) for f in dict.fromkeys(fields)]
            + [T.StructField("_corrupt_record", T.StringType())]
        )
        raw = (
            spark.read.schema(schema)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .json(json_files)
            .withColumn("source_file", F.input_file_name())
        )
        url = F.col(cfg.url_field) if cfg.url_field else F.lit(None).cast("string")
        parts.append(
            raw.select(
                "source_file",
                F.col(cfg.id_field).alias("rid"),
                F.col(cfg.text_field).alias("text"),
                url.alias("url"),
                F.col("_corrupt_record").alias("raw"),
                F.when(F.col("_corrupt_record").isNotNull(), "bad_json")
                .when(F.col(cfg.id_field).isNull(), "missing_id")
                .when(F.col(cfg.text_field).isNull(), "missing_text")
                .alias("error"),
            )
        )
    if text_files:
        whole = spark.read.text(text_files, wholetext=True).withColumn("source_file", F.input_file_name())
        name = F.regexp_extract("source_file", r"([^/]+)$", 1)
        if cfg.split_regex:
            whole = whole.select(
                "source_file", name.alias("name"), F.posexplode(F.split("value", cfg.split_regex)).alias("n", "value")
            ).where(F.trim("value") != "")
            rid = F.concat_ws(":", "name", F.col("n").cast("string"))
        else:
            rid = name
        parts.append(
            whole.select(
                "source_file",
                rid.alias("rid"),
                F.col("value").alias("text"),
                F.lit(None).cast("string").alias("url"),
                F.lit(None).cast("string").alias("raw"),
                F.lit(None).cast("string").alias("error"),
            )
        )
    records = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    records = records.withColumn("source_file", F.regexp_replace("source_file", "^file:(//)?", "")).localCheckpoint(
        eager=True  # why: counted, split into documents and errors; files are read once
    )
    step("read")
    records_in = records.count()

    key = F.concat_ws("\n", "source_file", "rid")
    errors = records.where("error IS NOT NULL").select(
        F.substring(F.sha2(F.concat_ws("\n", "source_file", "rid", "raw", "error"), 256), 1, 32).alias("error_id"),
        "source_file",
        F.lit(None).cast("long").alias("record_offset"),
        F.col("rid").alias("record_id"),
        "url",
        F.col("error").alias("reason"),
        F.lit("the line is not a JSON object with the id and text fields").alias("message"),
        F.lit(run.run_id).alias("run_id"),
    )
    good = records.where("error IS NULL")
    values = {f.name: F.lit(None).cast(f.dataType) for f in DOCUMENTS.to_spark().fields}
    values |= {
        "doc_id": F.substring(F.sha2(key, 256), 1, 32),
        "url": F.coalesce("url", F.concat_ws("#", "source_file", "rid")),
        "source_file": F.col("source_file"),
        "payload_truncated": F.lit(False),
        "text": F.col("text"),
        "text_length": F.length("text"),
        "drop_reasons": F.array().cast("array<string>"),
        "run_id": F.lit(run.run_id),
        "verdict_run_id": F.lit(run.run_id),
    }
    docs = good.select(*[values[n].alias(n) for n in DOCUMENTS.names]).dropDuplicates(["doc_id"])
    step("write_documents")
    existing = lake.read(DOCUMENTS.name).select("doc_id")
    new = docs.join(existing, "doc_id", "left_anti").localCheckpoint(eager=True)  # why: counted, then written
    written = new.count()
    if written:
        lake.append(DOCUMENTS, new, meta)
    n_errors = errors.count()
    if n_errors:
        lake.merge_new(INGEST_ERRORS, errors, meta)
    already = records_in - n_errors - written
    head = [("input", "", "in", records_in)]
    head += [("read", r["reason"], "errored", r["count"]) for r in errors.groupBy("reason").count().collect()]
    if already:
        head.append(("read", "already_imported_or_repeated", "skipped", already))
    # Imported documents carry no drop reason (no rule has run on them): any reason would be an error.
    write_funnel(lake, report, new if written else None, head, reason_stage={}, stages=(), meta=meta)
    records.unpersist()
    report.finish()
    return report
