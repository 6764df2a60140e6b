"""``lakeforge run pipeline.yaml``: the whole chain on real WARCs, skipped on a rerun, resumed after kills.

Lakehouse A runs pipeline_a in this process (the shared Spark session), then again: every stage is skipped and
no table but ``runs`` changes. Lakehouse B runs the same pipeline as a user does, in a new process that is killed
with SIGKILL once dedup's ``running`` row is committed (watched in the ``runs`` table from this process), then again
once training logged its first checkpoint, then once more: the second run re-runs dedup (the same key, not
skipped), the third resumes training, and B ends with the same documents, the same shard bytes, the same blend and
the same final loss as A.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from pipeline_fixture import write_pipeline

from bench._delta import live_rows
from jobs.cli import COMMANDS
from training.runlog import read_log

REPO = Path(__file__).resolve().parents[2]
LAKEFORGE = Path(sys.executable).parent / "lakeforge"


def _documents(spark, root: Path) -> list[tuple]:
    rows = (
        spark.read.format("delta")
        .load(str(root / "warehouse" / "lakeforge.db" / "documents"))
        .select("doc_id", "drop_reason", "dup_cluster_id", "dup_of", "toxicity_score", "toxicity_model")
        .collect()
    )
    return sorted(tuple(r) for r in rows)


def _runs(spark, root: Path) -> list[dict]:
    df = spark.read.format("delta").load(str(root / "warehouse" / "lakeforge.db" / "runs"))
    return [r.asDict() for r in df.orderBy("started_at", "stage_order").collect()]


def _final_loss(out_dir: str) -> tuple[int, float]:
    last = read_log(out_dir).last_step()
    return last["iteration"], last["loss"]


@pytest.mark.e2e
def test_every_stage_runs_once_and_pins_the_next(spark, pipeline_a):
    first = pipeline_a["first"]
    names = [s.stage for s in first.stages]
    assert names == [
        "curate", "import_text:wikitext", "dedup", "train_classifier:toxicity", "classify", "tokenize:web_en", "mix",
        "train",
    ]  # fmt: skip
    assert all(s.status == "succeeded" for s in first.stages), [(s.stage, s.status) for s in first.stages]
    rows = [r for r in _runs(spark, pipeline_a["tmp"] / "lakehouse") if r["pipeline_run_id"] == first.pipeline_run_id]
    by_status = {(r["stage"], r["status"]) for r in rows}
    assert all((n, "running") in by_status and (n, "succeeded") in by_status for n in names)
    done = {r["stage"]: r for r in rows if r["status"] == "succeeded"}
    # Each documents reader read the version the stages before it wrote, and says so.
    out = {n: json.loads(done[n]["outputs"]) for n in names}
    ins = {n: json.loads(done[n]["inputs"]) for n in names}
    assert ins["dedup"]["documents"] == max(out["curate"]["documents"], out["import_text:wikitext"]["documents"])
    assert ins["classify"]["documents"] == out["dedup"]["documents"]
    assert ins["tokenize:web_en"]["documents"] == out["classify"]["documents"]
    assert ins["train"]["mixture_id"] == out["mix"]["mixture_id"]
    assert all(len(ins["curate"]["warc"][i]["sha256"]) == 64 for i in range(len(ins["curate"]["warc"])))
    for r in done.values():
        assert r["config_hash"] and r["seconds"] > 0 and r["job_run_id"]
        # The recorded command is one its subcommand accepts.
        argv = shlex.split(r["command"])
        module, _, make_parser, _ = COMMANDS[argv[1]]
        assert argv[0] == "lakeforge" and getattr(import_module(module), make_parser)().parse_args(argv[2:])
    assert shlex.split(done["dedup"]["command"]) == [
        "lakeforge",
        "dedup",
        "--config",
        str(REPO / "conf" / "dedup.yaml"),
    ]
    counts = json.loads(done["curate"]["counts"])
    assert counts["records_in"] == counts["kept"] + counts["dropped"] + counts["skipped"] + counts["errored"] > 0
    # The blend pins the pipeline's documents version for its table component, and the shard set tokenize made.
    blend = json.loads(Path(out["mix"]["blend"]).read_text())
    comps = {c["name"]: c for c in blend["components"]}
    assert comps["wiki"]["source_version"] == out["classify"]["documents"]
    assert comps["web"]["shard_set_id"] == out["tokenize:web_en"]["shard_set_id"]
    # The checkpoint's lineage reaches the mixture and, through it, the WARC files.
    meta = json.loads((Path(out["train"]["checkpoint"]) / "lakeforge.json").read_text())
    assert meta["mixture_id"] == out["mix"]["mixture_id"]
    assert _final_loss(out["train"]["out_dir"])[0] == 6


@pytest.mark.e2e
def test_a_second_run_skips_everything_and_adds_nothing(spark, pipeline_a):
    second, first = pipeline_a["second"], pipeline_a["first"]
    assert [s.status for s in second.stages] == ["skipped"] * len(first.stages)
    assert {s.reused_run_id for s in second.stages} == {first.pipeline_run_id}
    before, after = dict(pipeline_a["after_first"]), dict(pipeline_a["after_second"])
    assert after.pop("runs") == before.pop("runs") + 1  # one commit: the second run's record
    assert after == before  # no other table got a version
    assert second.pinned == first.pinned
    ckpts = sorted((pipeline_a["tmp"] / "runs").rglob("iter_*"))
    assert [c.name for c in ckpts] == ["iter_0000003", "iter_0000006"]


@pytest.mark.e2e
def test_a_failing_stage_is_one_line_and_recorded(spark, pipeline_a):
    pipeline_a["lake"].attach()
    from dataclasses import replace

    from curation.pipeline import StageConfig
    from curation.spark.pipeline import Pipeline, StageFailed

    cfg = replace(
        __import__("curation.pipeline", fromlist=["parse"]).parse(
            yaml.safe_load(pipeline_a["path"].read_text()), "p.yaml"
        ),
        classify=StageConfig(set=("classifiers.nosuch.drop=above",)),
        tokenize=(),
        mixture=None,
        train=None,
    )
    with pytest.raises(StageFailed) as err:
        Pipeline(spark, pipeline_a["lake"], cfg, log=lambda m: None).run()
    assert err.value.stage == "classify" and "nosuch" in err.value.message and "\n" not in str(err.value)
    assert "rerun" in err.value.hint or "run the same" in err.value.hint
    rows = _runs(spark, pipeline_a["tmp"] / "lakehouse")
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and failed[-1]["stage"] == "classify" and "nosuch" in failed[-1]["error"]


def test_missing_input_is_one_line_before_spark_starts(tmp_path):
    (tmp_path / "p.yaml").write_text("name: x\ninputs: {warc: [nowhere/at/all.warc.gz]}\n")
    out = subprocess.run(
        [str(LAKEFORGE), "run", str(tmp_path / "p.yaml")], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "inputs.warc[0]" in lines[0] and "nowhere/at/all.warc.gz" in lines[0], out.stderr
    assert not (tmp_path / "lakehouse").exists()


def _run_until(args: list[str], cwd: Path, kill_when: Callable[[], bool] | None) -> tuple[int, str, str]:
    """``lakeforge run`` in a new process group, SIGKILLed as soon as ``kill_when()`` holds (polled every 0.2 s);
    returns (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    out, err = cwd / "run.out", cwd / "run.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen(
            [str(LAKEFORGE), "run", *args], cwd=cwd, stdout=o, stderr=e, start_new_session=True, env=env
        )
        deadline = time.monotonic() + 1200
        while proc.poll() is None:
            if kill_when is not None and kill_when():
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"lakeforge run still running after 1200 s: {err.read_text()[-3000:]}")
            time.sleep(0.2)
        rc = proc.wait(timeout=60)
    return rc, out.read_text(), err.read_text()


