"""A lakehouse in object storage, end to end: a real ``lakeforge run`` of the shared test pipeline (curate, import,
dedup, train-classifier, classify, tokenize, mix) with its lakehouse on the test S3 server (moto, credentials and
permissions checked) gives the same ``documents`` rows, the same funnel, the same shard bytes and the same blend as
the same pipeline on a local lakehouse (``pipeline_a``, the run the pipeline and report tests share); ``sql``,
``tables`` and ``history`` read it; bad settings fail in one line with exit 2 and nothing written; a second
concurrent writer is refused.

The pipeline stops after mix: training from a blend in object storage (shards staged into a checked local cache) is
tests/training/test_train_from_object_storage.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from s3_server import free_port, settings_for

from curation.storage import S3Store, join

pytestmark = pytest.mark.objectstore

REPO = Path(__file__).resolve().parents[2]
# Columns that name a run or a time: they differ between any two runs.
VOLATILE = (
    *("run_id", "verdict_run_id", "dedup_run_id", "created_at"),
    *("extraction_seconds", "seconds", "docs_per_s", "train_seconds"),
)


def lakeforge(*argv: str, env: dict | None = None, timeout: float = 900, cwd=None) -> subprocess.CompletedProcess:
    """The installed command in a new process (this checkout's code)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    for k in [k for k, v in full_env.items() if v is None]:
        del full_env[k]
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def s3_env(server: dict, user: str = "writer") -> dict:
    """How a user points lakeforge at the server: the standard AWS environment variables."""
    key, secret = server["keys"][user]
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": server["endpoint"]}


def s3_conf(server: dict, user: str = "writer") -> list[str]:
    """The same, as Hadoop's S3A settings on the command line."""
    out = []
    for k, v in settings_for(server, user).hadoop().items():
        out += ["--conf", f"{k}={v}"]
    return out


def no_aws_env() -> dict:
    return {k: None for k in os.environ if k.startswith("AWS_")}


def objects(server: dict, uri: str) -> dict[str, str]:
    """Every object under ``uri`` with its ETag: what a failed command must leave unchanged."""
    store = S3Store(settings_for(server))
    bucket, key = uri.removeprefix("s3a://").split("/", 1)
    out = {}
    for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


@pytest.fixture(scope="session")
def runs(s3_server, pipeline_a):
    """The shared pipeline (``pipeline_a``: its lakehouse is the local reference, the same inputs and settings) run
    again up to mix as a user runs it, in a new process, with its lakehouse on the S3 server: roots and reports."""
    bucket = f"lake-{os.getpid()}-{int(time.time())}"
    S3Store(settings_for(s3_server)).client.create_bucket(Bucket=bucket)
    remote = f"s3://{bucket}/lake"  # s3:// is read as s3a://
    t0 = time.perf_counter()
    r = lakeforge("run", str(pipeline_a["path"]), "--lakehouse", remote, "--stop-after", "mix", "--format", "json",
                  env=s3_env(s3_server))  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"\npipeline to mix, s3a: {time.perf_counter() - t0:.1f} s")
    local = pipeline_a["first"].to_json()
    local["stages"] = [s for s in local["stages"] if s["stage"] != "train"]  # the S3 run stops after mix
    return {
        "remote": f"s3a://{bucket}/lake",
        "remote_report": json.loads(r.stdout),
        "local": str(pipeline_a["tmp"] / "lakehouse"),
        "local_report": local,
        "bucket": bucket,
    }


def _rows(spark, path: str) -> list[dict]:
    df = spark.read.format("delta").load(path)
    keep = [c for c in df.columns if c not in VOLATILE]
    key = "doc_id" if "doc_id" in keep else keep
    return [r.asDict(recursive=True) for r in df.select(*keep).orderBy(key if isinstance(key, str) else keep).collect()]


