"""The read-only guard and the result formats of ``lakeforge sql`` (pure functions)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from curation.sql import REFUSED_FUNCTIONS, format_csv, format_json, format_table, refusal, statements


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
        "EXPLAIN SELECT replace(url, 'a', 'b') FROM pages",  # replace() the function, not REPLACE TABLE
        "SELECT `insert` FROM t",
        "SELECT 1; SELECT 2",
        "VALUES (1), (2)",
        "(SELECT 1)",
        "FROM pages SELECT url",
        "TABLE pages",
        # Names and strings that only look like what is refused.
        "SELECT reflection, reflect FROM t",
        "SELECT t.java_method FROM t",
        "SELECT 'CALL me' AS s, 'reflect(1)' AS f, \"SET x\" AS g",
        "SELECT 1 /* reflect('java.lang.System', 'exit', 1) */",
        "DESCRIBE FUNCTION reflect",
        "SHOW FUNCTIONS LIKE 'reflect'",
        "SELECT transform(array(1, 2), x -> x + 1)",  # the higher-order function, not a script transform
        "SELECT * FROM a JOIN b USING (id)",
        "SELECT input_file_name(), current_user(), version() FROM pages",
        "WITH x AS (SELECT 1 AS update) SELECT update FROM x",
        "SELECT * FROM delta.`/data/lakehouse/pages`",  # a table by path: a read
        "SELECT r'\\d+' AS pattern",
    ],
)
def test_reads_are_allowed(sql):
    assert refusal(sql) is None


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        # Writes.
        ("DELETE FROM pages", "DELETE"),
        ("insert into pages select * from pages", "INSERT"),
        ("INSERT OVERWRITE TABLE pages SELECT * FROM pages", "INSERT"),
        ("UPDATE pages SET url = NULL", "UPDATE"),
        ("MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN INSERT *", "MERGE"),
        ("DROP TABLE pages", "DROP"),
        ("CREATE TABLE x AS SELECT 1", "CREATE"),
        ("CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1", "CREATE"),
        ("REPLACE TABLE t AS SELECT 1", "REPLACE"),
        ("ALTER TABLE pages ADD COLUMN x INT", "ALTER"),
        ("TRUNCATE TABLE pages", "TRUNCATE"),
        ("OPTIMIZE pages", "OPTIMIZE"),
        ("VACUUM pages", "VACUUM"),
        ("RESTORE TABLE pages TO VERSION AS OF 1", "RESTORE"),
        ("REORG TABLE pages APPLY (PURGE)", "REORG"),
        ("CONVERT TO DELTA parquet.`/x`", "CONVERT"),
        ("COMMENT ON TABLE pages IS 'x'", "COMMENT"),
        ("LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE t", "LOAD"),
        ("COPY INTO t FROM '/x' FILEFORMAT = CSV", "COPY"),
        ("MSCK REPAIR TABLE pages", "MSCK"),
        ("REPAIR TABLE pages", "REPAIR"),
        ("ANALYZE TABLE pages COMPUTE STATISTICS", "ANALYZE"),
        ("SELECT 1; DELETE FROM pages", "DELETE"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"),
        ("WITH x AS (SELECT 1) DELETE FROM t", "DELETE"),
        ("WITH x AS (SELECT 1) UPDATE t SET a = 1", "UPDATE"),
        ("WITH x AS (SELECT 1) MERGE INTO t USING x ON t.a = x.a WHEN MATCHED THEN DELETE", "MERGE"),
        ("FROM pages INSERT INTO t SELECT url", "INSERT"),
        ("EXPLAIN DELETE FROM pages", "DELETE"),
        ("/* hi */ UPDATE pages SET url = NULL", "UPDATE"),
        # The session, the cache, code and files outside the data.
        ("SET spark.sql.shuffle.partitions=1", "SET"),
        ("SET TIME ZONE 'UTC'", "SET"),
        ("RESET", "RESET"),
        ("USE other", "USE"),
        ("CACHE TABLE pages", "CACHE"),
        ("CACHE LAZY TABLE c AS SELECT 1", "CACHE"),
        ("UNCACHE TABLE pages", "UNCACHE"),
        ("CLEAR CACHE", "CLEAR"),
        ("REFRESH TABLE pages", "REFRESH"),
        ("REFRESH FUNCTION f", "REFRESH"),
        ("ADD JAR /tmp/evil.jar", "ADD"),
        ("ADD FILE /tmp/x", "ADD"),
        ("ADD ARCHIVE /tmp/x.zip", "ADD"),
        ("LIST FILE", "LIST"),
        ("LIST JAR", "LIST"),
        ("CREATE TEMPORARY FUNCTION f AS 'com.example.F' USING JAR '/tmp/f.jar'", "CREATE"),
        ("CREATE FUNCTION f(x INT) RETURNS INT RETURN x + 1", "CREATE"),
        ("CALL system.some_procedure(1)", "CALL"),
        ("EXECUTE IMMEDIATE 'SELECT reflect(\\'java.lang.System\\', \\'exit\\', 1)'", "EXECUTE"),
        ("DECLARE VARIABLE v INT DEFAULT 1", "DECLARE"),
        ("BEGIN SELECT 1; END", "BEGIN"),
        ("GRANT SELECT ON pages TO u", "GRANT"),
        # Functions that call Java methods, however they are spelled.
        ("SELECT reflect('java.lang.System', 'exit', 1)", "reflect()"),
        ("SELECT java_method('java.lang.System', 'exit', 1)", "java_method()"),
        ("SELECT try_reflect('java.lang.System', 'exit', 1)", "try_reflect()"),
        ("select REFLECT /* c */ ('java.lang.System', 'exit', 1)", "reflect()"),
        ("SELECT `reflect`('java.lang.System', 'exit', 1)", "reflect()"),
        ("SELECT builtin.reflect('java.lang.System', 'exit', 1)", "reflect()"),
        ("SELECT url FROM pages WHERE length(reflect('java.lang.System', 'exit', 1)) > 0", "reflect()"),
        ("SELECT /*+ REPARTITION(reflect('a', 'b')) */ 1", "reflect()"),  # a hint is code, not a comment
        ("SHOW TABLES; SELECT java_method('a', 'b')", "java_method()"),
        # Spark's lexer, where a simpler one would hide the call: a raw string ends at its quote, comments nest.
        ("SELECT r'\\', reflect('java.lang.System', 'exit', 1) --'", "reflect()"),
        ("/* /* */ ' */ SELECT reflect('java.lang.System', 'exit', 1) --'", "reflect()"),
        ("SELECT 'it''s', reflect('a', 'b')", "reflect()"),
        # A script transform runs a shell command.
        ("SELECT TRANSFORM(url) USING 'cat /etc/passwd' AS (x) FROM pages", "TRANSFORM … USING"),
        ('FROM pages SELECT TRANSFORM(url) USING "id"', "TRANSFORM … USING"),
        ("", "an empty statement"),
        ("-- only a comment", "an empty statement"),
    ],
)
def test_refusals_are_named(sql, refused):
    reason = refusal(sql)
    assert reason is not None and reason.split(" (")[0] == refused


def test_every_refused_function_is_a_spark_builtin_that_calls_java():
    assert REFUSED_FUNCTIONS == {"reflect", "java_method", "try_reflect"}


def test_statements_split_on_semicolons_outside_strings_and_comments():
    parts = statements("SELECT ';' AS a -- ; \n; SELECT `a;b` FROM t; /* ; */ ;")
    assert parts == ["SELECT ';' AS a -- ; \n", " SELECT `a;b` FROM t"]


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
