"""``lakeforge report``: one self-contained HTML page (and PNG figures) about a lakehouse and a pipeline run.

Arguments → curation.spark.report.collect (aggregations on Spark, table versions fixed at the start) →
curation.report.write_report (figures, ``index.html``). Prints the path of ``index.html`` last.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from jobs.common import JobError, Parser, add_session_args, log, open_lakehouse


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge report",
        description="Write a self-contained HTML report (index.html, figures embedded, opens offline) with PNG "
        "figures: the curation funnel, languages, quality signals with their thresholds, classifier scores, "
        "duplicate clusters, token shares of the mixture, training curves, and the table versions behind them.",
    )
    p.add_argument(
        "--run",
        default=None,
        metavar="PIPELINE_RUN_ID",
        help="a `lakeforge run` pipeline run in the runs table (default: its latest, when there is one)",
    )
    p.add_argument(
        "--train-dir",
        default=None,
        metavar="DIR",
        help="a training out_dir with log.jsonl (default: the pipeline run's train stage, if any)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: reports/<pipeline run id, or the UTC time>)",
    )
    p.add_argument("--title", default=None, help="page title (default: lakeforge report)")
    p.add_argument("--clusters", type=int, default=10, help="largest duplicate clusters listed (default 10)")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.train_dir is not None and not Path(args.train_dir).is_dir():
        raise JobError(f"--train-dir {args.train_dir}: no such folder")
    if args.clusters < 1:
        raise JobError("--clusters must be at least 1")
    from curation.report import SECTIONS, write_report
    from curation.spark.report import collect

    t0 = time.perf_counter()
    spark, lake = open_lakehouse(args, "lakeforge-report", quick_jit=True)
    log(f"collecting from {lake.root}")
    data = collect(
        spark, lake, pipeline_run_id=args.run, train_dir=args.train_dir, title=args.title, max_clusters=args.clusters
    )
    name = (data.lineage.pipeline_run_id if data.lineage else None) or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("reports") / name
    index = write_report(data, out)
    absent = [s for s in SECTIONS if not getattr(data, s)]
    log(
        f"report written in {time.perf_counter() - t0:.1f}s"
        + (f"; not available: {', '.join(absent)} (the page says why)" if absent else "")
    )
    print(index.resolve())
    return 0
