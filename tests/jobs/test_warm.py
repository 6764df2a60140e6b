"""``lakeforge warm`` writes the driver JVM's class-data archive, and a new local session maps it: the JVM's own
class-loading log names the archive as the source of Spark's and Delta's classes (and, with the archive turned off,
of none)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from curation.config import SparkConfig
from curation.spark.session import jar_list_file

REPO = Path(__file__).resolve().parents[2]
FROM_ARCHIVE = "source: shared objects file (top)"  # a class mapped from the dynamic (AppCDS) archive


def _python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=600)


def _warm(cache: Path) -> dict:
    argv = [sys.executable, "-m", "jobs.cli", "warm", "--cache", str(cache), "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _classes_loaded(cache: Path, log: Path, archive: bool, object_store: bool) -> list[str]:
    """The class-loading log lines of a new session's driver JVM (one small query) with ``cache`` as its cache."""
    cfg = f"master='local[1]', jar_cache={str(cache)!r}, class_archive={archive}, object_store={object_store}"
    code = (
        "from curation.config import SparkConfig\nfrom curation.spark.session import build_session\n"
        "from jobs.common import prepare_environment\nprepare_environment()\n"
        f"spark = build_session(SparkConfig({cfg}))\nassert spark.range(3).count() == 3\n"
    )
    r = _python(code, {"SPARK_SUBMIT_OPTS": f"-Xlog:class+load=info:file={log}"})
    assert r.returncode == 0, r.stderr[-3000:]
    return log.read_text().splitlines()


def test_warm_writes_the_archive_once_and_new_sessions_map_it(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    remembered = jar_list_file(SparkConfig(master="local[2]"))  # Delta's resolved jars: no Ivy round again
    if remembered is not None and remembered.is_file():
        shutil.copy(remembered, jar_list_file(replace(SparkConfig(master="local[2]"), jar_cache=str(cache))))

    first = _warm(cache)
    assert first["written"] and first["bytes"] > 50 * 2**20 and Path(first["archive"]).parent == cache
    assert [p.name for p in cache.glob("*.tmp")] == []  # published whole, nothing left beside it
    again = _warm(cache)
    assert again == {**first, "written": False, "seconds": 0.0}  # kept, and no JVM started for it

    lines = _classes_loaded(cache, tmp_path / "mapped.log", archive=True, object_store=True)
    mapped = [line for line in lines if FROM_ARCHIVE in line]
    assert len(mapped) > 5000, f"{len(mapped)} of {len(lines)} classes from the archive"
    assert any(" org.apache.spark.sql.delta." in line for line in mapped)  # Delta's, from Spark's class loader
    assert any(" org.apache.spark.sql.SparkSession " in line for line in mapped)

    off = _classes_loaded(cache, tmp_path / "off.log", archive=False, object_store=False)
    assert len(off) > 5000 and not [line for line in off if FROM_ARCHIVE in line]
