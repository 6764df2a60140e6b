"""``lakeforge run pipeline.yaml``: the whole chain, WARC files → curated tables → shards → blend → checkpoint.

Arguments → PipelineConfig (``curation.pipeline``) → ``curation.spark.pipeline.Pipeline`` → the tables and the
``runs`` record, then the report. Every stage whose output for the same inputs and settings exists is skipped; a
killed run is resumed by running the same command again.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from jobs.common import JobError, add_session_args, is_tty, open_lakehouse, run_main
from jobs.ingest import _log


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakeforge run",
        description="Run a pipeline.yaml end to end: curate → import text → dedup → train classifiers → classify → "
        "tokenize → mix → train. A stage whose output for the same inputs and settings already exists is skipped "
        "(content hashes and pinned table versions); a killed run resumes where it stopped. Every stage is "
        "recorded in the `runs` table; a report is written at the end.",
    )
    p.add_argument("pipeline", metavar="PIPELINE_YAML", help="the pipeline (see conf/pipeline.yaml)")
    p.add_argument("--report", default=None, metavar="DIR", help="write the report here (default: the yaml's)")
    p.add_argument("--no-report", action="store_true", help="do not write the report")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a pipeline.yaml key, value as YAML; repeatable (e.g. --set inputs.warc=[my.warc.gz])",
    )
    p.add_argument("--stop-after", default=None, metavar="STAGE", help="stop after this stage (e.g. dedup)")
    add_session_args(p)
    return p


def load_pipeline(path: str, assignments: list[str] = ()):
    from curation.config import read_settings, set_path
    from curation.pipeline import PipelineError, missing_files, parse

    try:
        data = read_settings(path)
        for a in assignments:
            set_path(data, a)
        cfg = parse(data, path)
    except PipelineError as e:
        raise JobError(str(e)) from None
    missing = missing_files(cfg)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise JobError(f"{missing[0]}{more}: fix the path in {path} (paths are relative to where you run lakeforge)")
    return cfg


def launch_train(argv: list[str]) -> int:
    """``lakeforge train`` with these arguments, in a child process group (torchrun); returns its exit status."""
    from jobs import train

    cmd = train.command(train.parser().parse_args(argv))
    _log("train: " + " ".join(cmd))
    return subprocess.call(cmd)


class Progress:
    """While a stage runs: Spark's active stage and task counts (and curate's file counts), rewritten in place on
    a terminal, or a plain log line every ``every`` seconds when stderr is not one (CI, a file)."""

    def __init__(self, spark, every: float = 15.0):
        self.spark = spark
        self.tty = is_tty()
        self.every = every
        self.files = ""

    def files_done(self, done: int, total: int, records: int) -> None:
        self.files = f"files {done}/{total} · records {records:,}"

    @contextmanager
    def watch(self, stage: str):
        if stage.startswith("train:") or stage == "train":
            yield  # the training process prints its own steps
            return
        stop = threading.Event()
        t0 = time.perf_counter()
        self.files = ""

        def loop() -> None:
            last = 0.0
            while not stop.wait(0.5):
                el = time.perf_counter() - t0
                line = f"{stage} · {el:.0f}s" + (f" · {self.files}" if self.files else "") + self._spark_line()
                if self.tty:
                    print(f"\r[lakeforge]   {line}\033[K", end="", file=sys.stderr, flush=True)
                elif el - last >= self.every:
                    last = el
                    _log(f"  {line}")

        thread = threading.Thread(target=loop, name="lakeforge-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            if self.tty:
                print("\r\033[K", end="", file=sys.stderr, flush=True)

    def _spark_line(self) -> str:
        try:
            tracker = self.spark.sparkContext.statusTracker()
            parts = []
            for sid in tracker.getActiveStageIds()[:3]:
                info = tracker.getStageInfo(sid)
                if info is not None:
                    parts.append(f"Spark stage {sid}: {info.numCompletedTasks}/{info.numTasks} tasks")
            return (" · " + ", ".join(parts)) if parts else ""
        except Exception:  # noqa: BLE001 — progress must never break the run (e.g. the context is stopping)
            return ""


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = load_pipeline(args.pipeline, args.set)
    names = [n for n, _ in cfg.stages()]
    if args.stop_after and args.stop_after not in names:
        raise JobError(f"--stop-after {args.stop_after}: no such stage; stages: {', '.join(names)}")
    if args.stop_after:
        from dataclasses import replace

        cfg = _truncate(cfg, names.index(args.stop_after), replace)

    from curation.spark.pipeline import Pipeline, StageFailed

    t0 = time.perf_counter()
    spark, lake = open_lakehouse(args, f"lakeforge-run-{cfg.name}")
    _log(f"Spark ready in {time.perf_counter() - t0:.1f}s")
    progress = Progress(spark)
    pipe = Pipeline(
        spark, lake, cfg, launch_train=launch_train, log=_log, progress=progress.files_done, stage_watch=progress.watch
    )
    try:
        report = pipe.run()
    except StageFailed as e:
        print(f"lakeforge: error: {e} — {e.hint}", file=sys.stderr)
        return 1
    out, status = None, 0
    if not args.no_report and (args.report or cfg.report):
        try:
            out = _write_report(spark, lake, report, args.report or cfg.report)
        except Exception as e:  # noqa: BLE001 — the tables are written; say so and how to get the report
            print(
                f"lakeforge: error: the report failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                f" — every stage finished; write it with lakeforge report --run {report.pipeline_run_id}",
                file=sys.stderr,
            )
            status = 1
    print(summary(report, out, args.lakehouse))
    return status


def _truncate(cfg, last: int, replace):
    """``cfg`` with the stages after index ``last`` left out (for --stop-after)."""
    keep = {n for n, _ in cfg.stages()[: last + 1]}
    return replace(
        cfg,
        dedup=cfg.dedup if "dedup" in keep else None,
        classifiers=tuple(c for c in cfg.classifiers if f"train_classifier:{Path(c).stem}" in keep),
        classify=cfg.classify if "classify" in keep else None,
        tokenize=tuple(t for t in cfg.tokenize if f"tokenize:{t.name}" in keep),
        mixture=cfg.mixture if "mix" in keep else None,
        train=cfg.train if "train" in keep else None,
        text=tuple(t for t in cfg.text if f"import_text:{t.name}" in keep),
        warc=cfg.warc if "curate" in keep else (),
    )


def _write_report(spark, lake, report, where: str) -> Path:
    from curation.report import write_report
    from curation.spark.report import collect

    folder = Path(where.format(name=report.name, run=report.pipeline_run_id))
    t0 = time.perf_counter()
    data = collect(spark, lake, pipeline_run_id=report.pipeline_run_id, title=f"lakeforge · pipeline {report.name}")
    path = write_report(data, folder)
    _log(f"report written in {time.perf_counter() - t0:.1f}s: {path}")
    return path


def summary(report, report_path, lakehouse: str = "lakehouse") -> str:
    at = "" if lakehouse == "lakehouse" else f" --lakehouse {lakehouse}"
    from curation.spark.pipeline import brief

    lines = ["", f"pipeline {report.name}: run {report.pipeline_run_id} in {report.seconds:.1f}s"]
    reused = sorted({s.reused_run_id for s in report.stages if s.reused_run_id})
    if reused:
        lines.append(f"  skipped stages reuse the outputs of {', '.join(reused)}")
    for s in report.stages:
        state = s.status
        lines.append(f"  {s.stage:<26} {state:<10} {s.seconds:>7.1f}s  {brief(s.counts)}".rstrip())
    pinned = report.pinned
    if pinned.get("documents") is not None:
        lines.append(f"  documents   v{pinned['documents']}")
    for name, sid in pinned.get("shard_sets", {}).items():
        lines.append(f"  shard set   {name}/{sid}")
    if pinned.get("blend"):
        lines.append(f"  blend       {pinned['blend']}")
    if pinned.get("checkpoint"):
        lines.append(f"  checkpoint  {pinned['checkpoint']}")
        lines.append(f"  lineage     lakeforge lineage {Path(pinned['checkpoint']).parent} --files 3{at}")
    if report_path:
        lines.append(f"  report      {report_path}")
    lines.append(
        f'  record      lakeforge sql{at} "SELECT stage, status, seconds, outputs FROM runs WHERE pipeline_run_id = '
        f"'{report.pipeline_run_id}' ORDER BY stage_order\""
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
