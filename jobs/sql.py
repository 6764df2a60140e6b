"""``lakeforge sql``: SQL against the lakehouse catalog, read-only unless ``--write``.

Time travel: ``SELECT … FROM pages VERSION AS OF 3`` / ``TIMESTAMP AS OF '2026-11-22 10:00'``;
history: ``DESCRIBE HISTORY pages``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curation.sql import format_csv, format_json, format_table, statements, write_reason  # noqa: E402
from jobs.common import JobError, add_session_args, open_lakehouse, run_main  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakeforge sql",
        description="Run SQL against the lakehouse (tables by name, e.g. pages or lakeforge.pages). "
        'Examples: "SELECT count(*) AS n FROM pages"; "DESCRIBE HISTORY pages"; '
        '"SELECT count(*) FROM pages VERSION AS OF 1".',
    )
    p.add_argument("query", nargs="?", help="SQL text; '-' or omitted reads it from stdin")
    p.add_argument("--file", "-f", default=None, help="read the SQL from this file")
    p.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (aligned, default), json (an array of row objects) or csv",
    )
    p.add_argument("--limit", type=int, default=1000, help="print at most this many rows (default 1000; 0 = all)")
    p.add_argument("--max-width", type=int, default=60, help="cut table cells longer than this (0 = never)")
    p.add_argument(
        "--write",
        action="store_true",
        help="allow statements that change the lakehouse (INSERT, MERGE, DELETE, CREATE, …)",
    )
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.file:
        text = Path(args.file).read_text()
    elif args.query in (None, "-"):
        text = sys.stdin.read()
    else:
        text = args.query
    reason = write_reason(text)
    if reason and not args.write:
        raise JobError(
            f"refusing to run a statement that starts with or contains {reason}: "
            "lakeforge sql is read-only unless --write is given"
        )
    spark, _ = open_lakehouse(args, "lakeforge-sql", quick_jit=True)
    from pyspark.errors import PySparkException

    result = None
    try:
        for stmt in statements(text):
            result = spark.sql(stmt)
    except PySparkException as e:
        raise JobError(_first_line(e)) from None
    if result is None:
        return 0
    rows = result.limit(args.limit).collect() if args.limit else result.collect()
    columns = result.columns
    values = [tuple(r) for r in rows]
    if args.format == "json":
        print(format_json(columns, values))
    elif args.format == "csv":
        print(format_csv(columns, values))
    else:
        print(format_table(columns, values, args.max_width or None))
        if args.limit and len(rows) == args.limit:
            print(f"(showing the first {args.limit} rows; --limit 0 shows all)", file=sys.stderr)
    return 0


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


if __name__ == "__main__":
    sys.exit(run_main(main))
