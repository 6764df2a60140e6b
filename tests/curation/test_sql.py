"""The read-only guard and the result formats of ``lakeforge sql`` (pure functions)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from curation.sql import format_csv, format_json, format_table, split_statements, write_reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) AS n FROM pages",
        "select * from pages version as of 3",
        "SELECT * FROM pages TIMESTAMP AS OF '2026-01-01'",
        "DESCRIBE HISTORY pages",
        "desc pages",
        "SHOW TABLES",
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "EXPLAIN SELECT 1",
        "  -- a comment\n SELECT 'DELETE FROM pages' AS s",
        "SELECT replace(url, 'a', 'b') FROM pages",
        "SELECT `insert` FROM t",
        "SELECT 1; SELECT 2",
        "VALUES (1), (2)",
    ],
)
def test_reads_are_allowed(sql):
    assert write_reason(sql) is None


@pytest.mark.parametrize(
    ("sql", "word"),
    [
        ("DELETE FROM pages", "DELETE"),
        ("insert into pages select * from pages", "INSERT"),
        ("MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN INSERT *", "MERGE"),
        ("DROP TABLE pages", "DROP"),
        ("CREATE TABLE x AS SELECT 1", "CREATE"),
        ("RESTORE TABLE pages TO VERSION AS OF 1", "RESTORE"),
        ("VACUUM pages", "VACUUM"),
        ("SELECT 1; DELETE FROM pages", "DELETE"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"),
        ("/* hi */ UPDATE pages SET url = NULL", "UPDATE"),
        ("SET spark.sql.shuffle.partitions=1", "SET"),
        ("", "an empty statement"),
    ],
)
def test_writes_are_named(sql, word):
    assert write_reason(sql) == word


def test_split_ignores_semicolons_in_strings_and_comments():
    assert len(split_statements("SELECT ';' AS a -- ; \n; SELECT 2")) == 2


ROWS = [
    (1, "a", None, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), b"\x00\x01", {"k": 2}),
    (22, "bb\nc", 1.5, None, None, {}),
]
COLS = ["n", "s", "x", "t", "b", "m"]


def test_table_is_aligned_and_marks_nulls_and_binaries():
    text = format_table(COLS, ROWS)
    lines = text.splitlines()
    assert lines[0].split(" | ")[0].strip() == "n"
    assert len(lines[1]) >= max(len(line) for line in lines)  # the rule spans every column
    assert "NULL" in lines[2] and "<2 bytes>" in lines[2]
    assert "bb\\nc" in lines[3]  # newlines never break the table
    assert lines[-1] == "(2 rows)"
    assert lines[2].startswith(" 1") and lines[3].startswith("22")  # numbers right-aligned


def test_table_cuts_long_cells():
    text = format_table(["s"], [("x" * 100,)], max_width=10)
    assert "x" * 9 + "…" in text and "x" * 11 not in text


def test_json_is_an_array_of_objects():
    data = json.loads(format_json(COLS, ROWS))
    assert data[0] == {"n": 1, "s": "a", "x": None, "t": "2026-01-02T03:04:05+00:00", "b": "AAE=", "m": {"k": 2}}
    assert data[1]["s"] == "bb\nc"


def test_csv_round_trips():
    rows = list(csv.reader(io.StringIO(format_csv(COLS, ROWS))))
    assert rows[0] == COLS
    assert rows[1][:2] == ["1", "a"] and rows[1][2] == ""
    assert rows[2][1] == "bb\nc"
