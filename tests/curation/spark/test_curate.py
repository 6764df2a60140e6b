"""curate / extract / filter on real Spark and Delta over the real WARCs in ../shared/data/warc."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from warcgen import gz, http_response, warc_record

from curation.config import LakehouseConfig, config_hash, load, to_dict
from curation.curate import CurateConfig, verdict, verdict_sql
from curation.funnel import unreconciled
from curation.provenance import RunInfo
from curation.spark.curate import run_curate, run_extract, run_filter
from curation.spark.ingest import run_ingest
from curation.spark.lakehouse import Lakehouse
from curation.warc import read_file
from curation.warc.sources import resolve_inputs
from schemas import DOCUMENTS

VERDICT = ("drop_reason", "drop_reasons", "verdict_run_id")


def _run(job: str, cfg: CurateConfig, inputs=()) -> RunInfo:
    return RunInfo(job=job, config_hash=config_hash(cfg), config=to_dict(cfg), inputs=list(inputs))


def _curate(spark, lake, paths, cfg):
    sources = resolve_inputs([str(p) for p in paths], cfg.read.paths_base)
    return run_curate(spark, lake, sources, cfg, _run("curate", cfg, [s.uri for s in sources]))


@pytest.fixture(scope="module")
def warcs(shared_data) -> list[Path]:
    return sorted((shared_data / "warc").rglob("*.warc.gz"))


@pytest.fixture(scope="module")
def cfg(shared_data) -> CurateConfig:
    return load(CurateConfig, {"toxicity": {"wordlist_dir": str(shared_data / "toxicity" / "ldnoobw")}})


@pytest.fixture(scope="module")
def curated(spark, tmp_path_factory, warcs, cfg):
    """One curate run over every real WARC, shared by the read-only tests of this module."""
    lake = Lakehouse(spark, LakehouseConfig(root=str(tmp_path_factory.mktemp("curate") / "lh"))).attach()
    report = _curate(spark, lake, warcs, cfg)
    return lake, report


def test_every_html_response_becomes_one_row_and_the_funnel_reconciles(curated, warcs, cfg):
    lake, report = curated
    assert report.unreconciled() is None, report.unreconciled()
    # The pure reader over the same files says how many HTML responses there are: each is one document.
    pages = {}
    for path in warcs:
        for kind, row in read_file(str(path), cfg.read, "check"):
            if kind == "page":
                pages.setdefault(row["doc_id"], row["url"])
    docs = lake.read("documents")
    assert docs.count() == len(pages) > 50
    assert {r["doc_id"] for r in docs.select("doc_id").collect()} == set(pages)
    t = report.totals
    assert t["records_in"] == sum(f["records_in"] for f in report.files)
    assert t["documents"] == len(pages)
    assert t["kept"] > 0 and t["dropped"] > 0
    assert t["kept"] == lake.spark.table(lake.fq("kept")).count()
    stats = [r.asDict() for r in lake.read("stats").where(f"run_id = '{report.run_id}'").collect()]
    assert unreconciled(stats) is None
    assert {r["stage"] for r in stats} >= {"input", "decode", "extract", "langid", "fineweb", "output"}
    # Per-stage throughput is measured for the stages that ran.
    assert report.stages["extract"]["docs"] > 0 and report.stages["extract"]["docs_per_s"] > 0


def test_verdict_columns_agree_in_python_and_sql(curated, cfg):
    lake, _ = curated
    docs = lake.read("documents").withColumn("_sql", F.expr(verdict_sql(cfg)))
    rows = [r.asDict() for r in docs.drop("text").collect()]
    for row in rows:
        assert row["drop_reasons"] == verdict(row, cfg) == row["_sql"], row["doc_id"]
        assert row["drop_reason"] == (row["drop_reasons"][0] if row["drop_reasons"] else None)


def test_rows_lead_back_to_their_warc_record(curated):
    lake, _ = curated
    rows = lake.read("documents").select("doc_id", "url", "source_file", "record_offset", "record_length").collect()
    checked = 0
    for r in rows[:: max(1, len(rows) // 12)]:
        path = r["source_file"].removeprefix("file://")
        with open(path, "rb") as f:
            f.seek(r["record_offset"])
            raw = f.read(r["record_length"])
        record = zlib.decompressobj(31).decompress(raw)
        assert r["url"] in record.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").replace("<", "").replace(">", "")
        checked += 1
    assert checked >= 5


def test_documents_have_text_language_and_signals(curated):
    lake, _ = curated
    ok = lake.read("documents").where("extraction_error IS NULL")
    assert ok.count() > 40
    assert ok.where("text IS NULL OR text_length <> length(text) OR language IS NULL").count() == 0
    assert ok.where("language_score < 0 OR language_score > 1").count() == 0
    english = ok.where("language = 'en'")
    assert english.count() > 20
    # Signals present for every document with text; the English stop-word count is defined for English.
    assert (
        english.where("gopher_word_count IS NULL OR gopher_stop_words IS NULL OR fineweb_line_count IS NULL").count()
        == 0
    )
    assert english.where("toxic_wordlist_lang = 'en'").count() == english.count()
    meta = json.loads(lake.history("documents").where("operation = 'WRITE'").first()["userMetadata"])
    assert meta["job"] == "curate" and meta["config_hash"] and meta["code_version"]
    assert any(i.endswith(".warc.gz") for i in meta["inputs"])


def test_rerun_writes_nothing_new(spark, curated, warcs, cfg):
    lake, first = curated
    before = lake.version("documents")
    again = _curate(spark, lake, warcs, cfg)
    assert lake.version("documents") == before
    assert lake.read("documents").count() == lake.read("documents").select("doc_id").distinct().count()
    failed_before = {f["source_file"] for f in first.files if f["status"] == "failed"}
    assert {f["source_file"] for f in again.files if f["status"] != "already_curated"} == failed_before
    assert again.totals["documents"] == 0
    assert again.unreconciled() is None


def test_filter_changes_only_the_verdict(spark, tmp_path, warcs, cfg):
    lake = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lh"))).attach()
    _curate(spark, lake, [w for w in warcs if "dolma" in str(w)], cfg)
    v1 = lake.version("documents")
    strict = load(CurateConfig, to_dict(cfg) | {"gopher_quality": {"min_doc_words": 400}})
    report = run_filter(spark, lake, strict, _run("filter", strict))
    v2 = lake.version("documents")
    assert v2 == v1 + 1 and report.changed > 0
    old, new = lake.read("documents", v1), lake.read("documents", v2)
    rest = [c for c in DOCUMENTS.names if c not in VERDICT]
    assert old.select(*rest).exceptAll(new.select(*rest)).count() == 0
    assert new.select(*rest).exceptAll(old.select(*rest)).count() == 0
    changed = old.alias("o").join(new.alias("n"), "doc_id").where("NOT (o.drop_reasons <=> n.drop_reasons)")
    assert changed.count() == report.changed
    assert changed.where("array_contains(n.drop_reasons, 'gopher_short_doc')").count() == report.changed
    assert report.unreconciled() is None
    # Same thresholds again: nothing changes, no new version.
    again = run_filter(spark, lake, strict, _run("filter", strict))
    assert again.changed == 0 and lake.version("documents") == v2
    # A signal-shaping setting cannot be applied by filter: it says so.
    other = load(CurateConfig, to_dict(strict) | {"toxicity": {"wordlist_dir": None}})
    warned = run_filter(spark, lake, other, _run("filter", other))
    assert any("toxicity.wordlist_dir" in w for w in warned.warnings)


def test_extract_over_pages_gives_the_same_documents_as_curate(spark, tmp_path, curated, warcs, cfg):
    lake_c, _ = curated
    dolma = [w for w in warcs if "dolma" in str(w)]
    lake = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lh"))).attach()
    sources = resolve_inputs([str(p) for p in dolma], cfg.read.paths_base)
    run_ingest(spark, lake, sources, cfg.read, RunInfo(job="ingest", config_hash="x", config={}, inputs=[]))
    report = run_extract(spark, lake, cfg, _run("extract", cfg))
    assert report.unreconciled() is None
    cols = ["doc_id", "title", "text", "language", "drop_reasons"]
    mine = lake.read("documents").select(*cols)
    theirs = lake_c.read("documents").where(" OR ".join(f"source_file LIKE '%{p.name}'" for p in dolma)).select(*cols)
    assert mine.count() == theirs.count() > 30
    assert mine.exceptAll(theirs).count() == 0
    # Incremental: a second extract finds nothing new.
    again = run_extract(spark, lake, cfg, _run("extract", cfg))
    assert again.totals["documents"] == 0 and again.unreconciled() is None


def test_pathological_pages_become_rows_and_the_task_goes_on(spark, lake, tmp_path, cfg):
    deep = b"<html><body>" + b"<div>" * 200_000 + b"x" + b"</div>" * 200_000 + b"</body></html>"
    binary = bytes(range(256)) * 400
    good = (
        b"<html><head><title>A real page</title></head><body><article>"
        + b"<p>The committee met on Tuesday to discuss the budget for the coming year, and agreed to fund it.</p>" * 8
        + b"</article></body></html>"
    )
    records = [
        warc_record(1, block=http_response(deep)),
        warc_record(2, block=http_response(binary)),
        warc_record(3, block=http_response(b"")),
        warc_record(4, block=http_response(good)),
        warc_record(5, block=http_response("<p>caf\xe9 cr\xe8me</p>".encode("cp1252"), "text/html; charset=latin-1")),
    ]
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(gz(*records))
    report = _curate(spark, lake, [path], cfg)
    assert report.unreconciled() is None
    rows = {r["url"].rsplit("/", 1)[1]: r.asDict() for r in lake.read("documents").collect()}
    assert set(rows) == {"1", "2", "3", "4", "5"}
    assert rows["2"]["extraction_error"] == "binary_content"
    assert rows["3"]["drop_reason"] is not None
    assert rows["1"]["drop_reason"] is not None  # timeout, failure or no text: a row either way
    assert rows["4"]["text"] and "committee" in rows["4"]["text"] and rows["4"]["title"] == "A real page"
    assert rows["5"]["charset"] == "cp1252"
