"""A real Spark standalone cluster: master + worker on 127.0.0.1, the ingest sent with spark-submit through the one
launcher, jobs/submit.py (lakeforge is pip-installed in this venv: no path edits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.spark.session import IVY_SETTINGS, delta_package
from jobs import cluster

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster


@pytest.fixture
def standalone(tmp_path):
    state = tmp_path / "spark-state"
    url = cluster.start("127.0.0.1", 0, cores=2, memory="1g", state_dir=str(state))
    try:
        yield url
    finally:
        cluster.stop(str(state))


def test_spark_submit_ingest_on_standalone_cluster(standalone, shared_data, tmp_path, spark):
    lakehouse = tmp_path / "lh"
    env = dict(
        os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"
    )
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", standalone,
        "--packages", delta_package(),
        "--conf", f"spark.jars.ivySettings={IVY_SETTINGS}",
        "--conf", f"spark.pyspark.python={sys.executable}",
        "--executor-memory", "1g",
        str(REPO / "jobs" / "submit.py"),
        "ingest",
        "--input", str(shared_data / "warc" / "resiliparse"),
        "--lakehouse", str(lakehouse),
        "--format", "json",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])  # the report is the last line (spark-submit may print)
    assert report["totals"]["kept"] == 45 and report["totals"]["errored"] == 1 and len(report["files"]) == 3
    # The job really ran on the cluster: the application registered with the master.
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "spark-state" / "logs").glob("*Master*.out"))
    assert "Registered app lakeforge-ingest" in logs
    # Read what it wrote from this process's own session.
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    Lakehouse(spark, LakehouseConfig(root=str(lakehouse))).attach()
    assert spark.table("lakeforge.pages").count() == 45  # warcfile 16 + clueweb-quirk 29
    assert spark.table("lakeforge.ingest_errors").first()["reason"] == "truncated_gzip"