@pytest.mark.e2e
def test_killed_twice_then_resumed_gives_the_same_tables_and_checkpoint(spark, shared_data, pipeline_a, tmp_path):
    path = write_pipeline(tmp_path, shared_data)
    args = [str(path), "--master", "local[2]", "--no-report", "--format", "json"]
    b = tmp_path / "lakehouse"

    def dedup_running() -> bool:
        runs = b / "warehouse" / "lakeforge.db" / "runs"
        return runs.is_dir() and any(r["stage"] == "dedup" and r["status"] == "running" for r in live_rows(runs))

    def first_checkpoint() -> bool:
        logs = [read_log(d) for d in (tmp_path / "runs" / "t").glob("*") if d.is_dir()]
        return any(log is not None and 3 in log.checkpoint_iterations() for log in logs)

    rc, _, err = _run_until(args, tmp_path, dedup_running)
    assert rc == -signal.SIGKILL, err[-3000:]
    rc, _, err = _run_until(args, tmp_path, first_checkpoint)
    assert rc == -signal.SIGKILL, err[-3000:]
    rc, out, err = _run_until(args, tmp_path, None)
    assert rc == 0, err[-3000:]

    # The third run: every stage but training skipped; training resumed from its checkpoint.
    third = json.loads(out)  # --format json: stdout is the summary alone
    names = [s.stage for s in pipeline_a["first"].stages]
    assert [(s["stage"], s["status"], s["resumed"]) for s in third["stages"]] == [
        (n, "skipped", False) for n in names[:-1]
    ] + [("train", "succeeded", True)]
    assert read_log(third["pinned"]["out_dir"]).resumed == 1

    # The record: run 1 committed dedup's running row and no end; run 2 ran dedup again under the same key
    # (resumed, not skipped) and was killed in training; run 3 resumed training under the same key.
    rows_b = _runs(spark, b)
    run_ids = list(dict.fromkeys(r["pipeline_run_id"] for r in rows_b))
    assert len(run_ids) == 3 and run_ids[2] == third["pipeline_run_id"]

    def rows(run: int, stage: str) -> list[dict]:
        return [r for r in rows_b if r["pipeline_run_id"] == run_ids[run] and r["stage"] == stage]

    assert [r["status"] for r in rows(0, "dedup")] == ["running"]
    assert not rows(0, "train")
    assert sorted(r["status"] for r in rows(1, "dedup")) == ["running", "succeeded"]
    assert {r["stage_key"] for r in rows(1, "dedup")} == {rows(0, "dedup")[0]["stage_key"]}
    assert [r["status"] for r in rows(1, "train")] == ["running"]
    assert sorted(r["status"] for r in rows(2, "train")) == ["running", "succeeded"]
    assert {r["stage_key"] for r in rows(2, "train")} == {rows(1, "train")[0]["stage_key"]}

    # The same tables, shards, lineage and final loss as lakehouse A, which was never interrupted.
    a = pipeline_a["tmp"] / "lakehouse"
    assert _documents(spark, b) == _documents(spark, a)
    out_a = {s.stage: s.outputs for s in pipeline_a["first"].stages}
    done_b = {r["stage"]: json.loads(r["outputs"]) for r in rows_b if r["status"] == "succeeded"}
    assert done_b["tokenize:web_en"]["content_hash"] == out_a["tokenize:web_en"]["content_hash"]
    # The same lineage: components, weights, shard bytes, and the WARC files and documents behind each. (The
    # mixture id may differ: it names documents by version number, and a killed stage can leave a commit more.)
    assert _lineage(spark, a, out_a["mix"]["mixture_id"]) == _lineage(spark, b, done_b["mix"]["mixture_id"])
    assert _final_loss(done_b["train"]["out_dir"]) == _final_loss(out_a["train"]["out_dir"])


def _lineage(spark, root: Path, mixture_id: str) -> list[dict]:
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse
    from curation.spark.lineage import lineage

    lake = Lakehouse(spark, LakehouseConfig(root=str(root))).attach()
    doc = lineage(spark, lake, mixture_id)
    return [
        {
            "name": c["name"],
            "weight": c["weight"],
            "content_hash": c["shard_set"]["content_hash"],
            "tokens": c["shard_set"]["tokens"],
            "files": c["files"],
        }
        for c in doc["components"]
    ]
