"""Attaching another lakehouse to the same session must never touch the first one's files."""

from __future__ import annotations

from curation.config import LakehouseConfig
from curation.spark.lakehouse import Lakehouse
from schemas import INGEST_FILES


def test_switching_lakehouses_keeps_both(spark, tmp_path):
    first = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "a"))).attach()
    first.ensure(INGEST_FILES)
    second = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "b"))).attach()
    second.ensure(INGEST_FILES)
    assert (tmp_path / "a" / "warehouse" / "lakeforge.db" / "ingest_files" / "_delta_log").is_dir()
    assert first.read(INGEST_FILES.name).count() == 0
    again = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "a"))).attach()
    assert again.exists(INGEST_FILES.name)
    assert (
        spark.sql("DESCRIBE DATABASE lakeforge")
        .where("info_name = 'Location'")
        .first()[1]
        .endswith("a/warehouse/lakeforge.db")
    )


def test_a_table_whose_first_commit_never_landed_is_created_again(spark, tmp_path):
    """A job killed while it created a table leaves a folder with data files (or an empty ``_delta_log``) and no
    commit: nothing was ever visible in it. The next job must create the table there, not fail on the leftovers."""
    import shutil

    root = tmp_path / "lake"
    lake = Lakehouse(spark, LakehouseConfig(root=str(root))).attach()
    lake.ensure(INGEST_FILES)
    table = root / "warehouse" / "lakeforge.db" / INGEST_FILES.name
    # leftovers 1: data files and no _delta_log (killed before the first commit of a table written by a job)
    shutil.rmtree(table / "_delta_log")
    (table / "part-00000-killed.snappy.parquet").write_bytes(b"PAR1 never committed")
    lake = Lakehouse(spark, LakehouseConfig(root=str(root))).attach()
    assert not lake.exists(INGEST_FILES.name)
    lake.ensure(INGEST_FILES)
    assert lake.read(INGEST_FILES.name).count() == 0 and lake.version(INGEST_FILES.name) == 0
    assert not (table / "part-00000-killed.snappy.parquet").exists()
    # leftovers 2: an empty _delta_log (killed while the first commit was being written)
    shutil.rmtree(table / "_delta_log")
    (table / "_delta_log").mkdir()
    (table / "_delta_log" / ".00000000000000000000.json.tmp").write_text("{")
    lake = Lakehouse(spark, LakehouseConfig(root=str(root))).attach()
    assert not lake.exists(INGEST_FILES.name)
    lake.ensure(INGEST_FILES)
    assert lake.read(INGEST_FILES.name).count() == 0 and lake.version(INGEST_FILES.name) == 0
