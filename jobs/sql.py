"""``lakeforge sql``: SQL against the lakehouse catalog, read-only unless ``--write``.

Read-only: :func:`curation.sql.refusal` refuses, before Spark starts, every statement that is not a query, a
description or a plan, the functions that call Java methods (``reflect``, ``java_method``, ``try_reflect``) and
script transforms (``TRANSFORM … USING 'command'``); the session also loses those functions, so a name the guard
cannot see (``IDENTIFIER('reflect')``) does not resolve. Queries of files by path (``delta.`/path```) only read and
are allowed. ``--write`` runs any statement Spark accepts.

Time travel: ``SELECT … FROM pages VERSION AS OF 3`` / ``TIMESTAMP AS OF '2026-11-22 10:00'``;
history: ``DESCRIBE HISTORY pages``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curation.sql import REFUSED_FUNCTIONS, format_csv, format_json, format_table, refusal, statements
from jobs.common import JobError, Parser, add_session_args, open_lakehouse


def parser() -> argparse.ArgumentParser:
    p = Parser(
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
    reason = None if args.write else refusal(text)
    if reason:
        raise JobError(f"refusing {reason}: lakeforge sql only reads unless --write is given")
    spark, _ = open_lakehouse(args, "lakeforge-sql", quick_jit=True)
    if not args.write:
        drop_functions(spark, REFUSED_FUNCTIONS)
    result = None
    for stmt in statements(text):
        result = spark.sql(stmt)  # a Spark error is one line: jobs.common.run_main
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


def drop_functions(spark, names) -> None:
    """Remove built-in functions from this session's function registry (its own copy of Spark's: other sessions
    keep them)."""
    registry = spark._jsparkSession.sessionState().functionRegistry()
    functions = registry.listFunction().iterator()
    while functions.hasNext():
        f = functions.next()
        if f.funcName() in names:
            registry.dropFunction(f)