@pytest.fixture
def s3_spark(spark, s3_server):
    """The shared session, able to read the test server's buckets (the tests read the tables directly)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    for k, v in settings_for(s3_server).hadoop().items():
        hadoop.set(k.removeprefix("spark.hadoop."), v)
    return spark


def test_the_same_documents_and_funnel_as_a_local_lakehouse(s3_spark, s3_server, runs):
    spark = s3_spark
    for table in ("documents", "stats", "models"):
        local = _rows(spark, f"{runs['local']}/warehouse/lakeforge.db/{table}")
        remote = _rows(spark, f"{runs['remote']}/warehouse/lakeforge.db/{table}")
        if table == "models":  # the model file lives in each lakehouse: same bytes, another place
            assert [r["path"].startswith(runs["remote"] + "/models/") for r in remote] == [True]
            for r in local + remote:
                del r["path"]
        assert len(local) > 0 and local == remote, table
    docs = spark.read.format("delta").load(f"{runs['remote']}/warehouse/lakeforge.db/documents")
    assert docs.where("toxicity_score IS NOT NULL").count() > 0  # the classifier ran on the executors from S3
    # the files beside the tables went to the bucket: the model (and its card) and the pipeline's input hashes
    keys = objects(s3_server, runs["remote"])
    assert any(k.endswith(".bin") and "/models/toxicity/" in k for k in keys)
    assert "lake/_pipeline/file-hashes.json" in keys
    assert "lake/_lakeforge/writer.lease" not in keys  # released when the run ended

    # the pipeline's own report: the same stages, table versions and counts
    def stages(rep: dict, root: str) -> list:
        """Each stage's status, outputs and counts; a location under the lakehouse as ``<lake>/…``. A blend names
        its shards' locations, so its id differs by place: the blend itself is compared in the shard test."""

        def place(v):
            return v.replace(root, "<lake>") if isinstance(v, str) else v

        skip = ("mixture_id", "blend")
        out = []
        for s in rep["stages"]:
            outputs = {k: place(v) for k, v in s["outputs"].items() if k not in skip}
            out.append((s["stage"], s["status"], outputs, s["counts"]))
        return out

    assert len(stages(runs["local_report"], runs["local"])) == 7
    assert stages(runs["remote_report"], runs["remote"]) == stages(runs["local_report"], runs["local"])


def test_the_same_shard_bytes_and_blend_as_a_local_lakehouse(s3_spark, s3_server, runs):
    """Executors wrote the shards into the bucket: every object's sha256 is the one its row records and the local
    run's; the blend pins the same shard sets, weights and token counts (only the shard locations differ)."""
    spark = s3_spark
    from curation.storage import open_store, sha256_file

    def shard_sets(root: str) -> list[dict]:
        rows = spark.read.format("delta").load(f"{root}/warehouse/lakeforge.db/token_shards").collect()
        return sorted((r.asDict(recursive=True) for r in rows), key=lambda r: r["name"])

    local, remote = shard_sets(runs["local"]), shard_sets(runs["remote"])
    assert "web_en" in [r["name"] for r in remote] and [r["name"] for r in remote] == [r["name"] for r in local]
    same = ("shard_set_id", "content_hash", "bin_sha256", "idx_sha256", "bin_bytes", "idx_bytes", "tokens", "documents")
    assert [{k: r[k] for k in same} for r in remote] == [{k: r[k] for k in same} for r in local]
    store = open_store(runs["remote"], settings_for(s3_server))
    for r_remote, r_local in zip(remote, local, strict=True):
        assert r_remote["path"].startswith(runs["remote"] + "/tokens/") and not r_local["path"].startswith("s3a://")
        for i, prefix in enumerate(r_remote["prefixes"]):
            for ext, hashes in ((".bin", r_remote["bin_sha256"]), (".idx", r_remote["idx_sha256"])):
                data = store.read_bytes(prefix + ext)
                assert hashlib.sha256(data).hexdigest() == hashes[i]
                assert sha256_file(r_local["prefixes"][i] + ext) == hashes[i]

    def mixtures(root: str) -> list[dict]:
        rows = spark.read.format("delta").load(f"{root}/warehouse/lakeforge.db/mixtures").collect()
        keep = ("name", "components", "weights", "shard_set_ids", "component_tokens", "epochs", "seq_length", "split")
        return [{k: r[k] for k in keep} for r in rows]

    assert mixtures(runs["remote"]) == mixtures(runs["local"]) and len(mixtures(runs["local"])) == 1
    blend_uri = spark.read.format("delta").load(f"{runs['remote']}/warehouse/lakeforge.db/mixtures").first()["path"]
    assert blend_uri.startswith(runs["remote"] + "/mixtures/")
    blend = json.loads(store.read_bytes(blend_uri))
    assert all(f["path"].startswith("s3a://") for c in blend["components"] for f in c.get("files", []))


