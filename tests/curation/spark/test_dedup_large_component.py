"""A component of 100,000 near-identical pages: dedup resolves it across tasks, in bounded Python memory.

Before ``survivor_task_mb`` the survivor step gave a component to one grouped Arrow call with every distinct text of
it: here ~160 MB of text and the shingle sets of 100,000 pages in one Python worker."""

from __future__ import annotations

import os
from pathlib import Path

from curation.dedup.config import DedupConfig
from curation.provenance import RunInfo
from curation.spark.dedup import run_dedup
from schemas import DOCUMENTS

PAGES = 100_000
WORDS = 250


def _base_words(shared_data: Path) -> list[str]:
    text = (shared_data / "corpora" / "wikitext2_partial" / "valid.txt").read_text(encoding="utf-8")
    words = [w for w in text.split() if w.isalpha()]
    return words[1000 : 1000 + WORDS]


def _pages(spark, words: list[str]):
    """Page i: the base text with word (i mod WORDS) replaced by a token of its own. Two pages differ in at most 10
    of ~250 five-word shingles (Jaccard ≥ 0.92), no two are equal, and all sit in one component."""
    from pyspark.sql import functions as F

    from curation.spark.documents import conform

    base = F.array(*[F.lit(w) for w in words])
    own = F.concat(F.lit("v"), F.col("id").cast("string"))
    text = F.concat_ws(" ", F.transform(base, lambda w, j: F.when(j == F.col("id") % WORDS, own).otherwise(w)))
    df = spark.range(PAGES).select(
        F.format_string("p%06d", F.col("id")).alias("doc_id"),
        text.alias("text"),
        F.lit("pages.warc.gz").alias("source_file"),
        F.lit(False).alias("payload_truncated"),
        F.array().cast("array<string>").alias("drop_reasons"),
        F.lit("test").alias("run_id"),
        F.lit("test").alias("verdict_run_id"),
    )
    return conform(df.withColumn("text_length", F.length("text")), DOCUMENTS)


def test_a_component_of_100k_near_identical_pages_is_resolved_across_tasks(spark, lake, shared_data):
    from bench.dedup import TreeRSS

    lake.ensure(DOCUMENTS)
    lake.append(DOCUMENTS, _pages(spark, _base_words(shared_data)).repartition(4), '{"job": "test"}')
    cfg = DedupConfig()
    with TreeRSS(every_s=0.1).watching(os.getpid()) as rss:
        report = run_dedup(spark, lake, cfg, RunInfo(job="dedup", config_hash="test", config={}))

    d = report.details
    assert d["new"] == PAGES and d["large_components"] == 1 and d["survivor_rounds_distributed"] >= 1
    rows = lake.read(DOCUMENTS.name).groupBy("dup_cluster_id", "dup_of", "drop_reason").count().collect()
    by = {(r["dup_cluster_id"], r["dup_of"], r["drop_reason"]): r["count"] for r in rows}
    # every page is at least 0.92-similar to the first, which has the earliest doc_id (no warc_date): one survivor
    assert by == {("p000000", None, None): 1, ("p000000", "p000000", "near_duplicate"): PAGES - 1}
    t = report.totals
    assert t["records_in"] == PAGES and t["kept"] == 1 and t["dropped"] == PAGES - 1
    sims = lake.read(DOCUMENTS.name).where("dup_of IS NOT NULL").agg({"dup_similarity": "min"}).first()[0]
    assert 0.92 <= sims < 1.0
    # Python workers (executor side) stay far below what one task holding the component needs. Measured on 2 cores
    # (local[2]): the peak of all Python workers together was 975 MiB this way and 3,477 MiB with the whole
    # component in one task (survivor_task_mb=100000: the Arrow table, its rows as dicts, 100,000 shingle sets)
    print(f"python workers peak {rss.python_mb:,.0f} MiB, JVM {rss.jvm_mb:,.0f} MiB")
    assert rss.python_mb < 1536, f"Python workers peaked at {rss.python_mb:,.0f} MiB"
