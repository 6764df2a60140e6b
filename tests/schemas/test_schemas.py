"""The schema contract: one definition, three consistent renderings (Spark, Arrow, DDL)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas import ALL_TABLES, Field
from schemas.base import TableSchema


@pytest.mark.parametrize("name", sorted(ALL_TABLES))
def test_renderings_agree(name):
    t = ALL_TABLES[name]
    spark, arrow = t.to_spark(), t.to_arrow()
    assert spark.fieldNames() == arrow.names == t.names
    assert [f.nullable for f in spark.fields] == [f.nullable for f in arrow] == [f.nullable for f in t.fields]
    assert t.ddl().count("COMMENT") == len(t.fields)
    assert all(f.doc for f in t.fields), "every column says what it means"
    assert set(t.key) <= set(t.names)


def test_arrow_rows_round_trip():
    t = ALL_TABLES["ingest_files"]
    row = {n: None for n in t.names} | {
        "run_id": "r",
        "source_file": "f",
        "status": "complete",
        "records_in": 1,
        "written": 1,
        "skipped": {"a": 2},
        "errored": 0,
    }
    batch = pa.RecordBatch.from_pylist([row], schema=t.to_arrow())
    assert batch.to_pylist()[0]["skipped"] == [("a", 2)]


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown type"):
        Field("x", "decimal")
    with pytest.raises(KeyError):
        TableSchema("t", (Field("a", "string"),)).field("b")
