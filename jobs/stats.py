"""``lakeforge stats``: the funnel of a curate / extract / filter run from the ``stats`` table."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from curation.funnel import totals, unreconciled
from jobs.common import JobError, Parser, add_session_args, open_lakehouse
from jobs.render import format_funnel, format_runs


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge stats",
        description="Print the funnel of a run: records in, per stage the documents it saw, what it dropped by "
        "reason and how fast it went, and what was kept. Default: the latest run.",
    )
    p.add_argument("--run", default=None, metavar="RUN_ID", help="run id (default: the latest run in stats)")
    p.add_argument("--all", action="store_true", help="list every run with its totals instead")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    spark, lake = open_lakehouse(args, "lakeforge-stats", quick_jit=True)
    if not lake.exists("stats"):
        raise JobError(f"no stats table in {lake.root}: run `lakeforge curate` first")
    stats = spark.table(lake.fq("stats"))
    if args.all:
        by_run: dict[str, list[dict]] = defaultdict(list)
        for r in stats.collect():  # one scan: the table holds a few dozen rows per run
            by_run[r["run_id"]].append(r.asDict())
        runs = [
            {"run_id": run_id, "job": rows[0]["job"], "created_at": str(max(x["created_at"] for x in rows))}
            | totals(rows)
            for run_id, rows in by_run.items()
        ]
        runs.sort(key=lambda r: r["created_at"])
        print(json.dumps(runs, indent=1) if args.format == "json" else format_runs(runs))
        return 0
    run_id = args.run
    if run_id is None:
        latest = stats.orderBy(stats.created_at.desc()).select("run_id").first()
        if latest is None:
            raise JobError("the stats table is empty")
        run_id = latest["run_id"]
    rows = [r.asDict() for r in stats.where(stats.run_id == run_id).collect()]
    if not rows:
        raise JobError(f"no run {run_id!r} in {lake.fq('stats')}")
    if args.format == "json":
        print(json.dumps({"run_id": run_id, "totals": totals(rows), "funnel": rows}, default=str, indent=1))
    else:
        print(format_funnel(rows))
    return 0 if unreconciled(rows) is None else 3
