"""``lakeforge run pipeline.yaml``: the whole chain, WARC files → curated tables → shards → blend → checkpoint.

Arguments → PipelineConfig (``curation.pipeline``) → ``curation.spark.pipeline.Pipeline`` → the tables and the
``runs`` record, then the report. Every stage whose output for the same inputs and settings exists is skipped; a
killed run is resumed by running the same command again.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from curation.pipeline import PipelineError, stop_after
from jobs.common import JobError, Parser, add_session_args, open_lakehouse
from jobs.common import log as _log
from jobs.render import Progress, render_json, render_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
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
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="summary format on stdout (json: one object; progress and training's own output go to stderr)",
    )
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


def launch_train(argv: list[str], stdout=None, s3=None) -> int:
    """``lakeforge train`` with these arguments, in a child process group (torchrun); returns its exit status.
    ``stdout``: where the child's stdout goes (default: ours); ``s3``: the run's object-store settings (its
    session's, however they were given), for the blend and shards in an s3a:// lakehouse."""
    from jobs import train

    args = train.parser().parse_args(argv)
    blend, _ = train.stage(args, s3)  # a blend in object storage is staged to a local cache first
    cmd = train.command(args, blend)
    _log("train: " + " ".join(cmd))
    return subprocess.call(cmd, stdout=stdout)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = load_pipeline(args.pipeline, args.set)
    if args.stop_after:
        try:
            cfg = stop_after(cfg, args.stop_after)
        except PipelineError as e:
            raise JobError(f"--stop-after {e}") from None

    from curation.spark.pipeline import Pipeline, StageFailed

    t0 = time.perf_counter()
    from curation.provenance import new_run_id

    run_id = new_run_id("pipeline")  # object storage: the run holds the writer lease (curation.lease)
    spark, lake = open_lakehouse(args, f"lakeforge-run-{cfg.name}", writer=("run", run_id))
    _log(f"Spark ready in {time.perf_counter() - t0:.1f}s")
    progress = Progress(spark)
    # With --format json, stdout is the summary alone: training's step lines go to stderr with the rest.
    s3 = lake.s3_settings if lake.remote else None  # training stages the blend with the settings this run has
    launch = partial(launch_train, stdout=sys.stderr if args.format == "json" else None, s3=s3)
    pipe = Pipeline(
        spark, lake, cfg, launch_train=launch, log=_log, progress=progress.files_done, stage_watch=progress.watch
    )
    pipe.run_id = run_id  # the id the writer lease names
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
    print(render_json(report, out) if args.format == "json" else render_summary(report, out, args.lakehouse))
    return status


def _write_report(spark, lake, report, where: str) -> Path:
    from curation.report import write_report
    from curation.spark.report import collect

    folder = Path(where.format(name=report.name, run=report.pipeline_run_id))
    t0 = time.perf_counter()
    data = collect(spark, lake, pipeline_run_id=report.pipeline_run_id, title=f"lakeforge · pipeline {report.name}")
    path = write_report(data, folder)
    _log(f"report written in {time.perf_counter() - t0:.1f}s: {path}")
    return path
