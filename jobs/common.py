"""What every job shares: the lakehouse/Spark arguments, the session, and one-line failures.

Errors (:func:`run_main` decides, for every subcommand): a user error (:class:`JobError`, a usage mistake, a
library ``ValueError``, a missing or unreadable file, a SQL/analysis error Spark classified) prints one line,
``lakeforge: error: …``, and exits 2. An unexpected exception is a bug: it prints Python's traceback (a long run
should not have to be repeated to report it) with the JVM's stack frames cut, then one line saying so, and exits 1.
``--debug`` (``lakeforge --debug SUBCOMMAND …`` or anywhere in a subcommand's options) prints the full traceback of
either, JVM frames included, and keeps Spark's own error logging.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import re
import sys
import time
import traceback
from pathlib import Path

from curation.config import LakehouseConfig, SparkConfig

DEBUG = contextvars.ContextVar("lakeforge_debug", default=False)  # set by run_main for the command it runs
# The WARC files next to a checkout (../shared/data/warc): ingest's and curate's input when none is given.
DEFAULT_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "warc"


class JobError(Exception):
    """A failure the user can act on; printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """The parser of every subcommand: a usage mistake is a one-line :class:`JobError` (not usage text and
    argparse's own exit), and ``--debug`` is listed (:func:`run_main` takes it out of the arguments)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="print the traceback of an error")

    def error(self, message: str):
        raise JobError(f"{message} ({self.prog} --help lists the options)")


def paths_arg(p, *flags: str, **kwargs) -> None:
    """A repeatable path option that also takes several values after one flag: ``--input a b`` = ``--input a
    --input b``."""
    p.add_argument(*flags, nargs="+", action="extend", default=[], **kwargs)


def input_paths(given: list[str]) -> list[str]:
    """``--input`` as given, else the shared WARC folder when there is one."""
    inputs = given or ([str(DEFAULT_SHARED)] if DEFAULT_SHARED.is_dir() else [])
    if not inputs:
        raise JobError("no --input given and no bundled default (../shared/data/warc) found")
    return inputs


def add_config_args(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--set`` and ``--format`` of the jobs that take the curate config (curate, extract, filter,
    classify)."""
    g = p.add_argument_group("settings")
    g.add_argument("--config", default=None, metavar="YAML", help="curate settings (see conf/curate.yaml)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set langid.keep_languages=[en,de] "
        "--set gopher_quality.min_doc_words=30)",
    )
    g.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")


def curate_config(args: argparse.Namespace):
    from curation.config import load_settings
    from curation.curate import CurateConfig

    return load_settings(CurateConfig, args.config, args.set)


def resolve_classifiers(lake, cfg, run):
    """``cfg`` with its classifiers resolved against ``models`` (version, file, threshold); the run records the
    resolved config, so its commits name the exact model versions."""
    from curation.config import config_hash, to_dict
    from curation.spark.classify import resolve_classifiers

    cfg = resolve_classifiers(lake, cfg)
    run.config_hash, run.config = config_hash(cfg), to_dict(cfg)
    return cfg


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
    if not DEBUG.get():
        # Spark logs every failed query at ERROR, and PySpark every analysis error as a JSON line (its query-context
        # loggers): jobs report failures themselves, in one line.
        spark.sparkContext.setLogLevel("FATAL")
        from pyspark.logger import PySparkLogger

        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
            PySparkLogger.getLogger(name).disabled = True
    return spark, lake


def start_run(args: argparse.Namespace, job: str, cfg, inputs: list[str] | None = None):
    """Open the lakehouse and describe the run: ``(spark, lake, run, spark_start_seconds)``. ``inputs`` default to
    the ``documents`` table (the jobs that read it)."""
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


def run_main(fn, argv: list[str] | None = None, debug: bool = False) -> int:
    """Run a subcommand's ``main(argv)`` and turn what it raises into an exit status: the one place that decides
    how errors print (see the module docstring). ``--debug`` is taken out of ``argv`` (before a ``--``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = debug or "--debug" in argv[:end]
    argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    token = DEBUG.set(debug)
    try:
        return fn(argv) or 0
    except KeyboardInterrupt:
        print("lakeforge: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every exception ends here: one line, or a bug report
        message = user_error(e)
        if debug:
            traceback.print_exc()
        elif message is None:
            print(_without_jvm_frames(traceback.format_exc()), end="", file=sys.stderr)
        if message is None:
            print(
                f"lakeforge: internal error (a bug: please report it with the traceback above"
                f"{'' if debug else '; --debug adds the JVM frames'}): {_summary(e)}",
                file=sys.stderr,
            )
            return 1
        print(f"lakeforge: error: {message}", file=sys.stderr)
        return 2
    finally:
        DEBUG.reset(token)


def user_error(e: Exception) -> str | None:
    """The one line for an error the user can act on; None for a bug."""
    if "pyspark" in sys.modules:
        from pyspark.errors import PythonException
        from pyspark.errors.exceptions.captured import CapturedException

        if isinstance(e, CapturedException) and not isinstance(e, PythonException) and e.getCondition():
            return _one_line(e.getMessage())  # e.g. [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column … SQLSTATE: 42703
    if isinstance(e, (JobError, ValueError)):  # the library validates config and input with ValueError
        if "pyspark" in sys.modules:
            from pyspark.errors import PySparkException

            if isinstance(e, PySparkException):  # PySparkValueError and the like: lakeforge misused PySpark
                return None
        return _one_line(str(e))
    if isinstance(e, OSError) and e.filename is not None:
        return _one_line(f"{e.strerror or e}: {e.filename}")
    if "yaml" in sys.modules:
        import yaml

        if isinstance(e, yaml.YAMLError):
            return _one_line(f"YAML: {e}")
    return None


def _summary(e: Exception) -> str:
    """``Type: message`` in one line of at most 300 characters (a Py4JJavaError's message holds a Java stack)."""
    text = _one_line(f"{type(e).__name__}: {_without_jvm_frames(str(e))}")
    return text if len(text) <= 300 else text[:299] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


_JVM_FRAME = re.compile(r"^\s+(at [\w$.<>/]+\(.*\)|\.\.\. \d+ more)$")


def _without_jvm_frames(text: str) -> str:
    """A Python traceback without the Java stack a Py4JJavaError carries in its message (hundreds of lines)."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not _JVM_FRAME.match(line.rstrip("\n"))]
    return "".join(kept)


def is_tty() -> bool:
    return sys.stderr.isatty()


def log(msg: str) -> None:
    """A progress line on stderr (stdout is the job's result)."""
    print(f"[lakeforge] {msg}", file=sys.stderr, flush=True)


def progress_printer():
    """``show(done, total, records)`` for the WARC readers: one updating line on a terminal, else a line each."""
    tty = is_tty()
    t0 = time.perf_counter()

    def show(done: int, total: int, records: int) -> None:
        el = time.perf_counter() - t0
        line = f"files {done}/{total} · records {records:,} · {records / el if el else 0:,.0f} records/s · {el:.0f}s"
        if tty:
            print(f"\r[lakeforge] {line}\033[K", end="" if done < total else "\n", file=sys.stderr, flush=True)
        else:
            log(line)

    return show
