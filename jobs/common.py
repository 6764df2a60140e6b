"""What every job shares: the lakehouse/Spark arguments, the session, and one-line failures."""

from __future__ import annotations

import argparse
import os
import sys

from curation.config import LakehouseConfig, SparkConfig


class JobError(Exception):
    """A failure the user can act on; printed as one line, exit status 2."""


def add_session_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("lakehouse and Spark")
    g.add_argument(
        "--lakehouse",
        default="lakehouse",
        metavar="DIR",
        help="lakehouse folder holding every table and the catalog (default: ./lakehouse)",
    )
    g.add_argument("--database", default="lakeforge", help="catalog database name (default: lakeforge)")
    g.add_argument(
        "--master", default=None, help="Spark master (default: local[*]; under spark-submit, the launcher's --master)"
    )
    g.add_argument("--ui", action="store_true", help="start the Spark web UI")
    g.add_argument("--driver-memory", default="4g", help="driver heap for local runs (default: 4g)")
    g.add_argument(
        "--jit",
        choices=("quick", "full"),
        default=None,
        help="driver JVM compiler: quick starts sooner (the default of sql, stats, tables, history, lineage and "
        "report), full runs long local work faster (the default of the jobs)",
    )
    g.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting, repeatable (e.g. --conf spark.executor.memory=8g)",
    )


def under_spark_submit() -> bool:
    """True when spark-submit launched us (it has started the JVM and owns --master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_config(args: argparse.Namespace, app_name: str, quick_jit: bool = False) -> SparkConfig:
    """``quick_jit``: the command's default for ``--jit`` (short queries: quick)."""
    conf = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("spark."):
            raise JobError(f"--conf {item!r}: expected spark.KEY=VALUE")
        conf[key] = value
    master = args.master or (None if under_spark_submit() else "local[*]")
    quick = quick_jit if args.jit is None else args.jit == "quick"
    return SparkConfig(
        master=master, app_name=app_name, ui=args.ui, driver_memory=args.driver_memory, conf=conf, quick_jit=quick
    )


def lakehouse_config(args: argparse.Namespace) -> LakehouseConfig:
    return LakehouseConfig(root=args.lakehouse, database=args.database)


def prepare_environment() -> None:
    """Defaults a local run needs before the JVM starts (never overriding the user's own)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if not under_spark_submit():
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def open_lakehouse(args: argparse.Namespace, app_name: str, quick_jit: bool = False):
    """(spark, lakehouse) for a job; SessionError becomes JobError. ``quick_jit``: the command's ``--jit`` default."""
    from curation.spark.session import SessionError, lakehouse_session

    prepare_environment()
    try:
        spark, lake = lakehouse_session(spark_config(args, app_name, quick_jit), lakehouse_config(args))
    except SessionError as e:
        raise JobError(str(e)) from None
    # Spark logs every failed query at ERROR on stderr; jobs report failures themselves, in one line.
    spark.sparkContext.setLogLevel("FATAL")
    return spark, lake


def start_run(args: argparse.Namespace, job: str, cfg, inputs: list[str] | None = None):
    """Open the lakehouse and describe the run: ``(spark, lake, run, spark_start_seconds)``. ``inputs`` default to
    the ``documents`` table (the jobs that read it)."""
    import time

    from curation.config import config_hash, to_dict
    from curation.provenance import RunInfo

    t0 = time.perf_counter()
    spark, lake = open_lakehouse(args, f"lakeforge-{job}")
    start_s = time.perf_counter() - t0
    run = RunInfo(job=job, config_hash=config_hash(cfg), config=to_dict(cfg), inputs=inputs or [lake.fq("documents")])
    return spark, lake, run, start_s


def print_report(args: argparse.Namespace, report, start_s: float, text: str) -> int:
    """The report as JSON (``--format json``) or ``text``; exit status 3 when its counts do not reconcile."""
    import json

    if args.format == "json":
        print(json.dumps(report.to_json() | {"spark_start_seconds": round(start_s, 3)}, default=str))
    else:
        print(text)
    return 0 if report.unreconciled() is None else 3


def run_main(fn, argv=None) -> int:
    """Run a job's main; user-facing errors print as one line."""
    try:
        return fn(argv) or 0
    except JobError as e:
        print(f"lakeforge: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # config and input validation in the library raise ValueError
        print(f"lakeforge: error: {e}", file=sys.stderr)
        return 2


def is_tty() -> bool:
    return sys.stderr.isatty()
