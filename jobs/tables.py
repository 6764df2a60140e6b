"""``lakeforge tables`` (every table, its version and rows) and ``lakeforge history TABLE``."""

from __future__ import annotations

import argparse
import json

from curation.sql import format_json, format_table
from jobs.common import JobError, Parser, add_session_args, open_lakehouse


def tables_parser() -> argparse.ArgumentParser:
    p = Parser(prog="lakeforge tables", description="List the lakehouse's tables with their latest version.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_session_args(p)
    return p


def history_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge history",
        description="A table's Delta versions with the run that made each (run id, config hash, code version).",
    )
    p.add_argument("table", help="table name, e.g. pages")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_session_args(p)
    return p


def tables_main(argv=None) -> int:
    args = tables_parser().parse_args(argv)
    spark, lake = open_lakehouse(args, "lakeforge-tables", quick_jit=True)
    rows = []
    for name in lake.table_folders():
        rows.append((lake.fq(name), lake.version(name), lake.spark.table(lake.fq(name)).count(), lake.path(name)))
    cols = ["table", "version", "rows", "location"]
    print(format_json(cols, rows) if args.format == "json" else format_table(cols, rows, None))
    return 0


def history_main(argv=None) -> int:
    args = history_parser().parse_args(argv)
    spark, lake = open_lakehouse(args, "lakeforge-history", quick_jit=True)
    if not lake.exists(args.table):
        raise JobError(f"no table {args.table!r} in {lake.root} (have: {', '.join(lake.table_folders()) or 'none'})")
    rows = []
    for r in lake.history(args.table, args.limit).collect():
        meta = {}
        if r["userMetadata"]:
            try:
                meta = json.loads(r["userMetadata"])
            except ValueError:
                meta = {"note": r["userMetadata"]}
        m = r["operationMetrics"] or {}
        changed = m.get("numTargetRowsInserted") or m.get("numOutputRows") or ""
        rows.append(
            (
                r["version"],
                r["timestamp"],
                r["operation"],
                changed,
                meta.get("run_id") or meta.get("job", ""),
                meta.get("config_hash", ""),
                meta.get("code_version", ""),
            )
        )
    cols = ["version", "timestamp", "operation", "rows_added", "run_id", "config_hash", "code_version"]
    print(format_json(cols, rows) if args.format == "json" else format_table(cols, rows, None))
    return 0