def test_run_trains_from_the_bucket_with_the_settings_it_was_given(s3_server, runs, pipeline_a, tmp_path):
    """``lakeforge run`` to the end with the S3 settings on its command line only (no AWS_* variable): the stages
    before training find their outputs in the bucket and are skipped; training stages the blend's shards from the
    bucket with the run's own settings into the local cache, checks them, trains, and its checkpoint names the
    bucket's mixture."""
    r = lakeforge("run", str(pipeline_a["path"]), "--lakehouse", runs["remote"], *s3_conf(s3_server),
                  "--format", "json", env=no_aws_env(), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    statuses = [(s["stage"], s["status"]) for s in report["stages"]]
    assert statuses[0] == ("curate", "skipped") and statuses[-1] == ("train", "succeeded"), statuses
    mixture_id = next(s for s in runs["remote_report"]["stages"] if s["stage"] == "mix")["outputs"]["mixture_id"]
    metas = sorted((tmp_path / report["pinned"]["out_dir"]).rglob("lakeforge.json"))
    assert metas and json.loads(metas[-1].read_text())["mixture_id"] == mixture_id


def test_sql_tables_and_history_read_it(s3_spark, s3_server, runs, capsys):
    from jobs import cli

    conf = s3_conf(s3_server, "reader")  # readers need no write permission and take no lease
    root = runs["remote"]
    r = lakeforge("sql", "--lakehouse", root, *conf, "--format", "json", "SELECT count(*) AS n FROM documents",
                  env=no_aws_env())  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    n = json.loads(r.stdout)[0]["n"]
    r = lakeforge("tables", "--lakehouse", root, *conf, "--format", "json", env=no_aws_env())
    assert r.returncode == 0, r.stderr[-2000:]
    tables = {t["table"]: t for t in json.loads(r.stdout)}
    assert tables["lakeforge.documents"]["rows"] == n and tables["lakeforge.documents"]["location"].startswith(root)
    assert {"lakeforge.models", "lakeforge.stats", "lakeforge.runs"} <= set(tables)
    # history in this process (the shared session has the writer's S3A settings): a third JVM start adds nothing
    capsys.readouterr()
    assert cli.main(["history", "documents", "--lakehouse", root, *conf, "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert len(history) == tables["lakeforge.documents"]["version"] + 1


def _one_line_failure(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [line for line in r.stderr.splitlines() if line.startswith("lakeforge: error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_bad_settings_fail_in_one_line_with_nothing_written(s3_server, runs):
    root, before = runs["remote"], objects(s3_server, runs["remote"])
    dedup = ["dedup", "--lakehouse", root, "--config", str(REPO / "conf" / "dedup.yaml")]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**s3_env(s3_server), "AWS_ENDPOINT_URL": dead}
    _one_line_failure(lakeforge(*dedup, env=env), "cannot reach", dead)
    env = {**s3_env(s3_server), "AWS_SECRET_ACCESS_KEY": "wrong"}
    _one_line_failure(lakeforge(*dedup, env=env), "refused the credentials", runs["bucket"])
    missing = ["dedup", "--lakehouse", "s3a://no-such-bucket-here/lake"]
    _one_line_failure(lakeforge(*missing, env=s3_env(s3_server)), "bucket does not exist", "no-such-bucket-here")
    # the reader may read, not write: the lease is its first write, refused before Spark starts
    _one_line_failure(lakeforge(*dedup, env=s3_env(s3_server, "reader")), "permission denied", "writer.lease")
    assert objects(s3_server, root) == before


def test_a_second_concurrent_writer_is_refused(s3_server, runs):
    """Two real processes: the first dedup holds the lease while it runs; the second is refused, naming it; the first
    finishes and releases it. A stale lease (a killed job) is cleared with ``lakeforge unlock``."""
    root = runs["remote"]
    lease = join(root, "_lakeforge", "writer.lease")
    store = S3Store(settings_for(s3_server))
    argv = [sys.executable, "-m", "jobs.cli", "dedup", "--lakehouse", root, "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(REPO), **s3_env(s3_server)}
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not store.exists(lease):
            assert first.poll() is None and time.monotonic() < deadline, "the first writer took no lease"
            time.sleep(0.1)
        holder = json.loads(store.read_bytes(lease))
        assert holder["pid"] == first.pid and holder["job"] == "dedup"
        second = lakeforge("dedup", "--lakehouse", root, env=s3_env(s3_server))
        line = _one_line_failure(second, "held by another writer", holder["run_id"], "lakeforge unlock")
        assert f"pid {first.pid}" in line
        assert first.poll() is None  # refused while the first one was still writing
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err[-2000:]
    assert json.loads(out)["run_id"] == holder["run_id"] and not store.exists(lease)

    # a killed job's lease: refused until cleared
    stale = {"run_id": "dedup-gone", "job": "dedup", "host": "elsewhere", "pid": 1}
    store.write_bytes(lease, json.dumps(stale).encode())
    _one_line_failure(lakeforge("dedup", "--lakehouse", root, env=s3_env(s3_server)), "dedup-gone")
    r = lakeforge("unlock", "--lakehouse", root, *s3_conf(s3_server), env=no_aws_env())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"lease": lease, "holder": stale, "cleared": True}
    assert not store.exists(lease)
