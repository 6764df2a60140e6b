"""``lakeforge sql`` / ``tables`` / ``history`` against a real lakehouse, in process (shared session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jobs import ingest as ingest_job
from jobs import sql as sql_job
from jobs import tables as tables_job
from jobs.common import run_main


@pytest.fixture(scope="module")
def ingested(spark, shared_data, tmp_path_factory) -> Path:
    """Two ingests (pages versions 1 and 2), made once: the tests that only read share it."""
    root = tmp_path_factory.mktemp("sql") / "lh"
    warc = shared_data / "warc"
    args = ["--lakehouse", str(root), "--master", "local[2]"]
    assert run_main(ingest_job.main, ["--input", str(warc / "dolma" / "sample-0001.warc.gz"), *args]) == 0
    assert run_main(ingest_job.main, ["--input", str(warc / "resiliparse" / "warcfile.warc.gz"), *args]) == 0
    return root


@pytest.fixture
def lakehouse(ingested):
    """The shared lakehouse, to read."""
    return ["--lakehouse", str(ingested), "--master", "local[2]"]


@pytest.fixture
def own_lakehouse(ingested, tmp_path):
    """A copy of it, for a test that writes (Delta logs name their files relative to the table)."""
    shutil.copytree(ingested, tmp_path / "lh")
    return ["--lakehouse", str(tmp_path / "lh"), "--master", "local[2]"]


def sql(capsys, lakehouse, *argv):
    capsys.readouterr()
    code = run_main(sql_job.main, [*argv, *lakehouse])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_count_time_travel_and_history(capsys, lakehouse):
    code, out, _ = sql(capsys, lakehouse, "--format", "json", "SELECT count(*) AS n FROM pages")
    assert code == 0 and json.loads(out) == [{"n": 31}]
    code, out, _ = sql(capsys, lakehouse, "--format", "json", "SELECT count(*) AS n FROM pages VERSION AS OF 1")
    assert json.loads(out) == [{"n": 15}]
    code, out, _ = sql(capsys, lakehouse, "--format", "json", "DESCRIBE HISTORY lakeforge.pages")
    history = json.loads(out)
    assert [h["version"] for h in history] == [2, 1, 0]
    meta = json.loads(history[0]["userMetadata"])
    assert meta["job"] == "ingest" and meta["input_tables"] == {"lakeforge.pages": 1}
    ts = history[1]["timestamp"]
    code, out, _ = sql(capsys, lakehouse, "--format", "json", f"SELECT count(*) AS n FROM pages TIMESTAMP AS OF '{ts}'")
    assert json.loads(out) == [{"n": 15}]


def test_table_and_csv_formats(capsys, lakehouse):
    code, out, _ = sql(
        capsys, lakehouse, "SELECT host, count(*) AS n FROM pages GROUP BY host ORDER BY n DESC, host LIMIT 3"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("|")[0].strip() == "host" and lines[-1] == "(3 rows)"
    code, out, _ = sql(capsys, lakehouse, "--format", "csv", "SELECT reason FROM ingest_errors")
    assert out.strip() == "reason"  # no errors in these two files: header only


def test_writes_need_the_flag(capsys, own_lakehouse):
    lakehouse = own_lakehouse
    code, out, err = sql(capsys, lakehouse, "DELETE FROM pages")
    assert code == 2 and out == ""
    assert err == "lakeforge: error: refusing DELETE: lakeforge sql only reads unless --write is given\n"
    code, out, _ = sql(capsys, lakehouse, "--write", "DELETE FROM pages WHERE http_status <> 200")
    assert code == 0
    code, out, _ = sql(
        capsys, lakehouse, "--format", "json", "SELECT count(*) AS n FROM pages WHERE http_status <> 200"
    )
    assert json.loads(out) == [{"n": 0}]


def test_bad_sql_is_one_line(capsys, lakehouse):
    code, out, err = sql(capsys, lakehouse, "SELECT nope FROM pages")
    assert code == 2 and out == "" and err.startswith("lakeforge: error: [UNRESOLVED_COLUMN") and "nope" in err
    assert len(err.splitlines()) == 1


@pytest.fixture
def empty(spark, tmp_path):
    return ["--lakehouse", str(tmp_path / "lh"), "--master", "local[2]"]


def test_java_methods_are_refused_and_the_jvm_is_unharmed(capsys, empty):
    code, out, err = sql(capsys, empty, "SELECT reflect('java.lang.System', 'exit', 1)")
    assert code == 2 and out == ""
    assert err == "lakeforge: error: refusing reflect(): lakeforge sql only reads unless --write is given\n"
    # A name the guard cannot see does not resolve either: the read-only session has no such function. (Were it
    # called, System.exit would end this test run's JVM.)
    for hidden in ("IDENTIFIER('reflect')", "IDENTIFIER('java_' || 'method')", "IDENTIFIER('try_reflect')"):
        code, out, err = sql(capsys, empty, f"SELECT {hidden}('java.lang.System', 'exit', 1)")
        assert code == 2 and out == "" and len(err.splitlines()) == 1
        assert err.startswith("lakeforge: error: [UNRESOLVED_ROUTINE] Cannot resolve routine"), err
    code, out, _ = sql(capsys, empty, "--format", "json", "SELECT count(*) AS n FROM range(7)")
    assert code == 0 and json.loads(out) == [{"n": 7}]


def test_write_runs_what_read_only_refuses(capsys, empty):
    code, out, err = sql(capsys, empty, "CREATE TEMPORARY VIEW v AS SELECT 1 AS a")
    assert code == 2 and err.startswith("lakeforge: error: refusing CREATE:")
    code, out, err = sql(
        capsys, empty, "--write", "--format", "json", "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1 AS a; TABLE v"
    )
    assert code == 0 and json.loads(out) == [{"a": 1}], err


def test_tables_and_history_jobs(capsys, lakehouse):
    capsys.readouterr()
    assert run_main(tables_job.tables_main, ["--format", "json", *lakehouse]) == 0
    tables = {t["table"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(tables) == {"lakeforge.pages", "lakeforge.ingest_errors", "lakeforge.ingest_files"}
    assert tables["lakeforge.pages"]["rows"] == 31 and tables["lakeforge.pages"]["version"] == 2
    assert run_main(tables_job.history_main, ["pages", "--format", "json", *lakehouse]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [h["operation"] for h in hist] == ["WRITE", "WRITE", "CREATE TABLE"]
    assert hist[0]["run_id"].startswith("ingest-") and hist[0]["config_hash"]
