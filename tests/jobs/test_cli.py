"""The installed ``lakeforge`` command, as a user runs it: separate processes, a fresh lakehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LAKEFORGE = BIN / "lakeforge"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAKEFORGE), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_help_everywhere(tmp_path):
    out = run("--help", cwd=tmp_path)
    assert out.returncode == 0 and "ingest" in out.stdout and "sql" in out.stdout
    for sub in (
        "run",
        "report",
        "ingest",
        "curate",
        "extract",
        "filter",
        "stats",
        "sql",
        "tables",
        "history",
        "cluster",
        "info",
    ):
        res = run(sub, "--help", cwd=tmp_path)
        assert res.returncode == 0 and res.stdout.startswith("usage: lakeforge"), sub
    bad = run("nope", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown subcommand" in bad.stderr


def test_delta_package_is_derived_from_the_pins(tmp_path):
    out = run("info", "--delta-package", cwd=tmp_path)
    assert out.stdout.strip() == "io.delta:delta-spark_4.2_2.13:4.4.0"


def test_ingest_in_a_new_process(tmp_path, shared_data, spark):
    warc = shared_data / "warc"
    ingest = run(
        "ingest", "--input", str(warc / "whirlwind"), "--input", str(warc / "resiliparse"), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr[-2000:]  # 3 when the counts do not reconcile
    t = json.loads(ingest.stdout)["totals"]  # stdout is pure JSON
    assert t["kept"] == 46 and t["records_in"] == t["kept"] + t["skipped"] + t["errored"] and t["errored"] == 1
    assert (tmp_path / "lakehouse" / "warehouse" / "lakeforge.db" / "pages" / "_delta_log").is_dir()
    # Another session finds the table by name: the lakehouse folder is the catalog. (`lakeforge sql` in a new
    # process, with pure JSON on stdout, is tested in test_curate_cli.)
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lakehouse"))).attach()
    assert spark.table("lakeforge.pages").count() == 46


def test_bad_config_is_a_one_line_error(tmp_path):
    cfg = tmp_path / "ingest.yaml"
    cfg.write_text("max_payload_byte: 10\n")
    out = run("ingest", "--config", str(cfg), "--input", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    assert (
        out.stderr.strip().splitlines() == [out.stderr.strip().splitlines()[0]]
        and "unknown setting(s) max_payload_byte" in out.stderr
    )


@pytest.mark.parametrize("arg", ["--input=/definitely/not/here/*.warc.gz"])
def test_input_mistakes_fail_before_spark_starts(tmp_path, arg):
    out = run("ingest", arg, cwd=tmp_path)
    assert out.returncode == 2 and "matches no file" in out.stderr
    assert not (tmp_path / "lakehouse").exists()
