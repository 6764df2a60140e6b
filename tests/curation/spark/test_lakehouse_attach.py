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
