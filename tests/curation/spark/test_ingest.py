"""The ingest job on real Spark and real Delta, over the real WARCs in ../shared/data/warc."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from curation.config import IngestConfig, config_hash, to_dict
from curation.provenance import RunInfo
from curation.spark.ingest import run_ingest
from curation.warc.sources import resolve_inputs
from schemas import INGEST_ERRORS, INGEST_FILES, PAGES

# Pages per real file (from the pure reader's tests): 86 HTML responses in all.
EXPECTED_PAGES = 86


def ingest(spark, lake, inputs, cfg=None):
    cfg = cfg or IngestConfig()
    sources = resolve_inputs([str(i) for i in inputs], cfg.paths_base, retries=1, timeout_s=5)
    run = RunInfo(job="ingest", config_hash=config_hash(cfg), config=to_dict(cfg), inputs=[s.uri for s in sources])
    return run_ingest(spark, lake, sources, cfg, run)


def reconciles(files: list[dict]) -> bool:
    return all(f["records_in"] == f["written"] + sum(f["skipped"].values()) + f["errored"] for f in files)


@pytest.fixture(scope="module")
def warc_dir(shared_data):
    return shared_data / "warc"


def test_ingest_every_shared_warc(spark, lake, warc_dir):
    report = ingest(spark, lake, [warc_dir])
    t = report.totals
    assert t["files"] == 13
    assert t["written"] == EXPECTED_PAGES
    assert report.details["errors_by_reason"] == {"truncated_gzip": 1}
    assert reconciles(report.files) and report.unreconciled() is None
    assert t["records_in"] == t["written"] + sum(t["skipped"].values()) + t["errored"]

    pages = spark.table("lakeforge.pages")
    assert pages.count() == EXPECTED_PAGES
    assert pages.select("doc_id").distinct().count() == EXPECTED_PAGES
    # Tables carry exactly the schema written once in schemas/.
    for schema in (PAGES, INGEST_ERRORS, INGEST_FILES):
        assert spark.table(lake.fq(schema.name)).columns == schema.names
    # Found by bare name too: the lakehouse database is current.
    assert spark.sql("SELECT count(*) AS n FROM pages").first()["n"] == EXPECTED_PAGES
    err = spark.table("lakeforge.ingest_errors").first()
    assert err["reason"] == "truncated_gzip" and err["source_file"].endswith("clipped.warc.gz")
    # The per-file table holds the same reconciliation the report printed.
    files = [r.asDict() for r in spark.table("lakeforge.ingest_files").collect()]
    assert len(files) == 13 and reconciles(files)
    by_name = {f["source_file"].rsplit("/", 1)[-1]: f for f in files}
    assert by_name["clipped.warc.gz"]["status"] == "failed"
    assert by_name["warcfile.warc.gz"]["written"] == 16
    assert by_name["warcfile.warc.gz"]["skipped"] == {
        "record_type=warcinfo": 1,
        "record_type=request": 17,
        "record_type=metadata": 16,
    }


def test_commit_records_run_metadata(spark, lake, warc_dir):
    cfg = IngestConfig()
    report = ingest(spark, lake, [warc_dir / "whirlwind" / "whirlwind.warc.gz"], cfg)
    last = lake.history("pages", 1).first()
    assert last["operation"] == "WRITE"
    meta = json.loads(last["userMetadata"])
    assert meta["run_id"] == report.run_id
    assert meta["config_hash"] == config_hash(cfg)
    assert meta["code_version"]
    assert meta["inputs"] == [str(warc_dir / "whirlwind" / "whirlwind.warc.gz")]
    assert meta["input_tables"] == {"lakeforge.pages": 0}  # read the empty table made at version 0
    row = spark.table("pages").first()
    assert row["ingest_run_id"] == report.run_id
    assert row["crawl_id"] == "CC-MAIN-2024-22"


def test_rerun_adds_nothing_and_new_input_appends_a_version(spark, lake, warc_dir):
    first = ingest(spark, lake, [warc_dir / "dolma"])
    assert first.totals["written"] == 37
    v1 = lake.version("pages")

    again = ingest(spark, lake, [warc_dir / "dolma"])
    assert lake.version("pages") == v1  # no commit at all for pages
    assert again.totals["written"] == 0
    assert {f["status"] for f in again.files} == {"already_ingested"}
    assert spark.table("pages").count() == 37

    forced = ingest(spark, lake, [warc_dir / "dolma"], IngestConfig(reingest=True))
    assert forced.totals["written"] == 0
    assert sum(f["skipped"].get("already_ingested", 0) for f in forced.files) == 37
    assert reconciles(forced.files)
    assert lake.version("pages") == v1

    more = ingest(spark, lake, [warc_dir / "resiliparse" / "warcfile.warc.gz"])
    assert more.totals["written"] == 16
    assert lake.version("pages") == v1 + 1
    assert spark.table("pages").count() == 53
    # Time travel: the earlier version is still there to read.
    assert spark.sql(f"SELECT count(*) AS n FROM pages VERSION AS OF {v1}").first()["n"] == 37
    hist = spark.sql("DESCRIBE HISTORY pages").select("version", "operation").collect()
    assert [r["operation"] for r in hist][:2] == ["WRITE", "WRITE"]


def test_same_records_in_two_files_are_written_once(spark, lake, warc_dir, tmp_path):
    a = tmp_path / "a.warc.gz"
    b = tmp_path / "copy-of-a.warc.gz"
    shutil.copy(warc_dir / "resiliparse" / "warcfile.warc.gz", a)
    shutil.copy(a, b)
    report = ingest(spark, lake, [a, b])
    assert report.totals["written"] == 16
    assert spark.table("pages").count() == 16
    dup = {f["source_file"]: f["skipped"].get("duplicate_in_run", 0) for f in report.files}
    assert sorted(dup.values()) == [0, 16]
    assert reconciles(report.files)


def test_bad_inputs_finish_reconcile_and_are_quarantined(spark, lake, warc_dir, tmp_path):
    import warcgen

    bad = warcgen.bad_inputs(tmp_path / "bad")
    cfg = IngestConfig(**warcgen.BAD_INPUT_LIMITS)
    inputs = [
        *bad.values(),
        warc_dir / "resiliparse" / "clipped.warc.gz",
        warc_dir / "resiliparse" / "clueweb-quirk.warc.gz",
    ]
    report = ingest(spark, lake, inputs, cfg)
    assert report.unreconciled() is None
    by_file = {f["source_file"]: f for f in report.files}
    assert len(by_file) == len(inputs)
    errors = spark.table("ingest_errors").collect()
    reasons_by_file: dict[str, set] = {}
    for e in errors:
        reasons_by_file.setdefault(e["source_file"], set()).add(e["reason"])
    for name, path in bad.items():
        pages, acceptable = warcgen.EXPECTED_BAD[name]
        uri = str(path.resolve())
        assert by_file[uri]["written"] == pages, name
        assert reasons_by_file.get(uri, set()) & acceptable, (name, reasons_by_file.get(uri))
    quirk = by_file[str((warc_dir / "resiliparse" / "clueweb-quirk.warc.gz").resolve())]
    assert quirk["written"] == 29 and quirk["status"] == "complete"
    # Every quarantined row says where and why.
    assert all(e["reason"] and e["message"] and e["run_id"] == report.run_id for e in errors)


def test_http_urls_and_paths_lists(spark, lake, warc_dir, tmp_path):
    import warcgen

    served = tmp_path / "www"
    (served / "crawl-data").mkdir(parents=True)
    shutil.copy(warc_dir / "resiliparse" / "warcfile.warc.gz", served / "crawl-data" / "one.warc.gz")
    shutil.copy(warc_dir / "whirlwind" / "whirlwind.warc.gz", served / "crawl-data" / "two.warc.gz")
    with gzip.open(served / "warc.paths.gz", "wt") as f:
        f.write("crawl-data/one.warc.gz\ncrawl-data/two.warc.gz\ncrawl-data/missing.warc.gz\n")
    with warcgen.serve(served) as base:
        cfg = IngestConfig(paths_base=base, http_retries=1, http_timeout_s=5)
        report = ingest(spark, lake, [f"{base}warc.paths.gz"], cfg)
    assert report.totals["written"] == 17
    assert report.details["errors_by_reason"] == {"http_404": 1}
    urls = {r["source_file"] for r in spark.table("pages").select("source_file").distinct().collect()}
    assert urls == {f"{base}crawl-data/one.warc.gz", f"{base}crawl-data/two.warc.gz"}
    assert report.unreconciled() is None


def test_rows_point_back_at_their_raw_records(spark, lake, warc_dir):
    ingest(spark, lake, [warc_dir / "dolma" / "sample-0000.warc.gz"])
    rows = spark.table("pages").select("source_file", "record_offset", "record_length", "record_id").collect()
    assert len(rows) == 22
    for r in rows:
        with open(r["source_file"], "rb") as f:
            f.seek(r["record_offset"])
            raw = gzip.decompress(f.read(r["record_length"]))
        assert raw.startswith(b"WARC/1")
        assert r["record_id"].encode() in raw[:2000]
